// Autograd: backward/grad against Python PyTorch, double backward, hooks, custom Functions, grad modes,
// errors (including JS callbacks that throw), memory over many backward passes, gradcheck, worker threads.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { torch, Tensor, TorchError } from '../dist/index.js';
import { expectClose, py, testDevices } from './helpers';

type Nested = number[] | number[][];

// Fixed inputs, shared with the Python reference through JSON.
const A = [[0.5, -1.25, 2.0], [1.5, 0.25, -0.75]];
const W = [[0.3, -0.2, 0.1, 0.7], [-0.6, 0.4, 0.9, -0.1], [0.2, 0.8, -0.5, 0.05]];
const B = [0.1, -0.3, 0.2, 0.0];
const K = [[1.0, -2.0, 0.5, 3.0], [0.25, 1.5, -1.0, 2.0]];

// The same composition in both languages: softmax(relu(a @ w + 2 b) * 1.5, 1) * k, summed.
const PY_COMPOSITION = `
def compose(a, w, b, k):
    return (torch.softmax(torch.relu(a.matmul(w).add(b, alpha=2)).mul(1.5), 1) * k).sum()
`;

function compose(a: Tensor, w: Tensor, b: Tensor, k: Tensor): Tensor {
  return a.matmul(w).add(b, 2).relu().mul(1.5).softmax(1).mul(k).sum();
}

describe('backward against PyTorch', () => {
  for (const device of testDevices()) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`add/mul/matmul/sum/relu/softmax composition on ${device}, ${dtype}`, () => {
        const opts = { dtype, device, requiresGrad: true };
        const a = torch.tensor(A, opts);
        const w = torch.tensor(W, opts);
        const b = torch.tensor(B, opts);
        const k = torch.tensor(K, { dtype, device });
        const loss = compose(a, w, b, k);
        expect(loss.gradFn).toBe('SumBackward0');
        loss.backward();
        const ref = py<{ loss: number; a: Nested; w: Nested; b: Nested }>(`${PY_COMPOSITION}
dt = torch.${dtype}
a, w, b = (torch.tensor(inputs[n], dtype=dt, requires_grad=True) for n in ('a', 'w', 'b'))
k = torch.tensor(inputs['k'], dtype=dt)
loss = compose(a, w, b, k)
loss.backward()
out = {'loss': loss.item(), 'a': a.grad.tolist(), 'w': w.grad.tolist(), 'b': b.grad.tolist()}`,
        { a: A, w: W, b: B, k: K });
        // The same libtorch build computes the same numbers (float32 within one rounding).
        const [rtol, atol] = dtype === 'float64' ? [1e-14, 1e-15] : [1e-6, 1e-7];
        expectClose(loss.item(), ref.loss, rtol, atol);
        expectClose(a.grad!.toArray(), ref.a, rtol, atol);
        expectClose(w.grad!.toArray(), ref.w, rtol, atol);
        expectClose(b.grad!.toArray(), ref.b, rtol, atol);
        expect(a.grad!.device).toBe(device);
        expect(k.grad).toBe(null);
      });
    }
  }

  it('gradFn names, isLeaf, requiresGrad propagation and sum dims match PyTorch', () => {
    const x = torch.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32', requiresGrad: true });
    const y = torch.tensor([[0.5, -1, 2], [1, 1, -3]], { dtype: 'float32' });
    const outs = {
      add: x.add(y), mul: x.mul(y), matmul: x.matmul(torch.ones([3, 2])),
      sum: x.sum(), sumDim: x.sum(1, { keepdim: true }), relu: x.relu(), softmax: x.softmax(0),
    };
    const names = Object.fromEntries(Object.entries(outs).map(([k, v]) => [k, v.gradFn]));
    const ref = py<Record<string, string>>(`
x = torch.tensor([[1., 2, 3], [4, 5, 6]], requires_grad=True)
y = torch.tensor([[0.5, -1, 2], [1, 1, -3]])
outs = dict(add=x + y, mul=x * y, matmul=x.matmul(torch.ones(3, 2)),
            sum=x.sum(), sumDim=x.sum(1, keepdim=True), relu=x.relu(), softmax=x.softmax(0))
out = {k: type(v.grad_fn).__name__ for k, v in outs.items()}`);
    expect(names).toEqual(ref);
    // Python wraps a number operand into a tensor (AddBackward0); torchkd calls the Scalar overloads,
    // whose backward functions libtorch names AddBackward1 / MulBackward1 (same gradients).
    expect(x.add(2).gradFn).toBe('AddBackward1');
    expect(x.mul(3).gradFn).toBe('MulBackward1');
    expect(x.isLeaf).toBe(true);
    expect(x.gradFn).toBe(null);
    expect(outs.add.isLeaf).toBe(false);
    expect(outs.add.requiresGrad).toBe(true);
    expect(y.isLeaf).toBe(true);
    expect(y.add(1).requiresGrad).toBe(false);
    expect(y.add(1).isLeaf).toBe(true);

    // Gradient of a non-scalar output through sum over dims, with an explicit gradient.
    const s = x.mul(x).sum(0);
    s.backward(torch.tensor([1, -1, 0.5]));
    expect(x.grad!.toArray()).toEqual(py(`
x = torch.tensor([[1., 2, 3], [4, 5, 6]], requires_grad=True)
(x * x).sum(0).backward(torch.tensor([1, -1, 0.5]))
out = x.grad.tolist()`));
  });

  it('gradients accumulate across backward calls; grad can be assigned and cleared', () => {
    const x = torch.tensor([1.5, -2], { requiresGrad: true });
    x.mul(x).sum().backward();
    x.mul(3).sum().backward();
    expect(x.grad!.toArray()).toEqual([6, -1]); // 2x + 3
    x.grad = torch.tensor([10, 20]).float();
    x.mul(2).sum().backward();
    expect(x.grad!.toArray()).toEqual([12, 22]);
    x.grad = null;
    expect(x.grad).toBe(null);
    expect(() => { x.grad = torch.tensor([1, 2, 3]).float(); }).toThrow(/different size/);
    expect(() => { x.grad = torch.tensor([1, 2]).double(); }).toThrow(/different type/);
    // grad shares memory with the accumulated gradient, as in PyTorch.
    x.mul(1).sum().backward();
    x.grad!.mul_(0);
    expect(x.grad!.toArray()).toEqual([0, 0]);
  });

  it('retainGrad populates .grad of non-leaves; backward(inputs) restricts accumulation', () => {
    const x = torch.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
    const w = torch.tensor([0.5, 0.5, 2], { dtype: 'float32', requiresGrad: true });
    const h = x.mul(w);
    expect(h.retainsGrad).toBe(false);
    h.retainGrad();
    expect(h.retainsGrad).toBe(true);
    h.mul(h).sum().backward({ retainGraph: true });
    expect(h.grad!.toArray()).toEqual([1, 2, 12]);
    expect(x.grad!.toArray()).toEqual([0.5, 1, 24]);
    const y = x.mul(w).sum();
    x.grad = null;
    w.grad = null;
    y.backward({ inputs: [w] });
    expect(w.grad!.toArray()).toEqual([1, 2, 3]);
    expect(x.grad).toBe(null);
    expect(() => torch.tensor([1, 2, 3]).float().retainGrad()).toThrow(TorchError);
  });

  it('detach and detach_ leave the graph and share memory', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(2);
    const d = y.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    expect(d.gradFn).toBe(null);
    d.add_(1);
    expect(y.toArray()).toEqual([3, 5]);
    const z = x.mul(3);
    expect(z.detach_()).toBe(z);
    expect(z.requiresGrad).toBe(false);
    expect(z.gradFn).toBe(null);
  });
});

describe('torch.autograd.grad', () => {
  it('returns gradients without touching .grad, and double backward matches PyTorch', () => {
    const xs = [0.5, -1.0, 2.0, 0.25];
    const vs = [1.0, -0.5, 0.25, 2.0];
    const x = torch.tensor(xs, { dtype: 'float64', requiresGrad: true });
    const v = torch.tensor(vs, { dtype: 'float64' });
    // f = sum(softmax(x * x * x) * v)
    const f = x.mul(x).mul(x).softmax(0).mul(v).sum();
    const [g] = torch.autograd.grad(f, x, { createGraph: true });
    expect(g.requiresGrad).toBe(true);
    expect(x.grad).toBe(null);
    // Hessian-vector product through the recorded backward.
    const [hv] = torch.autograd.grad(g.mul(v).sum(), [x], { retainGraph: true });
    // Second derivative of a plain cube, elementwise: 6x.
    const [g3] = torch.autograd.grad(x.mul(x).mul(x).sum(), x, { createGraph: true });
    const [h3] = torch.autograd.grad(g3.sum(), x);
    const ref = py<{ g: number[]; hv: number[]; h3: number[] }>(`
x = torch.tensor(inputs['x'], dtype=torch.float64, requires_grad=True)
v = torch.tensor(inputs['v'], dtype=torch.float64)
f = (torch.softmax(x * x * x, 0) * v).sum()
g, = torch.autograd.grad(f, x, create_graph=True)
hv, = torch.autograd.grad((g * v).sum(), [x], retain_graph=True)
g3, = torch.autograd.grad((x * x * x).sum(), x, create_graph=True)
h3, = torch.autograd.grad(g3.sum(), x)
out = {'g': g.tolist(), 'hv': hv.tolist(), 'h3': h3.tolist()}`, { x: xs, v: vs });
    expectClose(g.toArray(), ref.g, 1e-14, 1e-15);
    expectClose(hv.toArray(), ref.hv, 1e-13, 1e-15);
    expect(h3.toArray()).toEqual(ref.h3);
    expect(h3.toArray()).toEqual(xs.map((a) => 6 * a));
  });

  it('backward with createGraph builds a graph on .grad', () => {
    const x = torch.tensor([2, 3], { dtype: 'float64', requiresGrad: true });
    x.mul(x).mul(x).sum().backward({ createGraph: true });
    const g = x.grad!;
    expect(g.toArray()).toEqual([12, 27]);
    expect(g.requiresGrad).toBe(true);
    const [h] = torch.autograd.grad(g.sum(), x);
    expect(h.toArray()).toEqual([12, 18]);
  });

  it('several outputs with gradOutputs, and allowUnused', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const unused = torch.tensor([5], { dtype: 'float32', requiresGrad: true });
    const y1 = x.mul(x);
    const y2 = x.mul(3);
    const gs = torch.autograd.grad([y1, y2], [x], [torch.tensor([1, 1]).float(), torch.tensor([2, -1]).float()],
      { retainGraph: true });
    expect(gs[0].toArray()).toEqual([2 + 6, 4 - 3]);
    expect(() => torch.autograd.grad(y1.sum(), [x, unused], { retainGraph: true }))
      .toThrow(/appears to not have been used in the graph/);
    const withUnused = torch.autograd.grad(y1.sum(), [x, unused], { allowUnused: true });
    expect(withUnused[0]!.toArray()).toEqual([2, 4]);
    expect(withUnused[1]).toBe(null);
  });
});

describe('errors', () => {
  it('a second backward through a freed graph is a TorchError; retainGraph allows it', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward();
    let err: unknown;
    try {
      y.backward();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TorchError);
    expect((err as TorchError).message).toMatch(/^backward\(\): Trying to backward through the graph a second time/);
    expect((err as TorchError).op).toBe('backward');
    const z = x.mul(x).sum();
    x.grad = null;
    z.backward({ retainGraph: true });
    z.backward(null, true); // PyTorch's positional retain_graph
    z.backward();
    expect(x.grad!.toArray()).toEqual([6, 12]);
  });

  it('backward of a non-scalar without gradient, or of a tensor without grad, is a TorchError', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(TorchError);
    expect(() => x.mul(2).backward()).toThrow(/grad can be implicitly created only for scalar outputs \(tensors: float32\[2\] on cpu\)/);
    expect(() => torch.ones([1]).sum().backward()).toThrow(/does not require grad and does not have a grad_fn/);
    expect(() => x.mul(2).backward(torch.ones([3]))).toThrow(TorchError);
    expect(() => x.backward({ inputs: [] })).toThrow(/cannot be empty/);
  });

  it('a JS hook that throws makes backward throw that error; the process and later backwards are fine', () => {
    const base = torch.memory().tensors;
    torch.tidy(() => {
      const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
      const y = x.mul(3);
      const boom = new Error('boom from hook');
      y.registerHook(() => { throw boom; });
      let caught: unknown;
      try {
        y.sum().backward();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBe(boom);
      expect(x.grad).toBe(null);
      // Nothing is left half-done: a fresh graph from the same leaf works.
      x.mul(x).sum().backward();
      expect(x.grad!.toArray()).toEqual([2, 4]);
      // A leaf hook throwing a non-Error value.
      const w = torch.tensor([1], { dtype: 'float32', requiresGrad: true });
      w.registerHook(() => { throw 'plain string'; });
      let thrown: unknown;
      try {
        w.mul(2).sum().backward();
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBe('plain string');
    });
    expect(torch.memory().tensors).toBe(base);
  });

  it('hooks returning the wrong thing are TorchErrors', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const h1 = x.registerHook(() => torch.ones([3]));
    expect(() => x.mul(2).sum().backward()).toThrow(/hook has changed the size of value/);
    h1.remove();
    const h2 = x.registerHook((() => 42) as unknown as (g: Tensor) => Tensor);
    expect(() => x.mul(2).sum().backward()).toThrow(/must return a Tensor or undefined, got number/);
    h2.remove();
    x.mul(2).sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 2]);
    expect(() => x.registerHook(null as unknown as (g: Tensor) => Tensor)).toThrow(TorchError);
    expect(() => torch.ones([2]).registerHook((g) => g)).toThrow(/doesn't require gradient/);
  });

  it('anomaly detection names the function that produced NaN', () => {
    const NanGrad = torch.autograd.Function.define({
      name: 'NanGrad',
      forward(_ctx, x: Tensor) { return x.mul(1); },
      backward(_ctx, g) { return g.mul(Number.NaN); },
    });
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    NanGrad.apply(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([NaN, NaN]);
    expect(torch.autograd.isAnomalyEnabled()).toBe(false);
    expect(() => torch.autograd.detectAnomaly(() => NanGrad.apply(x).sum().backward()))
      .toThrow(/Function 'NanGradBackward' returned nan values in its 0th output/);
    expect(torch.autograd.isAnomalyEnabled()).toBe(false);
    torch.autograd.setDetectAnomaly(true);
    expect(torch.autograd.isAnomalyEnabled()).toBe(true);
    torch.autograd.setDetectAnomaly(false);
  });
});

describe('hooks', () => {
  it('hooks on leaves and non-leaves modify gradients as in PyTorch; remove() undoes them', () => {
    const run = (withHooks: boolean) => {
      const x = torch.tensor([1, -2, 3], { dtype: 'float32', requiresGrad: true });
      const w = torch.tensor([0.5, 2, -1], { dtype: 'float32', requiresGrad: true });
      const h = x.mul(w);
      const seen: number[][] = [];
      const handles = withHooks ? [
        h.registerHook((g) => { seen.push(g.toArray() as number[]); return g.mul(2); }),
        h.registerHook((g) => g.add(1)),               // runs after the first, on its result
        x.registerHook((g) => { seen.push(g.toArray() as number[]); }),  // observe only
        w.registerHook((g) => g.mul(-1)),
      ] : [];
      h.relu().sum().backward();
      return { x: x.grad!.toArray(), w: w.grad!.toArray(), seen, handles };
    };
    const ours = run(true);
    const ref = py<{ x: number[]; w: number[]; seen: number[][] }>(`
seen = []
x = torch.tensor([1., -2, 3], requires_grad=True)
w = torch.tensor([0.5, 2, -1], requires_grad=True)
h = x * w
def first(g):
    seen.append(g.tolist())
    return g * 2
h.register_hook(first)
h.register_hook(lambda g: g + 1)
x.register_hook(lambda g: seen.append(g.tolist()))
w.register_hook(lambda g: g * -1)
h.relu().sum().backward()
out = {'x': x.grad.tolist(), 'w': w.grad.tolist(), 'seen': seen}`);
    expect({ x: ours.x, w: ours.w, seen: ours.seen }).toEqual(ref);
    const plain = run(false);
    expectClose(plain.x, [0.5, 0, 0]);
    // remove() stops a hook; removing twice is harmless.
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const handle = x.registerHook((g) => g.mul(100));
    handle.remove();
    handle.remove();
    x.mul(2).sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 2]);
  });

  it('a hook may run autograd itself (nested backward on the JS thread)', () => {
    const x = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const u = torch.tensor([3], { dtype: 'float64', requiresGrad: true });
    x.registerHook((g) => {
      // d(u^2)/du = 2u = 6, computed while the outer backward is waiting for this hook.
      // The engine runs hooks with grad mode off (no createGraph), as PyTorch does: enable it to record.
      const [du] = torch.enableGrad(() => torch.autograd.grad(u.mul(u).sum(), u));
      return g.mul(du);
    });
    x.mul(x).sum().backward();
    expect(x.grad!.toArray()).toEqual([12, 24]);
  });

  it('hooks see the engine grad mode: with createGraph their result is differentiable (as in PyTorch)', () => {
    const x = torch.tensor([2], { dtype: 'float64', requiresGrad: true });
    const modes: boolean[] = [];
    // On a non-leaf: libtorch 1.13 runs leaf hooks for backward() but not for autograd.grad() on that leaf.
    const h0 = x.mul(1);
    h0.registerHook((g) => { modes.push(torch.isGradEnabled()); return g.mul(x); });
    const y = h0.mul(h0).sum();
    const [g] = torch.autograd.grad(y, x, { createGraph: true });
    expect(g.requiresGrad).toBe(true);
    // The second pass flows through h0 again, so the hook runs again, now with grad mode off.
    const [h] = torch.autograd.grad(g.sum(), x);
    const ref = py<{ g: number[]; h: number[]; modes: boolean[] }>(`
x = torch.tensor([2.], dtype=torch.float64, requires_grad=True)
modes = []
h0 = x * 1
def hook(g):
    modes.append(torch.is_grad_enabled())
    return g * x
h0.register_hook(hook)
g, = torch.autograd.grad((h0 * h0).sum(), x, create_graph=True)
h, = torch.autograd.grad(g.sum(), x)
out = {'g': g.tolist(), 'h': h.tolist(), 'modes': modes}`);
    expect({ g: g.toArray(), h: h.toArray(), modes }).toEqual(ref);
    expect(modes).toEqual([true, false]);
    expect(torch.isGradEnabled()).toBe(true);
  });
});

describe('custom Functions', () => {
  const Square = torch.autograd.Function.define({
    name: 'Square',
    forward(ctx, x: Tensor) {
      ctx.saveForBackward(x);
      return x.mul(x);
    },
    backward(ctx, gradOut) {
      const [x] = ctx.savedTensors;
      return gradOut.mul(x!).mul(2);
    },
  });

  it('Square: analytic gradient, gradFn name, double backward through a JS backward', () => {
    const x = torch.tensor([1.5, -2, 3], { dtype: 'float64', requiresGrad: true });
    const y = Square.apply(x);
    expect(y.gradFn).toBe('SquareBackward');
    expect(y.toArray()).toEqual([2.25, 4, 9]);
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([3, -4, 6]);
    const [g] = torch.autograd.grad(Square.apply(x).sum(), x, { createGraph: true });
    expect(g.requiresGrad).toBe(true);
    const [h] = torch.autograd.grad(g.sum(), x);
    expect(h.toArray()).toEqual([2, 2, 2]);
    expect(torch.autograd.gradcheck((t) => Square.apply(t), [x])).toBe(true);
  });

  it('several inputs and outputs, non-tensor arguments, needsInputGrad', () => {
    const needs: boolean[][] = [];
    const MulAdd = torch.autograd.Function.define({
      name: 'MulAdd',
      forward(ctx, x: Tensor, y: Tensor, scale: number) {
        needs.push([...ctx.needsInputGrad]);
        ctx.scale = scale;
        ctx.saveForBackward(x, y);
        return [x.mul(y).mul(scale), x.add(y)];
      },
      backward(ctx, g1, g2) {
        needs.push([...ctx.needsInputGrad]);
        const [x, y] = ctx.savedTensors as Tensor[];
        const s = ctx.scale as number;
        const gx = ctx.needsInputGrad[0] ? g1.mul(y).mul(s).add(g2) : null;
        const gy = ctx.needsInputGrad[1] ? g1.mul(x).mul(s).add(g2) : null;
        return [gx, gy, null];
      },
    });
    const x = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = torch.tensor([3, -1], { dtype: 'float64', requiresGrad: true });
    const [p, q] = MulAdd.apply(x, y, 3);
    expect(p.toArray()).toEqual([9, -6]);
    expect(q.toArray()).toEqual([4, 1]);
    p.sum().add(q.mul(2).sum()).backward();
    expect(x.grad!.toArray()).toEqual([3 * 3 + 2, -1 * 3 + 2]);
    expect(y.grad!.toArray()).toEqual([1 * 3 + 2, 2 * 3 + 2]);
    expect(needs).toEqual([[true, true, false], [true, true, false]]);
    // Only one output used: the other's gradient arrives as zeros. Only y's gradient is needed.
    needs.length = 0;
    const [p2] = MulAdd.apply(x, y, 1);
    const [gy] = torch.autograd.grad(p2.sum(), y);
    expect(gy.toArray()).toEqual([1, 2]);
    expect(needs).toEqual([[true, true, false], [false, true, false]]);
    // y without grad: not needed at all.
    needs.length = 0;
    const yc = torch.tensor([3, -1], { dtype: 'float64' });
    x.grad = null;
    MulAdd.apply(x, yc, 2)[0].sum().backward();
    expect(x.grad!.toArray()).toEqual([6, -2]);
    expect(needs).toEqual([[true, false, false], [true, false, false]]);
    expect(torch.autograd.gradcheck((a, b) => MulAdd.apply(a, b, 0.5), [x, y])).toBe(true);
  });

  it('PyTorch class style: class X extends torch.autograd.Function with static forward/backward', () => {
    class Cube extends torch.autograd.Function {
      static forward(ctx: torch.autograd.FunctionCtx, x: Tensor): Tensor {
        ctx.saveForBackward(x);
        return x.mul(x).mul(x);
      }
      static backward(ctx: torch.autograd.FunctionCtx, g: Tensor): Tensor {
        const [x] = ctx.savedTensors as Tensor[];
        return g.mul(x.mul(x)).mul(3);
      }
    }
    const x = torch.tensor([1, -2], { dtype: 'float64', requiresGrad: true });
    const y = Cube.apply(x);
    expect(y.gradFn).toBe('CubeBackward');
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([3, 12]);
  });

  it('outputs that are inputs, saved outputs, non-differentiable outputs, no-grad calls', () => {
    const Identity = torch.autograd.Function.define({
      forward(_ctx, x: Tensor) { return x; },
      backward(_ctx, g) { return g.mul(5); },
    });
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const y = Identity.apply(x);
    expect(y).not.toBe(x);
    expect(y.gradFn).toBe('JsFunctionBackward');
    expect(x.isLeaf).toBe(true);
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([5, 5]);

    // Saving the output (as PyTorch's exp does) must not create a reference cycle.
    const Exp2 = torch.autograd.Function.define({
      forward(ctx, t: Tensor) { const out = t.mul(t); ctx.saveForBackward(out); return out; },
      backward(ctx, g) { const [out] = ctx.savedTensors; return g.mul(out!); },
    });
    const x2 = torch.tensor([2, 3], { dtype: 'float32', requiresGrad: true });
    Exp2.apply(x2).sum().backward();
    expect(x2.grad!.toArray()).toEqual([4, 9]);

    const WithIndex = torch.autograd.Function.define({
      forward(ctx, t: Tensor) {
        const idx = torch.tensor([0, 1]);
        const flag = t.mul(0);
        ctx.markNonDifferentiable(flag);
        return [t.mul(2), idx, flag];
      },
      backward(_ctx, g, gIdx, gFlag) {
        expect(gFlag.toArray()).toEqual([0, 0]);
        expect(gIdx.dtype).toBe('int64');
        return g.mul(2);
      },
    });
    const [a, idx, flag] = WithIndex.apply(x);
    expect(a.requiresGrad).toBe(true);
    expect(idx.requiresGrad).toBe(false);
    expect(flag.requiresGrad).toBe(false);
    x.grad = null;
    a.sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 2]);

    // Without grad, forward just runs: no node.
    const z = torch.noGrad(() => Identity.apply(x.mul(1)));
    expect(z.requiresGrad).toBe(false);
    expect(z.gradFn).toBe(null);
  });

  it('backward errors: wrong count, gradient for a non-tensor, throwing backward, backward twice', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    const TooFew = torch.autograd.Function.define({
      forward(_c, t: Tensor, _k: number) { return t.mul(2); },
      backward(_c, g) { return [g]; },
    });
    expect(() => TooFew.apply(x, 1).sum().backward()).toThrow(/incorrect number of gradients \(expected 2, got 1\)/);
    const NonTensor = torch.autograd.Function.define({
      forward(_c, t: Tensor, _k: number) { return t.mul(2); },
      backward(_c, g) { return [g, g]; },
    });
    expect(() => NonTensor.apply(x, 1).sum().backward()).toThrow(/forward input was not a Tensor/);
    const WrongShape = torch.autograd.Function.define({
      forward(_c, t: Tensor) { return t.mul(2); },
      backward() { return torch.ones([3]); },
    });
    expect(() => WrongShape.apply(x).sum().backward()).toThrow(/invalid gradient at index 0/);
    const oops = new RangeError('oops in backward');
    const Throws = torch.autograd.Function.define({
      forward(_c, t: Tensor) { return t.mul(2); },
      backward() { throw oops; },
    });
    expect(() => Throws.apply(x).sum().backward()).toThrow(oops);
    const y = Square.apply(x).sum();
    y.backward();
    expect(() => y.backward()).toThrow(/Trying to backward through the graph a second time/);
    expect(() => torch.autograd.Function.define({} as never)).toThrow(TorchError);
  });
});

describe('grad modes', () => {
  it('noGrad / enableGrad nest, return fn results and restore the mode even when fn throws', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    expect(torch.isGradEnabled()).toBe(true);
    const y = torch.noGrad(() => {
      expect(torch.isGradEnabled()).toBe(false);
      const inner = torch.enableGrad(() => {
        expect(torch.isGradEnabled()).toBe(true);
        return x.mul(2);
      });
      expect(inner.requiresGrad).toBe(true);
      expect(torch.isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBe(null);
    expect(torch.isGradEnabled()).toBe(true);
    expect(() => torch.noGrad(() => { throw new Error('inside'); })).toThrow('inside');
    expect(torch.isGradEnabled()).toBe(true);
    expect(torch.noGrad(() => 42)).toBe(42);
    torch.setGradEnabled(false);
    expect(x.mul(2).requiresGrad).toBe(false);
    torch.setGradEnabled(true);
    expect(x.mul(2).requiresGrad).toBe(true);
    expect(() => torch.noGrad((async () => 1) as () => Promise<number>)).toThrow(/returned a Promise/);
    expect(torch.isGradEnabled()).toBe(true);
    expect(() => torch.noGrad(undefined as unknown as () => void)).toThrow(TorchError);
  });

  it('backward works under noGrad (the engine manages its own mode) and createGraph still records', () => {
    const x = torch.tensor([3], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(x).mul(x).sum();
    const g = torch.noGrad(() => torch.autograd.grad(y, x, { createGraph: true })[0]);
    expect(g.toArray()).toEqual([27]);
    expect(g.requiresGrad).toBe(true);
    expect(torch.isGradEnabled()).toBe(true);
  });

  it('inferenceMode: no graph, inference tensors, restored after throw', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    expect(torch.autograd.isInferenceModeEnabled()).toBe(false);
    const t = torch.inferenceMode(() => {
      expect(torch.autograd.isInferenceModeEnabled()).toBe(true);
      expect(torch.isGradEnabled()).toBe(false);
      const inner = torch.inferenceMode(false, () => torch.autograd.isInferenceModeEnabled());
      expect(inner).toBe(false);
      return x.mul(2);
    });
    expect(t.requiresGrad).toBe(false);
    expect(t.isInference()).toBe(true);
    expect(x.mul(2).isInference()).toBe(false);
    expect(torch.autograd.isInferenceModeEnabled()).toBe(false);
    expect(torch.isGradEnabled()).toBe(true);
    // Inference tensors cannot take part in autograd later.
    expect(() => x.mul(t)).toThrow(/Inference tensors cannot be saved for backward/);
    expect(() => torch.inferenceMode(() => { throw new Error('x'); })).toThrow('x');
    expect(torch.autograd.isInferenceModeEnabled()).toBe(false);
  });
});

describe('memory', () => {
  it('1000 backward passes with hooks and custom Functions under tidy return to baseline', () => {
    const Scale = torch.autograd.Function.define({
      name: 'Scale',
      forward(ctx, x: Tensor, w: Tensor) { ctx.saveForBackward(x, w); return x.mul(w); },
      backward(ctx, g) {
        const [x, w] = ctx.savedTensors as Tensor[];
        const tmp = g.mul(1); // a temporary the callback's scope frees
        return [tmp.mul(w), g.mul(x).sum(0)];
      },
    });
    const w = torch.randn([8], { requiresGrad: true });
    const x0 = torch.randn([4, 8]);
    const run = () => torch.tidy(() => {
      const x = x0.mul(1).requiresGrad_();
      const h = Scale.apply(x, w);
      h.registerHook((g) => g.mul(0.5));
      const loss = h.relu().matmul(torch.ones([8, 2])).softmax(1).sum();
      loss.backward();
      const [gx] = torch.autograd.grad(Scale.apply(x, w).sum(), x);
      return gx.sum().item() + x.grad!.sum().item();
    });
    run();
    w.grad = null;
    const base = torch.memory();
    const callbacks = torch.autograd.liveCallbacks();
    let total = 0;
    for (let i = 0; i < 1000; i++) total += run();
    w.grad = null;
    expect(Number.isFinite(total)).toBe(true);
    expect(torch.memory()).toEqual(base);
    expect(torch.autograd.liveCallbacks()).toBe(callbacks);
  });

  it('tensors handed to a hook are freed unless returned or kept', () => {
    const x = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    let seen: Tensor | undefined;
    let kept: Tensor | undefined;
    x.registerHook((g) => { seen = g; });
    x.registerHook((g) => { kept = torch.keep(g.mul(1)); });
    const base = torch.memory().tensors;
    torch.tidy(() => x.mul(2).sum().backward());
    expect(seen!.isDisposed).toBe(true);
    expect(kept!.toArray()).toEqual([2, 2]);
    kept!.dispose();
    expect(torch.memory().tensors).toBe(base);
  });
});

describe('gradcheck', () => {
  it('passes for add, mul, matmul, sum, relu and softmax in float64', () => {
    torch.manualSeed(3);
    const opts = { dtype: 'float64' as const, requiresGrad: true };
    const a = torch.randn([3, 4], opts);
    const b = torch.randn([4, 2], opts);
    const c = torch.randn([3, 4], opts);
    const A = torch.autograd;
    expect(A.gradcheck((p, q) => p.add(q, 0.5), [a, c])).toBe(true);
    expect(A.gradcheck((p, q) => p.mul(q).mul(3), [a, c])).toBe(true);
    expect(A.gradcheck((p, q) => p.matmul(q), [a, b])).toBe(true);
    expect(A.gradcheck((p) => p.sum(1, { keepdim: true }), [a])).toBe(true);
    expect(A.gradcheck((p) => p.relu(), [a])).toBe(true);
    expect(A.gradcheck((p) => p.softmax(1), [a])).toBe(true);
    expect(A.gradcheck((p, q) => [p.matmul(q).softmax(0), p.relu().sum()], [a, b])).toBe(true);
    // Only inputs that require grad are checked.
    expect(A.gradcheck((p, q) => p.mul(q), [a, torch.randn([3, 4], { dtype: 'float64' })])).toBe(true);
  });

  it('catches a wrong backward', () => {
    const Wrong = torch.autograd.Function.define({
      forward(ctx, x: Tensor) { ctx.saveForBackward(x); return x.mul(x); },
      backward(ctx, g) { return g.mul(ctx.savedTensors[0]!).mul(2.01); },
    });
    const x = torch.tensor([0.5, -1.5, 2], { dtype: 'float64', requiresGrad: true });
    expect(torch.autograd.gradcheck((t) => Wrong.apply(t), x, { raiseException: false })).toBe(false);
    expect(() => torch.autograd.gradcheck((t) => Wrong.apply(t), x)).toThrow(/Jacobian mismatch for output 0 with respect to input 0/);
    expect(torch.autograd.gradcheck((t) => Wrong.apply(t), x, { rtol: 0.01 })).toBe(true);
    expect(() => torch.autograd.gradcheck((t) => t.mul(2), torch.ones([2]))).toThrow(/at least one input tensor to require gradient/);
  });
});

describe('worker threads', () => {
  it('autograd with JS hooks and Functions runs in workers, each with its own callbacks', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { torch } = require(workerData.entry);
      const Square = torch.autograd.Function.define({
        forward(ctx, x) { ctx.saveForBackward(x); return x.mul(x); },
        backward(ctx, g) { return g.mul(ctx.savedTensors[0]).mul(2); },
      });
      const x = torch.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
      x.registerHook((g) => g.add(workerData.k));
      for (let i = 0; i < 50; i++) torch.tidy(() => Square.apply(x).sum().backward());
      parentPort.postMessage(x.grad.toArray());
    `;
    const run = (k: number) => new Promise<number[]>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { k, entry: join(__dirname, '..', 'dist', 'index.js') } });
      w.once('message', resolve);
      w.once('error', reject);
    });
    const [a, b] = await Promise.all([run(1), run(10)]);
    expect(a).toEqual([150, 250, 350]);
    expect(b).toEqual([600, 700, 800]);
  });
});

describe('types', () => {
  it('Tensor methods and torch.autograd exports exist', () => {
    expect(typeof Tensor.prototype.backward).toBe('function');
    expect(typeof torch.autograd.grad).toBe('function');
    expect(torch.noGrad).toBe(torch.autograd.noGrad);
    expect(torch.enableGrad).toBe(torch.autograd.enableGrad);
    expect(torch.inferenceMode).toBe(torch.autograd.inferenceMode);
    expect(torch.isGradEnabled).toBe(torch.autograd.isGradEnabled);
  });
});
