// The parity list: how to call every op of native/ops.table, for test/parity.test.ts, which runs each call
// in torchkd and in Python PyTorch on the same inputs and compares the results. One line per op (more for
// interesting overloads and broadcasting); an op of the table without a line here fails the suite.
//
// Inputs: T(...shape) standard normal in the case's dtype; P(...shape) positive (|normal| + 0.5);
// U(...shape) uniform in (-0.9, 0.9); I(low, high, ...shape) int64 in [low, high); B(...shape) bool;
// X() NaN, ±∞, ±0 and ordinary values. Anything else is passed as is. kwargs become a trailing options object in JS and keyword arguments in Python.
import type { DType } from '../dist/index.js';

export type Input =
  | { kind: 'normal' | 'positive' | 'uniform' | 'bool' | 'special'; shape: number[] }
  | { kind: 'int'; shape: number[]; low: number; high: number };
export type Arg = Input | number | boolean | string | null | number[] | Input[];
export interface Case {
  op: string;
  /** method (default when the op has one): args[0].op(...rest); function: torch.op(...); nn: F.op(...) */
  form?: 'method' | 'function' | 'nn';
  args: Arg[];
  kwargs?: Record<string, Arg>;
  /** dtypes of the T/P/U inputs; default float32 and float64. */
  dtypes?: DType[];
  /** Both PyTorch and torchkd must raise. */
  throws?: boolean;
}

const T = (...shape: number[]): Input => ({ kind: 'normal', shape });
const P = (...shape: number[]): Input => ({ kind: 'positive', shape });
const U = (...shape: number[]): Input => ({ kind: 'uniform', shape });
const B = (...shape: number[]): Input => ({ kind: 'bool', shape });
/** NaN, ±∞, ±0 and ordinary values. */
const X = (): Input => ({ kind: 'special', shape: [7] });
const I = (low: number, high: number, ...shape: number[]): Input => ({ kind: 'int', shape, low, high });
const INT: DType[] = ['int64'];
const F = (op: string, args: Arg[], kwargs?: Record<string, Arg>): Case => ({ op, form: 'function', args, kwargs });

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
  { op: 'scatter', args: [T(3, 4), 1, I(0, 4, 3, 2), T(3, 2)] },
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

  // activations
  { op: 'relu', args: [T(3, 4)] },
  { op: 'relu', form: 'nn', args: [T(3, 4)] },
  { op: 'softmax', args: [T(3, 4), 1] },
  { op: 'softmax', form: 'nn', args: [T(3, 4), 0] },
  { op: 'softmax', args: [T(3, 4), -1], kwargs: { dtype: 'float64' } },
  { op: 'logSoftmax', args: [T(3, 4), 1] },
  { op: 'logSoftmax', form: 'nn', args: [T(2, 3, 4)], kwargs: { dim: 2 } },
];
