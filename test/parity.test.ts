// Parity harness: every op of native/ops.table, called as listed in test/parity.cases.ts, on the same
// random inputs in torchkd and in Python PyTorch (python3-torch: the same libtorch build), in float32 and
// float64 (or the dtypes a case names). Outputs must agree (float32 within 1e-6 relative; most are
// bit-identical), and where PyTorch raises, torchkd throws.
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
  const data = t.data();
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

function materialize(input: Input, dtype: DType): Tensor {
  const { shape } = input;
  switch (input.kind) {
    case 'normal': return torch.randn(shape, { dtype });
    case 'positive': return torch.tidy(() => torch.randn(shape, { dtype }).abs().add(0.5));
    case 'uniform': return torch.tidy(() => torch.rand(shape, { dtype }).mul(1.8).sub(0.9));
    case 'bool': return torch.tidy(() => torch.rand(shape).lt(0.5));
    case 'int': return torch.randint(input.low, input.high, shape);
    case 'special': return torch.tensor([NaN, Infinity, -Infinity, 0, -0, 1.5, -2.5], { dtype });
    case 'complex': return torch.tidy(() => torch.complex(torch.randn(shape, { dtype }), torch.randn(shape, { dtype })));
    case 'spd': return torch.tidy(() => {
      const a = torch.randn(shape, { dtype });
      return a.matmul(a.t()).add(torch.eye(shape[0], { dtype }).mul(shape[0]));
    });
  }
}

interface Instance { id: number; op: string; form: string; args: unknown[]; kwargs: Record<string, unknown>; throws: boolean; dtype: DType; seed: number }

/** The name inside torch.linalg / torch.fft: linalgVectorNorm → vectorNorm. */
const inNamespace = (op: string, ns: string) => op.slice(ns.length, ns.length + 1).toLowerCase() + op.slice(ns.length + 1);

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const tableOps = () => [...new Set(readFileSync(join(__dirname, '..', 'native', 'ops.table'), 'utf8').split('\n')
  .filter((l) => l.trim() && !l.startsWith('#')).map((l) => /^(\w+)/.exec(l)![1].replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())))];

function formOf(c: Case): Instance['form'] {
  if (c.form) return c.form;
  return typeof (Tensor.prototype as unknown as Record<string, unknown>)[c.op] === 'function' ? 'method' : 'function';
}

function runJs(inst: Instance, jsArgs: unknown[], jsKwargs: Record<string, unknown> | null): Value {
  try {
    return torch.tidy(() => {
      const call = [...jsArgs, ...(jsKwargs ? [jsKwargs] : [])];
      torch.manualSeed(inst.seed);
      let r: unknown;
      if (inst.form === 'method') {
        const [self, ...rest] = call as [Tensor, ...unknown[]];
        r = (self as unknown as Record<string, (...a: unknown[]) => unknown>)[inst.op](...rest);
      } else if (inst.form === 'linalg' || inst.form === 'fft') {
        const ns = torch[inst.form] as unknown as Record<string, (...a: unknown[]) => unknown>;
        r = ns[inNamespace(inst.op, inst.form)](...call);
      } else {
        const ns = (inst.form === 'nn' ? torch.nn.functional : torch) as unknown as Record<string, (...a: unknown[]) => unknown>;
        r = ns[inst.op](...call);
      }
      return encodeResult(r);
    });
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const PYTHON = `
import json, math, sys, torch
F = torch.nn.functional
def dec(v):
    return float(v) if isinstance(v, str) else v
COMPLEX_PARTS = {'complex64': torch.float32, 'complex128': torch.float64}
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
out = []
for inst in json.load(sys.stdin):
    args = [build(a) for a in inst['args']]
    kwargs = {k: build(v) for k, v in inst['kwargs'].items()}
    try:
        torch.manual_seed(inst['seed'])
        if inst['expr']:
            r = eval(inst['expr'], {'torch': torch, 'math': math, 'a': args})
        elif inst['form'] == 'method':
            r = getattr(args[0], inst['py'])(*args[1:], **kwargs)
        else:
            ns = {'nn': F, 'linalg': torch.linalg, 'fft': torch.fft}.get(inst['form'], torch)
            r = getattr(ns, inst['py'])(*args, **kwargs)
        out.append(enc(r))
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
        const inst: Instance = { id: instances.length, op: c.op, form, args, kwargs, throws: !!c.throws, dtype, seed: 5000 + instances.length };
        const pyArgs = args.map(toPy);
        const pyKwargs = Object.fromEntries(Object.entries(kwargs).map(([key, v]) => [snake(key), toPy(v)]));
        // In-place ops mutate their inputs: run torchkd after the inputs were encoded for Python.
        instances.push(inst);
        const py = form === 'linalg' || form === 'fft' ? snake(inNamespace(c.op, form)) : snake(c.op);
        pyInstances.push({ form, py, args: pyArgs, kwargs: pyKwargs, seed: inst.seed, expr: c.pyExpr ?? null });
        ours.push(runJs(inst, args, c.kwargs ? kwargs : null));
        torch.dispose(made);
      }
    });
    const python: string = torchPython();
    const stdout = execFileSync(python, ['-c', PYTHON], { input: JSON.stringify(pyInstances), encoding: 'utf8', maxBuffer: 1 << 28 });
    theirs = JSON.parse(stdout) as Value[];
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
        const x = flatValues(a);
        const y = flatValues(b);
        expect(x.shapes, `${where}: shapes`).toEqual(y.shapes);
        expect(x.dtypes, `${where}: dtypes`).toEqual(y.dtypes);
        expect(x.values.length).toBe(y.values.length);
        const rtol = inst.dtype === 'float32' ? 1e-6 : 1e-12;
        x.values.forEach((v, i) => {
          const w = y.values[i];
          if (typeof v === 'string' || typeof w === 'string') {
            expect(v, `${where}: element ${i}`).toBe(w);
            return;
          }
          if (!Object.is(v, w) && !(v === 0 && w === 0)) notBitIdentical.add(op);
          expect(Math.abs(v - w), `${where}: element ${i}: ${v} vs ${w}`).toBeLessThanOrEqual(rtol * Math.abs(w) + 1e-30);
        });
      }
    });
  }

  it('reports the ops that are not bit-identical to PyTorch', () => {
    // Same libtorch build, same inputs: differences can only come from a different kernel path.
    console.log(`parity: ${instances.length} calls; not bit-identical: ${[...notBitIdentical].join(', ') || 'none'}`);
    expect(instances.length).toBeGreaterThan(CASES.length);
  });
});
