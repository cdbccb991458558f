// The parity list: how to call every op of native/ops.table, for test/parity.test.ts, which runs each call
// in torchkd and in Python PyTorch on the same inputs and compares the results. One line per op (more for
// interesting overloads and broadcasting); an op of the table without a line here fails the suite.
//
// Inputs: T(...shape) standard normal in the case's dtype; P(...shape) positive (|normal| + 0.5);
// U(...shape) uniform in (-0.9, 0.9); S(...shape) ±1; PR(...shape) in (0.05, 0.95); I(low, high, ...shape) int64 in [low, high); D(high, rows, k)
// distinct int64 per row; B(...shape) bool;
// X() NaN, ±∞, ±0 and ordinary values. Anything else is passed as is. kwargs become a trailing options object in JS and keyword arguments in Python.
import type { DType } from '../dist/index.js';

export type Input =
  | { kind: 'normal' | 'positive' | 'uniform' | 'bool' | 'special' | 'complex' | 'spd' | 'sign' | 'prob'; shape: number[] }
  | { kind: 'int' | 'distinct'; shape: number[]; low: number; high: number };
export type Arg = Input | number | boolean | string | null | number[] | Input[];
export interface Case {
  op: string;
  /**
   * method (default when the op has one): args[0].op(...rest); function: torch.op(...); nn: F.op(...);
   * linalg / fft: torch.linalg.x(...) / torch.fft.x(...) for op linalgX / fftX.
   */
  form?: 'method' | 'function' | 'nn' | 'linalg' | 'fft';
  args: Arg[];
  kwargs?: Record<string, Arg>;
  /** dtypes of the T/P/U inputs; default float32 and float64. */
  dtypes?: DType[];
  /** Both PyTorch and torchkd must raise. */
  throws?: boolean;
  /** Outputs the finite-difference gradcheck looks at, when the others are defined only up to a sign
   *  (eigenvectors, singular vectors); gradients of Σ out² are still compared over all of them. */
  gradcheckOutputs?: number[];
  /** false where finite differences do not apply (the comment at the case says why). */
  gradcheck?: false;
  /** A Python expression over `a` (the arguments) computing the reference, for functions the reference
   *  PyTorch build lacks; it is written from the paper's or the documentation's formula. */
  pyExpr?: string;
}

/**
 * F.scaled_dot_product_attention where this PyTorch has it (2.1+: the fused kernels torchkd calls too);
 * before, its math: softmax(Q·Kᵀ·scale + mask)·V, a boolean mask keeps the True positions, causal j ≤ i.
 */
const SDPA = `(lambda q, k, v, m=None, causal=False, scale=None: torch.nn.functional.scaled_dot_product_attention(
  q, k, v, m, is_causal=causal, scale=scale) if hasattr(torch.nn.functional, 'scaled_dot_product_attention') else torch.softmax(
  (lambda s: s.masked_fill(~torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril(), float('-inf')) if causal
   else s if m is None else s.masked_fill(~m, float('-inf')) if m.dtype == torch.bool else s + m)(
   q @ k.transpose(-2, -1) * (scale if scale is not None else 1 / math.sqrt(q.size(-1)))), -1) @ v)`;

const T = (...shape: number[]): Input => ({ kind: 'normal', shape });
const P = (...shape: number[]): Input => ({ kind: 'positive', shape });
const U = (...shape: number[]): Input => ({ kind: 'uniform', shape });
const B = (...shape: number[]): Input => ({ kind: 'bool', shape });
/** ±1 in the case's dtype (the targets of the embedding and ranking losses). */
const S = (...shape: number[]): Input => ({ kind: 'sign', shape });
/** Probabilities uniform in (0.05, 0.95). */
const PR = (...shape: number[]): Input => ({ kind: 'prob', shape });
/** Complex normal (complex64 for float32 cases, complex128 for float64). */
const C = (...shape: number[]): Input => ({ kind: 'complex', shape });
/** A symmetric positive-definite matrix A·Aᵀ + n·I. */
const SPD = (n: number): Input => ({ kind: 'spd', shape: [n, n] });
/** NaN, ±∞, ±0 and ordinary values. */
const X = (): Input => ({ kind: 'special', shape: [7] });
const I = (low: number, high: number, ...shape: number[]): Input => ({ kind: 'int', shape, low, high });
/** int64 [rows, k]: each row k distinct values from [0, high) (scatter indices without collisions). */
const D = (high: number, rows: number, k: number): Input => ({ kind: 'distinct', shape: [rows, k], low: 0, high });
const INT: DType[] = ['int64'];
const F = (op: string, args: Arg[], kwargs?: Record<string, Arg>): Case => ({ op, form: 'function', args, kwargs });
const NN = (op: string, args: Arg[], kwargs?: Record<string, Arg>): Case => ({ op, form: 'nn', args, kwargs });
const LA = (op: string, args: Arg[], kwargs?: Record<string, Arg>): Case => ({ op, form: 'linalg', args, kwargs });
const FFT = (op: string, args: Arg[], kwargs?: Record<string, Arg>): Case => ({ op, form: 'fft', args, kwargs });

export const CASES: Case[] = [
  // arithmetic
  { op: 'add', args: [T(3, 4), T(3, 4)] },
  { op: 'add', args: [T(2, 1, 4), T(3, 1)], kwargs: { alpha: 2.5 } },
  { op: 'add', args: [T(3), 2] },
  { op: 'add', args: [I(-5, 5, 4), 3], dtypes: INT },
  { op: 'add', args: [T(3), T(4)], throws: true },
  F('add', [T(2, 3), T(3)], { alpha: -1 }),
  { op: 'add_', args: [T(3, 4), T(4)], kwargs: { alpha: 0.5 } },
  { op: 'add_', args: [T(3, 4), 1.5] },
  { op: 'sub', args: [T(3, 4), T(1, 4)], kwargs: { alpha: 3 } },
  { op: 'sub', args: [T(5), 0.25] },
  { op: 'sub_', args: [T(5), T(5)] },
  { op: 'mul', args: [T(3, 4), T(4)] },
  { op: 'mul', args: [T(3), -2] },
  { op: 'mul_', args: [T(2, 3), T(2, 3)] },
  { op: 'div', args: [T(3, 4), P(4)] },
  { op: 'div', args: [I(-20, 20, 6), I(1, 5, 6)], kwargs: { roundingMode: 'floor' }, dtypes: INT },
  { op: 'div', args: [I(-20, 20, 6), I(1, 5, 6)], kwargs: { roundingMode: 'trunc' }, dtypes: INT },
  { op: 'div', args: [I(-20, 20, 6), I(1, 5, 6)], dtypes: INT },
  { op: 'div', args: [T(3), 4] },
  { op: 'div', args: [T(3), T(3)], kwargs: { roundingMode: 'ceil' }, throws: true },
  { op: 'div_', args: [T(3, 2), P(2)] },
  { op: 'neg', args: [T(3, 4)] },
  { op: 'abs', args: [T(3, 4)] },
  { op: 'sign', args: [T(7)] },
  { op: 'pow', args: [P(3, 4), T(3, 4)] },
  { op: 'pow', args: [T(5), 3] },
  { op: 'pow', args: [P(5), 0.5] },
  { op: 'sqrt', args: [P(3, 4)] },
  { op: 'rsqrt', args: [P(3, 4)] },
  { op: 'square', args: [T(3, 4)] },
  { op: 'reciprocal', args: [P(3, 4)] },
  { op: 'exp', args: [T(3, 4)] },
  { op: 'expm1', args: [T(3, 4)] },
  { op: 'log', args: [P(3, 4)] },
  { op: 'log1p', args: [P(3, 4)] },
  { op: 'log2', args: [P(3, 4)] },
  { op: 'sin', args: [T(3, 4)] },
  { op: 'cos', args: [T(3, 4)] },
  { op: 'tan', args: [U(3, 4)] },
  { op: 'tanh', args: [T(3, 4)] },
  { op: 'sigmoid', args: [T(3, 4)] },
  { op: 'erf', args: [T(3, 4)] },
  { op: 'floor', args: [T(3, 4)] },
  { op: 'ceil', args: [T(3, 4)] },
  { op: 'round', args: [T(3, 4)] },
  { op: 'trunc', args: [T(3, 4)] },
  { op: 'clamp', args: [T(3, 4)], kwargs: { min: -0.5, max: 0.5 } },
  { op: 'clamp', args: [T(3, 4), -0.2] },
  { op: 'clamp', args: [T(3, 4), T(3, 4), T(4)] },
  { op: 'clamp', args: [T(3, 4)], throws: true },
  { op: 'clamp_', args: [T(3, 4)], kwargs: { max: 0 } },
  { op: 'minimum', args: [T(3, 4), T(4)] },
  { op: 'maximum', args: [T(3, 4), T(3, 1)] },
  F('where', [B(3, 4), T(3, 4), T(4)]),
  { op: 'lerp', args: [T(3, 4), T(3, 4), 0.3] },
  { op: 'lerp', args: [T(3, 4), T(3, 4), U(3, 4)] },
  { op: 'remainder', args: [T(6), P(6)] },
  { op: 'remainder', args: [I(-9, 9, 6), 4], dtypes: INT },
  { op: 'fmod', args: [T(6), P(6)] },
  { op: 'fmod', args: [I(-9, 9, 6), 4], dtypes: INT },
  { op: 'zero_', args: [T(3, 4)] },
  { op: 'fill_', args: [T(3, 4), 2.5] },
  { op: 'copy_', args: [T(3, 4), T(4)] },
  { op: 'copy_', args: [T(3, 4), I(0, 9, 3, 4)] },
  { op: 'neg_', args: [T(3, 4)] },
  { op: 'abs_', args: [T(3, 4)] },
  { op: 'exp_', args: [T(3, 4)] },
  { op: 'log_', args: [P(3, 4)] },
  { op: 'sqrt_', args: [P(3, 4)] },
  { op: 'sigmoid_', args: [T(3, 4)] },
  { op: 'tanh_', args: [T(3, 4)] },
  { op: 'relu_', args: [T(3, 4)] },
  { op: 'pow_', args: [P(3, 4), 1.5] },
  { op: 'maskedFill_', args: [T(3, 4), B(4), 9] },
  { op: 'uniform_', args: [T(50)], kwargs: { from: -2, to: 3 } },
  { op: 'normal_', args: [T(50), 1, 0.5] },
  { op: 'bernoulli_', args: [T(50), 0.3] },
  { op: 'random_', args: [T(50)] },
  { op: 'random_', args: [I(0, 1, 50), 7], dtypes: INT },
  { op: 'random_', args: [I(0, 1, 50), -3, 4], dtypes: INT },
  { op: 'multinomial', args: [P(3, 6), 4] },
  { op: 'multinomial', args: [P(3, 6), 10], kwargs: { replacement: true } },
  F('multinomial', [P(6), 3]),

  // comparison
  { op: 'eq', args: [I(0, 3, 3, 4), I(0, 3, 4)], dtypes: INT },
  { op: 'eq', args: [I(0, 3, 5), 1], dtypes: INT },
  { op: 'ne', args: [I(0, 3, 3, 4), I(0, 3, 3, 4)], dtypes: INT },
  { op: 'ne', args: [T(5), 0] },
  { op: 'lt', args: [T(3, 4), T(4)] },
  { op: 'lt', args: [T(5), 0.1] },
  { op: 'le', args: [T(3, 4), T(3, 4)] },
  { op: 'le', args: [T(5), 0] },
  { op: 'gt', args: [T(3, 4), T(1, 4)] },
  { op: 'gt', args: [T(5), -0.3] },
  { op: 'ge', args: [T(3, 4), T(3, 4)] },
  { op: 'ge', args: [T(5), 0] },
  { op: 'isnan', args: [X()] },
  { op: 'isinf', args: [X()] },
  { op: 'isfinite', args: [X()] },
  { op: 'sign', args: [X()] },
  { op: 'clamp', args: [X(), -1, 1] },
  { op: 'logicalAnd', args: [B(3, 4), B(4)] },
  { op: 'logicalOr', args: [B(3, 4), B(3, 4)] },
  { op: 'logicalNot', args: [B(3, 4)] },
  { op: 'allclose', args: [T(3, 4), T(3, 4)] },
  { op: 'allclose', args: [P(3), P(3)], kwargs: { rtol: 10, atol: 10 } },
  { op: 'equal', args: [I(0, 2, 3), I(0, 2, 3)], dtypes: INT },

  // reductions
  { op: 'sum', args: [T(3, 4)] },
  { op: 'sum', args: [T(3, 4, 5), [0, 2]], kwargs: { keepdim: true } },
  { op: 'sum', args: [T(3, 4), -1] },
  { op: 'sum', args: [I(0, 9, 3, 4)], kwargs: { dtype: 'float64' }, dtypes: INT },
  { op: 'sum', args: [T(3, 4), 2], throws: true },
  { op: 'mean', args: [T(3, 4)] },
  { op: 'mean', args: [T(3, 4, 5), 1], kwargs: { keepdim: true } },
  { op: 'mean', args: [I(0, 9, 3)], dtypes: INT, throws: true },
  { op: 'prod', args: [U(3, 4)] },
  { op: 'prod', args: [U(3, 4), 1] },
  { op: 'max', args: [T(3, 4)] },
  { op: 'max', args: [T(3, 4), 1] },
  { op: 'max', args: [T(3, 4), 0], kwargs: { keepdim: true } },
  { op: 'min', args: [T(3, 4)] },
  { op: 'min', args: [T(3, 4), -1] },
  { op: 'amax', args: [T(3, 4, 5), [0, 2]] },
  { op: 'amin', args: [T(3, 4), 1], kwargs: { keepdim: true } },
  { op: 'argmax', args: [T(3, 4)] },
  { op: 'argmax', args: [T(3, 4), 1] },
  { op: 'argmin', args: [T(3, 4)], kwargs: { dim: 0, keepdim: true } },
  { op: 'std', args: [T(3, 4)] },
  { op: 'std', args: [T(3, 4), 1], kwargs: { correction: 0 } },
  { op: 'var', args: [T(3, 4)] },
  { op: 'var', args: [T(3, 4, 2), [0, 1]], kwargs: { correction: 2, keepdim: true } },
  { op: 'norm', args: [T(3, 4)] },
  { op: 'norm', args: [T(3, 4), 1] },
  { op: 'norm', args: [T(3, 4), 3, 1] },
  { op: 'logsumexp', args: [T(3, 4), 1] },
  { op: 'cumsum', args: [T(3, 4), 1] },
  { op: 'cumprod', args: [U(3, 4), 0] },
  { op: 'all', args: [B(3, 4)] },
  { op: 'all', args: [B(3, 4), 1] },
  { op: 'any', args: [B(3, 4)] },
  { op: 'any', args: [B(3, 4), 0] },
  { op: 'topk', args: [T(3, 6), 2] },
  { op: 'topk', args: [T(3, 6), 3], kwargs: { dim: 0, largest: false } },
  { op: 'sort', args: [T(3, 6)] },
  { op: 'sort', args: [T(3, 6), 0], kwargs: { descending: true } },
  { op: 'argsort', args: [T(3, 6)], kwargs: { descending: true } },

  // shapes
  { op: 'view', args: [T(3, 4), [2, 6]] },
  { op: 'view', args: [T(3, 4), [-1]] },
  { op: 'view', args: [T(3, 4), [5, 2]], throws: true },
  { op: 'reshape', args: [T(3, 4), [4, -1]] },
  { op: 'flatten', args: [T(2, 3, 4)] },
  { op: 'flatten', args: [T(2, 3, 4, 5), 1, 2] },
  { op: 'unflatten', args: [T(2, 12), 1, [3, 4]] },
  { op: 'permute', args: [T(2, 3, 4), [2, 0, 1]] },
  { op: 'transpose', args: [T(2, 3, 4), 0, 2] },
  { op: 't', args: [T(2, 3)] },
  { op: 'squeeze', args: [T(2, 1, 3, 1)] },
  { op: 'squeeze', args: [T(2, 1, 3, 1), 1] },
  { op: 'unsqueeze', args: [T(2, 3), -1] },
  { op: 'expand', args: [T(3, 1), [3, 4]] },
  { op: 'expand', args: [T(3, 1), [-1, 2]] },
  { op: 'expandAs', args: [T(1, 4), T(3, 4)] },
  { op: 'repeat', args: [T(2, 3), [2, 1, 2]] },
  { op: 'contiguous', args: [T(2, 3)] },
  F('cat', [[T(2, 3), T(1, 3)]]),
  F('cat', [[T(2, 3), T(2, 2)], 1]),
  F('cat', [[T(2, 3), T(2, 2)]], { dim: 1 }),
  { ...F('cat', [[T(2, 3), T(2, 2)]], { dim: 0 }), throws: true },
  F('stack', [[T(2, 3), T(2, 3)], 1]),
  { op: 'split', args: [T(5, 2), 2] },
  { op: 'split', args: [T(5, 2), [1, 4]] },
  { op: 'splitWithSizes', args: [T(2, 5), [2, 3], 1] },
  { op: 'chunk', args: [T(5, 2), 3] },
  { op: 'narrow', args: [T(5, 4), 1, 1, 2] },
  { op: 'select', args: [T(5, 4), 0, -1] },
  { op: 'indexSelect', args: [T(5, 4), 0, I(0, 5, 3)] },
  { op: 'gather', args: [T(3, 4), 1, I(0, 4, 3, 2)] },
  { op: 'scatter', args: [T(3, 4), 1, D(4, 3, 2), T(3, 2)] },
  { op: 'scatter', args: [T(3, 4), 1, I(0, 4, 3, 2), 7] },
  { op: 'scatterAdd', args: [T(3, 4), 1, I(0, 4, 3, 5), T(3, 5)] },
  { op: 'maskedFill', args: [T(3, 4), B(3, 4), -1] },
  { op: 'maskedFill', args: [T(3, 4), B(4), T()] },
  { op: 'maskedSelect', args: [T(3, 4), B(3, 4)] },
  { op: 'nonzero', args: [B(3, 4)] },
  { op: 'flip', args: [T(3, 4), [0, 1]] },
  { op: 'roll', args: [T(3, 4), 1] },
  { op: 'roll', args: [T(3, 4), [1, -2], [0, 1]] },
  { op: 'tril', args: [T(4, 4)] },
  { op: 'triu', args: [T(4, 4), 1] },
  { op: 'diag', args: [T(4, 4)] },
  { op: 'diag', args: [T(3), -1] },
  { op: 'clone', args: [T(3, 4)] },
  { op: 'detach', args: [T(3, 4)] },
  { op: 'detach_', args: [T(3, 4)] },

  // linear algebra
  { op: 'matmul', args: [T(3, 4), T(4, 5)] },
  { op: 'matmul', args: [T(2, 3, 4), T(4)] },
  { op: 'matmul', args: [T(2, 1, 3, 4), T(5, 4, 2)] },
  { op: 'matmul', args: [T(3, 4), T(3, 4)], throws: true },
  { op: 'mm', args: [T(3, 4), T(4, 2)] },
  { op: 'bmm', args: [T(2, 3, 4), T(2, 4, 5)] },
  { op: 'addmm', args: [T(3, 5), T(3, 4), T(4, 5)], kwargs: { beta: 0.5, alpha: 2 } },
  { op: 'baddbmm', args: [T(2, 3, 5), T(2, 3, 4), T(2, 4, 5)] },
  { op: 'outer', args: [T(3), T(4)] },
  { op: 'dot', args: [T(5), T(5)] },
  F('einsum', ['ij,jk->ik', [T(2, 3), T(3, 4)]]),
  F('einsum', ['bij->bji', [T(2, 3, 4)]]),
  F('einsum', ['bi,bi->b', T(3, 4), T(3, 4)]),

  // activations
  { op: 'relu', args: [T(3, 4)] },
  { op: 'relu', form: 'nn', args: [T(3, 4)] },
  { op: 'softmax', args: [T(3, 4), 1] },
  { op: 'softmax', form: 'nn', args: [T(3, 4), 0] },
  { op: 'softmax', args: [T(3, 4), -1], kwargs: { dtype: 'float64' } },
  { op: 'logSoftmax', args: [T(3, 4), 1] },
  { op: 'logSoftmax', form: 'nn', args: [T(2, 3, 4)], kwargs: { dim: 2 } },
  NN('gelu', [T(3, 4)]),
  NN('gelu', [T(3, 4)], { approximate: 'tanh' }),
  NN('silu', [T(3, 4)]),
  // inplace: the input is overwritten and returned; PyTorch refuses in-place ops on a leaf that requires grad
  // (gradcheck's inputs), so finite differences do not apply.
  { ...NN('silu', [T(3, 4)], { inplace: true }), gradcheck: false },
  NN('leakyRelu', [T(3, 4), 0.2]),
  { ...NN('leakyRelu', [T(3, 4), 0.2, true]), gradcheck: false },
  NN('elu', [T(3, 4)], { alpha: 0.5 }),
  { ...NN('elu', [T(3, 4)], { alpha: 0.5, inplace: true }), gradcheck: false },
  NN('softplus', [T(3, 4)], { beta: 2, threshold: 1 }),
  NN('dropout', [T(8, 8), 0.3]),
  NN('dropout', [T(8, 8)], { p: 0.5, training: false }),
  { ...NN('dropout', [T(8, 8), 0.3], { inplace: true }), gradcheck: false },

  // nn.functional
  NN('linear', [T(3, 4), T(5, 4), T(5)]),
  NN('linear', [T(2, 3, 4), T(5, 4)]),
  NN('layerNorm', [T(2, 3, 4), [4], T(4), T(4)]),
  NN('layerNorm', [T(2, 3, 4), [3, 4]], { eps: 1e-3 }),
  NN('batchNorm', [T(4, 3, 5), P(3), P(3)], { training: false }),
  NN('batchNorm', [T(4, 3, 5), null, null, T(3), T(3)], { training: true }),
  NN('groupNorm', [T(2, 6, 5), 3, T(6), T(6)]),
  NN('embedding', [I(0, 10, 2, 3), T(10, 4)]),
  NN('embedding', [I(0, 10, 5), T(10, 4)], { paddingIdx: -1 }),
  NN('embeddingBag', [I(0, 10, 3, 4), T(10, 5)]),
  NN('embeddingBag', [I(0, 10, 6), T(10, 5), I(0, 1, 3)], { mode: 'sum' }),
  NN('embeddingBag', [I(0, 4, 3, 5), T(4, 2)], { mode: 'max', paddingIdx: -1 }),
  { ...NN('embeddingBag', [I(0, 10, 6), T(10, 5), I(0, 1, 3)], { mode: 'product' }), throws: true },
  NN('oneHot', [I(0, 5, 6)]),
  NN('oneHot', [I(0, 3, 2, 2), 4]),
  NN('conv1d', [T(2, 3, 9), T(4, 3, 3), T(4)], { stride: 2, padding: 1 }),
  NN('conv1d', [T(2, 3, 9), T(4, 3, 3)], { padding: 'same', dilation: 2 }),
  NN('conv2d', [T(2, 3, 7, 7), T(4, 3, 3, 3), T(4)], { stride: [2, 1], padding: 1 }),
  NN('conv2d', [T(2, 4, 6, 6), T(4, 2, 3, 3)], { groups: 2, padding: 'valid' }),
  F('conv2d', [T(1, 3, 5, 5), T(2, 3, 3, 3)]),
  NN('convTranspose2d', [T(2, 3, 4, 4), T(3, 2, 3, 3), T(2)], { stride: 2, padding: 1, outputPadding: 1 }),
  NN('maxPool1d', [T(2, 3, 9), 2]),
  NN('maxPool1d', [T(2, 3, 9), 3], { stride: 2, padding: 1, dilation: 1, ceilMode: true }),
  F('maxPool1d', [T(3, 10), 4]),
  NN('maxPool3d', [T(1, 2, 4, 6, 6), 2]),
  NN('maxPool3d', [T(1, 2, 5, 5, 5), [2, 3, 2]], { stride: 1, padding: 1 }),
  NN('maxPool1dWithIndices', [T(2, 3, 9), 3], { stride: 2 }),
  NN('maxPool2dWithIndices', [T(2, 3, 8, 8), 2]),
  NN('avgPool1d', [T(2, 3, 9), 3]),
  NN('avgPool1d', [T(2, 3, 9), 3], { stride: 2, padding: 1, countIncludePad: false, ceilMode: true }),
  F('avgPool1d', [T(2, 3, 8), 2]),
  NN('avgPool3d', [T(1, 2, 4, 6, 6), 2]),
  NN('avgPool3d', [T(1, 2, 5, 5, 5), 3], { stride: 2, padding: 1, divisorOverride: 4 }),
  NN('adaptiveAvgPool3d', [T(1, 2, 5, 6, 7), [2, 3, 1]]),
  NN('adaptiveMaxPool1d', [T(2, 3, 10), 4]),
  NN('adaptiveMaxPool2d', [T(2, 3, 10, 7), [3, 2]]),
  NN('adaptiveMaxPool1dWithIndices', [T(2, 3, 10), 3]),
  NN('adaptiveMaxPool2dWithIndices', [T(2, 3, 9, 7), 2]),
  NN('lpPool1d', [P(2, 3, 9), 2, 3]),
  NN('lpPool1d', [P(2, 3, 9), 3, 2], { stride: 1, ceilMode: true }),
  NN('lpPool2d', [P(2, 3, 8, 8), 2, 2]),
  NN('lpPool2d', [P(2, 3, 7, 7), 1.5, [3, 2]], { stride: [2, 1] }),
  NN('maxPool2d', [T(2, 3, 8, 8), 2]),
  NN('maxPool2d', [T(2, 3, 8, 8), 3], { stride: 2, padding: 1, ceilMode: true }),
  NN('avgPool2d', [T(2, 3, 8, 8), [2, 4]]),
  NN('avgPool2d', [T(2, 3, 7, 7), 3], { stride: 2, padding: 1, countIncludePad: false }),
  NN('adaptiveAvgPool1d', [T(2, 3, 10), 4]),
  NN('adaptiveAvgPool2d', [T(2, 3, 10, 7), [3, 2]]),
  NN('adaptiveAvgPool2d', [T(2, 3, 10, 7), 1]),
  NN('interpolate', [T(1, 2, 4, 4)], { scaleFactor: 2 }),
  NN('interpolate', [T(1, 2, 4, 4)], { size: [6, 3], mode: 'bilinear', alignCorners: false }),
  NN('interpolate', [T(1, 2, 4, 4)], { size: 7, mode: 'bicubic', alignCorners: true }),
  NN('interpolate', [T(1, 2, 5)], { scaleFactor: 1.5, mode: 'linear' }),
  { ...NN('interpolate', [T(1, 2, 5)], { size: 3, mode: 'bilinear' }), throws: true },
  NN('pad', [T(2, 3, 4), [1, 2]]),
  NN('pad', [T(1, 2, 4, 4), [1, 1, 2, 0]], { mode: 'reflect' }),
  NN('pad', [T(2, 3), [2, 2]], { value: -1 }),
  NN('crossEntropy', [T(4, 5), I(0, 5, 4)]),
  NN('crossEntropy', [T(4, 5), I(0, 5, 4)], { labelSmoothing: 0.1, reduction: 'sum' }),
  NN('crossEntropy', [T(4, 5), I(0, 5, 4), P(5)], { ignoreIndex: 2 }),
  NN('crossEntropy', [T(4, 5, 3), I(0, 5, 4, 3)], { reduction: 'none' }),
  NN('crossEntropy', [T(4, 5), P(4, 5)]),
  { ...NN('crossEntropy', [T(4, 5), I(0, 5, 4)], { reduction: 'avg' }), throws: true },
  NN('nllLoss', [T(4, 5), I(0, 5, 4)]),
  NN('nllLoss', [T(4, 5), I(0, 5, 4)], { reduction: 'none', ignoreIndex: 1 }),
  NN('klDiv', [T(4, 5), P(4, 5)], { reduction: 'batchmean' }),
  NN('klDiv', [T(4, 5), T(4, 5)], { reduction: 'sum', logTarget: true }),
  NN('klDiv', [T(4, 5), P(4, 5)], { reduction: 'none' }),
  NN('klDiv', [T(4, 5), P(4, 5)]),
  NN('mseLoss', [T(3, 4), T(3, 4)]),
  NN('mseLoss', [T(3, 4), T(3, 4)], { reduction: 'sum' }),
  NN('l1Loss', [T(3, 4), T(3, 4)], { reduction: 'none' }),
  NN('smoothL1Loss', [T(3, 4), T(3, 4)], { beta: 0.5 }),
  NN('binaryCrossEntropyWithLogits', [T(3, 4), U(3, 4)]),
  NN('binaryCrossEntropyWithLogits', [T(3, 4), U(3, 4), P(4)], { posWeight: P(4), reduction: 'sum' }),
  NN('cosineSimilarity', [T(3, 4), T(3, 4)]),
  NN('cosineSimilarity', [T(3, 4), T(4)], { dim: 0 }),
  NN('cosineEmbeddingLoss', [T(5, 4), T(5, 4), S(5)]),
  NN('cosineEmbeddingLoss', [T(5, 4), T(5, 4), S(5), 0.2], { reduction: 'sum' }),
  NN('cosineEmbeddingLoss', [T(5, 4), T(5, 4), S(5)], { margin: -0.1, reduction: 'none' }),
  NN('huberLoss', [T(3, 4), T(3, 4)]),
  NN('huberLoss', [T(3, 4), T(3, 4)], { delta: 0.5, reduction: 'none' }),
  NN('binaryCrossEntropy', [PR(3, 4), PR(3, 4)]),
  NN('binaryCrossEntropy', [PR(3, 4), PR(3, 4), P(4)], { reduction: 'sum' }),
  NN('marginRankingLoss', [T(6), T(6), S(6)], { margin: 0.1 }),
  NN('normalize', [T(3, 4)]),
  NN('normalize', [T(3, 4)], { p: 1, dim: 0 }),
  // libtorch 1.13 has no fused attention: the reference is the formula softmax(Q·Kᵀ/√d + mask)·V.
  { ...NN('scaledDotProductAttention', [T(2, 3, 4, 8), T(2, 3, 5, 8), T(2, 3, 5, 8)]), pyExpr: `${SDPA}(a[0], a[1], a[2])` },
  { ...NN('scaledDotProductAttention', [T(2, 4, 8), T(2, 4, 8), T(2, 4, 8)], { isCausal: true }), pyExpr: `${SDPA}(a[0], a[1], a[2], causal=True)` },
  { ...NN('scaledDotProductAttention', [T(2, 4, 8), T(2, 5, 8), T(2, 5, 8), T(4, 5)]), pyExpr: `${SDPA}(a[0], a[1], a[2], a[3])` },
  { ...NN('scaledDotProductAttention', [T(2, 4, 8), T(2, 5, 8), T(2, 5, 8), B(4, 5)], { scale: 0.3 }), pyExpr: `${SDPA}(a[0], a[1], a[2], a[3], scale=0.3)` },

  // torch.linalg
  LA('linalgNorm', [T(3, 4)]),
  LA('linalgNorm', [T(3, 4), 1], { dim: 1 }),
  LA('linalgNorm', [T(3, 4), 'nuc']),
  LA('linalgVectorNorm', [T(3, 4)], { ord: 3 }),
  LA('linalgVectorNorm', [T(3, 4), 1, [0, 1], true]),
  LA('linalgMatrixNorm', [T(3, 4)]),
  LA('linalgMatrixNorm', [T(2, 3, 3), 1]),
  LA('linalgMatrixNorm', [T(3, 3), 'nuc']),
  { ...LA('linalgSvd', [T(4, 3)]), gradcheckOutputs: [1] },
  { ...LA('linalgSvd', [T(3, 5)], { fullMatrices: false }), gradcheckOutputs: [1] },
  LA('linalgQr', [SPD(3)]),
  // eigh reads one triangle of A: finite differences of single entries leave the symmetric matrices its
  // gradient is defined on, so only the gradient comparison with PyTorch applies.
  { ...LA('linalgEigh', [SPD(4)]), gradcheck: false },
  LA('linalgSolve', [SPD(3), T(3, 2)]),
  LA('linalgSolve', [SPD(3), T(2, 3)], { left: false }),
  LA('linalgInv', [SPD(3)]),
  LA('linalgDet', [SPD(3)]),

  // torch.fft
  FFT('fftFft', [T(8)]),
  FFT('fftFft', [C(3, 8), 6], { norm: 'ortho' }),
  FFT('fftIfft', [C(8)], { norm: 'forward' }),
  FFT('fftRfft', [T(4, 10)]),
  FFT('fftRfft', [T(10, 4)], { dim: 0, n: 12 }),
  FFT('fftIrfft', [C(6)]),
  FFT('fftIrfft', [C(2, 6)], { n: 11, norm: 'ortho' }),
  FFT('fftHfft', [C(5)]),
  FFT('fftIhfft', [T(8)]),
  FFT('fftFft2', [T(4, 6)]),
  FFT('fftIfft2', [C(2, 4, 6)], { norm: 'ortho' }),
  FFT('fftRfft2', [T(2, 4, 6)]),
  FFT('fftIrfft2', [C(4, 4)], { s: [4, 6] }),
  FFT('fftFftn', [T(2, 3, 4)]),
  FFT('fftIfftn', [C(2, 3, 4)], { dim: [0, 2] }),
  FFT('fftRfftn', [T(2, 3, 4)]),
  FFT('fftIrfftn', [C(2, 3, 3)]),
  FFT('fftFftfreq', [8]),
  FFT('fftFftfreq', [5, 0.1], { dtype: 'float64' }),
  FFT('fftRfftfreq', [9, 2]),
  FFT('fftFftshift', [T(7)]),
  FFT('fftFftshift', [T(4, 5)], { dim: 1 }),
  FFT('fftIfftshift', [T(4, 5)]),
  { ...FFT('fftFft', [T(8)], { norm: 'sideways' }), throws: true },

  // complex numbers
  F('real', [C(3, 4)]),
  F('real', [T(3)]),
  F('imag', [C(3, 4)]),
  { op: 'angle', args: [C(3, 4)] },
  { op: 'angle', args: [T(5)] },
  { op: 'abs', args: [C(3, 4)] },
  { op: 'conj', args: [C(3, 4)] },
  { op: 'mul', args: [C(3), C(3)] },
  F('viewAsReal', [C(3, 4)]),
  F('viewAsComplex', [T(3, 2)]),
  F('complex', [T(3), T(3)]),
  F('polar', [P(3), T(3)]),
  { op: 'stft', args: [T(64), 16], kwargs: { returnComplex: true } },
  { op: 'stft', args: [T(2, 64), 16], kwargs: { hopLength: 4, window: P(16), center: false, returnComplex: true } },
  { op: 'istft', args: [C(9, 17), 16], kwargs: { hopLength: 4, window: P(16) } },
];
