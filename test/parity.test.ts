// Parity harness: every op of native/ops.table, called as listed in test/parity.cases.ts, on the same
// random inputs in torchkd and in Python PyTorch (python3-torch: the same libtorch build), in float32 and
// float64 (or the dtypes a case names). Outputs must agree (float32 within 1e-6 relative; most are
// bit-identical), and where PyTorch raises, torchkd throws. For differentiable ops (float64 calls), the
// gradients of Σ out² with respect to every floating input must equal PyTorch's, and a finite-difference
// gradcheck must pass.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { torch, Tensor, type DType } from '../dist/index.js';
import { CASES, type Arg, type Case, type Input } from './parity.cases';
// @ts-expect-error plain ESM helper without types
import { torchPython } from '../scripts/python.mjs';

/** Tensors travel as { shape, dtype, values } with non-finite floats spelled out. */
interface Encoded { shape: number[]; dtype: string; values: (number | string)[] }
type Value = Encoded | { list: Value[] } | number | string | boolean | null | Value[] | { error: string };

const encodeNumber = (x: number): number | string => (Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : x);

function encodeTensor(t: Tensor): Encoded {
  const data = t.dataSync();
  return { shape: t.shape, dtype: t.dtype, values: Array.from(data as ArrayLike<number | bigint>, (v) => encodeNumber(Number(v))) };
}

function encodeResult(r: unknown): Value {
  if (r instanceof Tensor) return encodeTensor(r);
  if (Array.isArray(r)) return { list: r.map(encodeResult) };
  if (r !== null && typeof r === 'object') return { list: Object.values(r).map(encodeResult) };
  if (typeof r === 'boolean') return r ? 1 : 0;
  return typeof r === 'number' ? encodeNumber(r) : (r as Value);
}

function isInput(a: Arg): a is Input {
  return a !== null && typeof a === 'object' && !Array.isArray(a) && 'kind' in a;
}

/** scripts/test-cuda.sh sets TORCHKD_TEST_DEVICE=cuda: inputs live there, the reference stays PyTorch on CPU. */
const DEVICE = process.env.TORCHKD_TEST_DEVICE ?? 'cpu';
const ON_CPU = DEVICE === 'cpu';

function materialize(input: Input, dtype: DType): Tensor {
  return torch.tidy(() => make(input, dtype).to(DEVICE));
}

function make(input: Input, dtype: DType): Tensor {
  const { shape } = input;
  switch (input.kind) {
    case 'normal': return torch.randn(shape, { dtype });
    case 'positive': return torch.tidy(() => torch.randn(shape, { dtype }).abs().add(0.5));
    case 'uniform': return torch.tidy(() => torch.rand(shape, { dtype }).mul(1.8).sub(0.9));
    case 'bool': return torch.tidy(() => torch.rand(shape).lt(0.5));
    case 'prob': return torch.tidy(() => torch.rand(shape, { dtype }).mul(0.9).add(0.05));
    case 'sign': return torch.tidy(() => torch.rand(shape, { dtype }).lt(0.5).to(dtype).mul(2).sub(1));
    case 'int': return torch.randint(input.low, input.high, shape);
    case 'distinct': return torch.tidy(() =>
      torch.stack(Array.from({ length: shape[0] }, () => torch.randperm(input.high).narrow(0, 0, shape[1]))));
    case 'special': return torch.tensor([NaN, Infinity, -Infinity, 0, -0, 1.5, -2.5], { dtype });
    case 'complex': return torch.tidy(() => torch.complex(torch.randn(shape, { dtype }), torch.randn(shape, { dtype })));
    case 'spd': return torch.tidy(() => {
      const a = torch.randn(shape, { dtype });
      return a.matmul(a.t()).add(torch.eye(shape[0], { dtype }).mul(shape[0]));
    });
  }
}

interface Instance {
  id: number; op: string; form: string; args: unknown[]; kwargs: Record<string, unknown>; throws: boolean; dtype: DType;
  seed: number; grad: boolean; gradcheckOutputs: number[] | null;
}

/** Random ops: each evaluation draws anew, so finite differences do not apply (gradients are still compared). */
const RANDOM_OPS = new Set(['dropout']);
const FLOATING = new Set(['float32', 'float64', 'complex64', 'complex128']);
const isFloating = (t: unknown): t is Tensor => t instanceof Tensor && FLOATING.has(t.dtype);

/** The tensors of an op's result, in order. */
function resultTensors(r: unknown): Tensor[] {
  if (r instanceof Tensor) return [r];
  if (Array.isArray(r)) return r.flatMap(resultTensors);
  if (r !== null && typeof r === 'object') return Object.values(r).flatMap(resultTensors);
  return [];
}

/** Σ out² over the floating outputs (complex ones through their real view). */
function sumOfSquares(outputs: Tensor[]): Tensor | null {
  let loss: Tensor | null = null;
  for (const o of outputs) {
    if (!isFloating(o) || !o.requiresGrad) continue;
    const real = o.dtype.startsWith('complex') ? torch.viewAsReal(o) : o;
    const term = real.square().sum();
    loss = loss === null ? term : loss.add(term);
  }
  return loss;
}

/** The name inside torch.linalg / torch.fft: linalgVectorNorm → vectorNorm. */
const inNamespace = (op: string, ns: string) => op.slice(ns.length, ns.length + 1).toLowerCase() + op.slice(ns.length + 1);

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const tableOps = () => [...new Set(readFileSync(join(__dirname, '..', 'native', 'ops.table'), 'utf8').split('\n')
  .filter((l) => l.trim() && !l.startsWith('#')).map((l) => /^(\w+)/.exec(l)![1].replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())))];

function formOf(c: Case): Instance['form'] {
  if (c.form) return c.form;
  return typeof (Tensor.prototype as unknown as Record<string, unknown>)[c.op] === 'function' ? 'method' : 'function';
}

function callOp(inst: Instance, jsArgs: unknown[], jsKwargs: Record<string, unknown> | null): unknown {
  const call = [...jsArgs, ...(jsKwargs ? [jsKwargs] : [])];
  torch.manualSeed(inst.seed);
  if (inst.form === 'method') {
    const [self, ...rest] = call as [Tensor, ...unknown[]];
    return (self as unknown as Record<string, (...a: unknown[]) => unknown>)[inst.op](...rest);
  }
  if (inst.form === 'linalg' || inst.form === 'fft') {
    const ns = torch[inst.form] as unknown as Record<string, (...a: unknown[]) => unknown>;
    return ns[inNamespace(inst.op, inst.form)](...call);
  }
  const ns = (inst.form === 'nn' ? torch.nn.functional : torch) as unknown as Record<string, (...a: unknown[]) => unknown>;
  return ns[inst.op](...call);
}

function runJs(inst: Instance, jsArgs: unknown[], jsKwargs: Record<string, unknown> | null): Value {
  try {
    return torch.tidy(() => encodeResult(callOp(inst, jsArgs, jsKwargs)));
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Replaces every floating tensor argument (also inside lists and options) by a leaf from `leaves`. */
function substitute(jsArgs: unknown[], jsKwargs: Record<string, unknown> | null, leaves: Tensor[]) {
  let k = 0;
  const swap = (a: unknown): unknown => (isFloating(a) ? leaves[k++] : Array.isArray(a) ? a.map(swap) : a);
  const args = jsArgs.map(swap);
  const kwargs = jsKwargs ? Object.fromEntries(Object.entries(jsKwargs).map(([key, v]) => [key, swap(v)])) : null;
  return { args, kwargs };
}

function floatingInputs(jsArgs: unknown[], jsKwargs: Record<string, unknown> | null): Tensor[] {
  const found: Tensor[] = [];
  const walk = (a: unknown) => { if (isFloating(a)) found.push(a); else if (Array.isArray(a)) a.forEach(walk); };
  jsArgs.forEach(walk);
  Object.values(jsKwargs ?? {}).forEach(walk);
  return found;
}

/** Gradients of Σ out² for each floating input (null where it has none), or the error backward raised. */
function gradsJs(inst: Instance, jsArgs: unknown[], jsKwargs: Record<string, unknown> | null): Value {
  try {
    return torch.tidy(() => {
      const leaves = floatingInputs(jsArgs, jsKwargs).map((t) => t.detach().clone().requiresGrad_());
      const { args, kwargs } = substitute(jsArgs, jsKwargs, leaves);
      const loss = sumOfSquares(resultTensors(callOp(inst, args, kwargs)));
      if (loss === null) return { list: [] };
      loss.backward();
      return { list: leaves.map((l) => (l.grad ? encodeTensor(l.grad) : null)) };
    });
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * Finite-difference check of the op's real floating outputs against autograd, in float64: true or false,
 * the error it raised, or null when no output depends differentiably on the inputs (detach, comparisons).
 */
function gradcheckJs(inst: Instance, jsArgs: unknown[], jsKwargs: Record<string, unknown> | null): boolean | string | null {
  try {
    return gradcheckOrThrow(inst, jsArgs, jsKwargs);
  } catch (e) {
    return (e as Error).message;
  }
}

function gradcheckOrThrow(inst: Instance, jsArgs: unknown[], jsKwargs: Record<string, unknown> | null): boolean | null {
  return torch.tidy(() => {
    const leaves = floatingInputs(jsArgs, jsKwargs).map((t) => t.detach().clone().requiresGrad_());
    const fn = (...xs: Tensor[]) => {
      const { args, kwargs } = substitute(jsArgs, jsKwargs, xs);
      const outs = resultTensors(callOp(inst, args, kwargs));
      return (inst.gradcheckOutputs ? inst.gradcheckOutputs.map((k) => outs[k]) : outs).filter((o) => isFloating(o));
    };
    if (!fn(...leaves).some((o) => o.requiresGrad)) return null;
    return torch.autograd.gradcheck(fn, leaves, { raiseException: false });
  });
}

/** Python: helpers shared by both passes, then the forward pass or the gradient pass over stdin. */
const PYTHON = `
import json, math, sys, torch
F = torch.nn.functional
COMPLEX_PARTS = {'complex64': torch.float32, 'complex128': torch.float64}
FLOATING = (torch.float32, torch.float64, torch.complex64, torch.complex128)
def dec(v):
    return float(v) if isinstance(v, str) else v
def build(a):
    if isinstance(a, dict) and 'shape' in a:
        if a['dtype'] in COMPLEX_PARTS:
            parts = torch.tensor([dec(v) for v in a['values']], dtype=COMPLEX_PARTS[a['dtype']])
            return torch.view_as_complex(parts.reshape(a['shape'] + [2])).clone()
        # clone(): a fresh tensor, not a view, like torchkd's inputs (in-place ops treat views differently).
        return torch.tensor([dec(v) for v in a['values']], dtype=getattr(torch, a['dtype'])).reshape(a['shape']).clone()
    if isinstance(a, list) and a and isinstance(a[0], dict):
        return [build(x) for x in a]
    if isinstance(a, str) and a in ('float32', 'float64', 'int64', 'int32', 'bool', 'float16', 'complex64', 'complex128'):
        return getattr(torch, a)
    return a
def num(x):
    if isinstance(x, bool): return int(x)
    if isinstance(x, float) and not math.isfinite(x): return 'nan' if math.isnan(x) else ('inf' if x > 0 else '-inf')
    return x
def enc(r):
    if isinstance(r, torch.Tensor):
        r = r.detach().resolve_conj()
        vals = (torch.view_as_real(r) if r.is_complex() else r).reshape(-1).tolist()
        return {'shape': list(r.shape), 'dtype': str(r.dtype).replace('torch.', ''), 'values': [num(v) for v in vals]}
    if isinstance(r, (tuple, list)): return {'list': [enc(x) for x in r]}
    return num(r)
def call(inst, args, kwargs):
    torch.manual_seed(inst['seed'])
    if inst['expr']:
        return eval(inst['expr'], {'torch': torch, 'math': math, 'a': args})
    if inst['form'] == 'method':
        return getattr(args[0], inst['py'])(*args[1:], **kwargs)
    ns = {'nn': F, 'linalg': torch.linalg, 'fft': torch.fft}.get(inst['form'], torch)
    return getattr(ns, inst['py'])(*args, **kwargs)
def leafify(a, leaves):
    if isinstance(a, torch.Tensor) and a.dtype in FLOATING:
        leaf = a.detach().clone().requires_grad_()
        leaves.append(leaf)
        return leaf
    if isinstance(a, list): return [leafify(x, leaves) for x in a]
    return a
def tensors(r):
    if isinstance(r, torch.Tensor): return [r]
    if isinstance(r, (tuple, list)): return [t for x in r for t in tensors(x)]
    return []
def forward(inst):
    args = [build(a) for a in inst['args']]
    kwargs = {k: build(v) for k, v in inst['kwargs'].items()}
    return enc(call(inst, args, kwargs))
def grads(inst):
    leaves = []
    args = [leafify(build(a), leaves) for a in inst['args']]
    kwargs = {k: leafify(build(v), leaves) for k, v in inst['kwargs'].items()}
    r = call(inst, args, kwargs)
    terms = [(torch.view_as_real(o) if o.is_complex() else o).square().sum()
             for o in tensors(r) if o.dtype in FLOATING and o.requires_grad]
    if not terms:
        return {'list': []}
    loss = terms[0]
    for t in terms[1:]:
        loss = loss + t
    loss.backward()
    return {'list': [enc(l.grad) if l.grad is not None else None for l in leaves]}
run = forward if sys.argv[1] == 'forward' else grads
out = []
for inst in json.load(sys.stdin):
    try:
        out.append(run(inst))
    except Exception as e:
        out.append({'error': str(e).split('\\n')[0]})
print(json.dumps(out))
`;

function flatValues(v: Value): { shapes: unknown[]; dtypes: unknown[]; values: (number | string)[] } {
  const acc = { shapes: [] as unknown[], dtypes: [] as unknown[], values: [] as (number | string)[] };
  const walk = (x: Value) => {
    if (x !== null && typeof x === 'object' && 'list' in x) x.list.forEach(walk);
    else if (x !== null && typeof x === 'object' && 'shape' in x) {
      acc.shapes.push(x.shape);
      acc.dtypes.push(x.dtype);
      acc.values.push(...x.values);
    } else acc.values.push(x as number);
  };
  walk(v);
  return acc;
}

describe('parity with PyTorch over the op table', () => {
  const instances: Instance[] = [];
  const ours: Value[] = [];
  let theirs: Value[] = [];
  const ourGrads = new Map<number, Value>();
  const gradchecks = new Map<number, boolean | string | null>();
  let theirGrads: Value[] = [];
  const notBitIdentical = new Set<string>();

  beforeAll(() => {
    const pyInstances: unknown[] = [];
    CASES.forEach((c, k) => {
      for (const dtype of c.dtypes ?? (['float32', 'float64'] as DType[])) {
        torch.manualSeed(1000 + k);
        const made: Tensor[] = [];
        const toJs = (a: Arg): unknown => {
          if (isInput(a)) { const t = materialize(a, dtype); made.push(t); return t; }
          if (Array.isArray(a) && a.some((x) => isInput(x as Arg))) return (a as Arg[]).map(toJs);
          return a;
        };
        const toPy = (a: unknown): unknown => (a instanceof Tensor ? encodeTensor(a) : Array.isArray(a) ? a.map(toPy) : a);
        const args = c.args.map(toJs);
        const kwargs = Object.fromEntries(Object.entries(c.kwargs ?? {}).map(([key, v]) => [key, toJs(v)]));
        const form = formOf(c);
        const hasSpecial = c.args.some((a) => isInput(a) && a.kind === 'special');
        const grad = dtype === 'float64' && !c.throws && !c.op.endsWith('_') && !hasSpecial &&
          floatingInputs(args, kwargs).length > 0;
        const inst: Instance = {
          id: instances.length, op: c.op, form, args, kwargs, throws: !!c.throws, dtype, seed: 5000 + instances.length, grad,
          gradcheckOutputs: c.gradcheckOutputs ?? null,
        };
        const pyArgs = args.map(toPy);
        const pyKwargs = Object.fromEntries(Object.entries(kwargs).map(([key, v]) => [snake(key), toPy(v)]));
        // In-place ops mutate their inputs: run torchkd after the inputs were encoded for Python.
        instances.push(inst);
        const py = form === 'linalg' || form === 'fft' ? snake(inNamespace(c.op, form)) : snake(c.op);
        pyInstances.push({ form, py, args: pyArgs, kwargs: pyKwargs, seed: inst.seed, expr: c.pyExpr ?? null });
        ours.push(runJs(inst, args, c.kwargs ? kwargs : null));
        if (grad) {
          const real = floatingInputs(args, kwargs).every((t) => t.dtype === 'float64');
          ourGrads.set(inst.id, gradsJs(inst, args, c.kwargs ? kwargs : null));
          if (real && !RANDOM_OPS.has(c.op) && c.gradcheck !== false) gradchecks.set(inst.id, gradcheckJs(inst, args, c.kwargs ? kwargs : null));
        }
        torch.dispose(made);
      }
    });
    const python: string = torchPython();
    const runPython = (pass: string, list: unknown[]) => JSON.parse(execFileSync(python, ['-c', PYTHON, pass], {
      input: JSON.stringify(list), encoding: 'utf8', maxBuffer: 1 << 28,
    })) as Value[];
    theirs = runPython('forward', pyInstances);
    const gradIds = instances.filter((i) => i.grad).map((i) => i.id);
    const answers = runPython('grads', gradIds.map((id) => pyInstances[id]));
    theirGrads = [];
    gradIds.forEach((id, k) => { theirGrads[id] = answers[k]; });
  }, 300_000);

  it('covers every op of the table', () => {
    const covered = new Set(CASES.map((c) => c.op));
    expect(tableOps().filter((op) => !covered.has(op))).toEqual([]);
  });

  for (const op of [...new Set(CASES.map((c) => c.op))]) {
    it(`${op}`, () => {
      const mine = instances.filter((i) => i.op === op);
      expect(mine.length).toBeGreaterThan(0);
      for (const inst of mine) {
        const a = ours[inst.id];
        const b = theirs[inst.id];
        const where = `${op} #${inst.id} (${inst.dtype}, ${inst.form})`;
        const aErr = a !== null && typeof a === 'object' && 'error' in a;
        const bErr = b !== null && typeof b === 'object' && 'error' in b;
        if (inst.throws) {
          expect(bErr, `${where}: PyTorch was expected to raise`).toBe(true);
          expect(aErr, `${where}: torchkd did not throw (PyTorch: ${JSON.stringify(b)})`).toBe(true);
          continue;
        }
        expect(bErr, `${where}: PyTorch raised ${JSON.stringify(b)}`).toBe(false);
        expect(aErr, `${where}: torchkd threw ${JSON.stringify(a)}`).toBe(false);
        // Same libtorch build on CPU: float32 within 1e-6 (most are bit-identical); other kernels on GPUs.
        compare(a, b, where, inst.dtype === 'float32' ? (ON_CPU ? 1e-6 : 1e-4) : ON_CPU ? 1e-12 : 1e-9, ON_CPU ? op : null);
        if (!inst.grad) continue;
        const ga = ourGrads.get(inst.id)!;
        const gb = theirGrads[inst.id];
        const gaErr = ga !== null && typeof ga === 'object' && 'error' in ga;
        const gbErr = gb !== null && typeof gb === 'object' && 'error' in gb;
        expect(gaErr, `${where}: backward: torchkd ${JSON.stringify(ga).slice(0, 300)}, PyTorch ${JSON.stringify(gb).slice(0, 300)}`).toBe(gbErr);
        if (gbErr) continue;
        compare(ga, gb, `${where}: gradient`, ON_CPU ? 1e-10 : 1e-7, null);
        const check = gradchecks.get(inst.id);
        if (check !== undefined && check !== null) expect(check, `${where}: finite-difference gradcheck`).toBe(true);
      }
    });
  }

  function compare(a: Value, b: Value, where: string, rtol: number, op: string | null) {
    const x = flatValues(a);
    const y = flatValues(b);
    expect(x.shapes, `${where}: shapes`).toEqual(y.shapes);
    expect(x.dtypes, `${where}: dtypes`).toEqual(y.dtypes);
    expect(x.values.length, `${where}: values`).toBe(y.values.length);
    x.values.forEach((v, i) => {
      const w = y.values[i];
      if (typeof v === 'string' || typeof w === 'string' || v === null || w === null) {
        expect(v, `${where}: element ${i}`).toBe(w);
        return;
      }
      if (op && !Object.is(v, w) && !(v === 0 && w === 0)) notBitIdentical.add(op);
      expect(Math.abs(v - w), `${where}: element ${i}: ${v} vs ${w}`).toBeLessThanOrEqual(rtol * Math.abs(w) + 1e-30);
    });
  }

  it('compared gradients and ran gradcheck for the differentiable ops', () => {
    const checked = [...gradchecks.values()].filter((v) => v !== null).length;
    console.log(`parity: ${ourGrads.size} gradient comparisons, ${checked} finite-difference gradchecks`);
    expect(ourGrads.size).toBeGreaterThan(100);
    expect(checked).toBeGreaterThan(100);
  });

  it('reports the ops that are not bit-identical to PyTorch', () => {
    // Same libtorch build, same inputs: differences can only come from a different kernel path.
    console.log(`parity: ${instances.length} calls; not bit-identical: ${[...notBitIdentical].join(', ') || 'none'}`);
    expect(instances.length).toBeGreaterThan(CASES.length);
  });
});
