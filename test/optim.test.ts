// optim: every optimizer (several option sets, param groups) trained 100 steps on the same MLP as PyTorch,
// parameters and state compared in float32 and float64; stateDict round trips; lr schedulers' sequences
// against PyTorch's; clipGradNorm_ and friends; no tensor leaks over many steps.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nn, optim, torch, TorchError, Tensor } from '../dist/index.js';

const { utils } = nn;
import { expectClose, py } from './helpers';

type Nested = number | Nested[];
type Opts = Record<string, number | boolean | number[]>;

// Deterministic data: a 2-layer tanh MLP regression, 8 samples, 3 → 4 → 1.
const det = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.8);
const shape2 = (flat: number[], cols: number): number[][] => Array.from({ length: flat.length / cols }, (_, r) => flat.slice(r * cols, (r + 1) * cols));
const X = shape2(det(24, 1), 3);
const Y = shape2(det(8, 2), 1);
const INIT: Nested[] = [shape2(det(12, 3), 4), det(4, 4).map((v) => v * 0.1), shape2(det(4, 5), 1), [0.05]];
const STEPS = 100;

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const snakeOpts = (o: Opts): Opts => Object.fromEntries(Object.entries(o).map(([k, v]) => [snake(k), v]));

interface Case {
  name: 'SGD' | 'Adam' | 'AdamW' | 'RMSprop' | 'Adagrad';
  opts: Opts;
  /** Param groups: indices into the 4 parameters, with per-group options. */
  groups?: { idx: number[]; opts: Opts }[];
}

const CASES: Case[] = [
  { name: 'SGD', opts: { lr: 0.05 } },
  { name: 'SGD', opts: { lr: 0.05, momentum: 0.9 } },
  { name: 'SGD', opts: { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 } },
  { name: 'SGD', opts: { lr: 0.05, momentum: 0.8, dampening: 0.1, weightDecay: 0.02 } },
  { name: 'SGD', opts: { lr: 0.001, momentum: 0.5, maximize: true } },
  { name: 'SGD', opts: { lr: 0.05, momentum: 0.9 }, groups: [{ idx: [0, 1], opts: { lr: 0.1 } }, { idx: [2, 3], opts: { momentum: 0.5, nesterov: true } }] },
  { name: 'Adam', opts: { lr: 0.01 } },
  { name: 'Adam', opts: { lr: 0.01, weightDecay: 0.01, amsgrad: true } },
  { name: 'Adam', opts: { lr: 0.02, betas: [0.8, 0.99], eps: 1e-6, maximize: true } },
  { name: 'Adam', opts: { lr: 0.01 }, groups: [{ idx: [0, 2], opts: { amsgrad: true } }, { idx: [1, 3], opts: { lr: 0.05, weightDecay: 0.1 } }] },
  { name: 'AdamW', opts: { lr: 0.01 } },
  { name: 'AdamW', opts: { lr: 0.01, weightDecay: 0.1, amsgrad: true } },
  { name: 'AdamW', opts: { lr: 0.005, betas: [0.85, 0.95], maximize: true } },
  { name: 'RMSprop', opts: { lr: 0.01 } },
  { name: 'RMSprop', opts: { lr: 0.005, momentum: 0.9, centered: true, weightDecay: 0.01, alpha: 0.9 } },
  { name: 'RMSprop', opts: { lr: 0.005, momentum: 0.5 } },
  { name: 'RMSprop', opts: { lr: 0.001, centered: true, maximize: true } },
  { name: 'Adagrad', opts: { lr: 0.1 } },
  { name: 'Adagrad', opts: { lr: 0.1, lrDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1, eps: 1e-8 } },
  { name: 'Adagrad', opts: { lr: 0.01, maximize: true }, groups: [{ idx: [0, 1, 2], opts: {} }, { idx: [3], opts: { lr: 0.05, lrDecay: 0.1 } }] },
];

const label = (c: Case): string => `${c.name}(${JSON.stringify(c.opts)}${c.groups ? `, groups ${JSON.stringify(c.groups)}` : ''})`;

type Ctor = (params: Tensor[] | { params: Tensor[] }[], opts: Opts) => optim.Optimizer;
const CTORS: Record<Case['name'], Ctor> = {
  SGD: (p, o) => new optim.SGD(p, o as unknown as optim.SGDOptions),
  Adam: (p, o) => new optim.Adam(p, o as optim.AdamOptions),
  AdamW: (p, o) => new optim.AdamW(p, o as optim.AdamOptions),
  RMSprop: (p, o) => new optim.RMSprop(p, o as optim.RMSpropOptions),
  Adagrad: (p, o) => new optim.Adagrad(p, o as optim.AdagradOptions),
};

function makeParams(dtype: 'float32' | 'float64'): Tensor[] {
  return INIT.map((v) => torch.tensor(v as number[], { dtype, requiresGrad: true }));
}

function makeOptimizer(c: Case, params: Tensor[]): optim.Optimizer {
  const spec = c.groups ? c.groups.map((g) => ({ params: g.idx.map((i) => params[i]), ...g.opts })) : params;
  return CTORS[c.name](spec, c.opts);
}

function trainStep(opt: optim.Optimizer, p: Tensor[], x: Tensor, y: Tensor): void {
  torch.tidy(() => {
    opt.zeroGrad();
    const loss = x.matmul(p[0]).add(p[1]).tanh().matmul(p[2]).add(p[3]).sub(y).pow(2).mean();
    loss.backward();
    opt.step();
  });
}

function train(c: Case, dtype: 'float32' | 'float64', steps: number): { params: Tensor[]; opt: optim.Optimizer } {
  const params = makeParams(dtype);
  const opt = makeOptimizer(c, params);
  const x = torch.tensor(X, { dtype });
  const y = torch.tensor(Y, { dtype });
  for (let i = 0; i < steps; i++) trainStep(opt, params, x, y);
  return { params, opt };
}

interface PyResult { params: Nested[]; state0: Record<string, Nested | null>; groupKeys: string[] }

const PY_TRAIN = `
def run(case, dtype):
    dt = getattr(torch, dtype)
    P = [torch.tensor(a, dtype=dt, requires_grad=True) for a in inputs['init']]
    x = torch.tensor(inputs['x'], dtype=dt); y = torch.tensor(inputs['y'], dtype=dt)
    if case['groups'] is None:
        spec = P
    else:
        spec = [dict(params=[P[i] for i in g['idx']], **g['opts']) for g in case['groups']]
    opt = getattr(torch.optim, case['name'])(spec, **case['opts'])
    for i in range(inputs['steps']):
        opt.zero_grad()
        loss = ((torch.tanh(x @ P[0] + P[1]) @ P[2] + P[3] - y) ** 2).mean()
        loss.backward()
        opt.step()
    sd = opt.state_dict()
    # PyTorch 2.x keeps no state for SGD without momentum where 1.13 kept momentum_buffer None; torchkd keeps
    # the 1.13 form, which both versions load.
    st = sd['state'].get(0, {'momentum_buffer': None} if case['name'] == 'SGD' else {})
    state0 = {k: (None if v is None else (v.tolist() if isinstance(v, torch.Tensor) else v)) for k, v in st.items()}
    return dict(params=[p.detach().tolist() for p in P], state0=state0, groupKeys=sorted(sd['param_groups'][0].keys()))
out = {dtype: [run(c, dtype) for c in inputs['cases']] for dtype in ['float32', 'float64']}
`;

describe('optimizers against PyTorch (100 steps of a 2-layer MLP)', () => {
  let ref: Record<'float32' | 'float64', PyResult[]>;
  beforeAll(() => {
    ref = py(PY_TRAIN, {
      init: INIT, x: X, y: Y, steps: STEPS,
      cases: CASES.map((c) => ({
        name: c.name, opts: snakeOpts(c.opts),
        groups: c.groups ? c.groups.map((g) => ({ idx: g.idx, opts: snakeOpts(g.opts) })) : null,
      })),
    });
  });

  for (const dtype of ['float64', 'float32'] as const) {
    CASES.forEach((c, ci) => {
      it(`${label(c)} ${dtype}`, () => {
        const { params, opt } = train(c, dtype, STEPS);
        const r = ref[dtype][ci];
        // The parameters moved (the test is not vacuous) and equal PyTorch's.
        expect(Math.abs((params[0].toArray() as number[][])[0][0] - (INIT[0] as number[][])[0][0])).toBeGreaterThan(1e-4);
        params.forEach((p, i) => expectClose(p.toArray(), r.params[i], 1e-6, 1e-7));
        // The state dict of parameter 0 has PyTorch's keys and values (step as PyTorch keeps it).
        const sd = opt.stateDict();
        const ours = sd.state.get(0) as Record<string, Tensor | number | null>;
        expect(Object.keys(ours).sort()).toEqual(Object.keys(r.state0).sort());
        for (const [k, v] of Object.entries(r.state0)) {
          const mine = ours[k];
          if (v === null) expect(mine).toBeNull();
          else if (typeof v === 'number') expect(mine instanceof Tensor ? mine.item() : mine).toBe(v);
          else expectClose((mine as Tensor).toArray(), v, 1e-6, 1e-7);
        }
        torch.dispose([...sd.state.values()]);
        // Group keys: PyTorch's, minus the implementation switches torchkd does not have.
        // Options of newer PyTorch releases that torchkd has everywhere are added where this one lacks them.
        const skip = new Set(['foreach', 'capturable', 'differentiable', 'fused', 'params']);
        const newer = c.name === 'Adam' || c.name === 'AdamW' ? ['decoupled_weight_decay'] : [];
        const expected = [...new Set([...r.groupKeys.filter((k) => !skip.has(k)), ...newer])];
        expect(Object.keys(sd.param_groups[0]).filter((k) => k !== 'params').sort())
          .toEqual(expected.sort());
      });
    });
  }
});

describe('stateDict round trip', () => {
  const cases: Case[] = [2, 7, 9, 11, 14, 18, 19].map((i) => CASES[i]);
  for (const c of cases) {
    it(`save after 50 steps, load into a new optimizer, continue: same as 100 uninterrupted (${label(c)})`, () => {
      const dtype = 'float64';
      const full = train(c, dtype, 100);
      const half = train(c, dtype, 50);
      const saved = half.opt.stateDict();
      // A fresh optimizer over copies of the half-trained parameters.
      const params = half.params.map((p) => p.detach().clone().requiresGrad_());
      const opt = makeOptimizer(c, params);
      opt.loadStateDict(saved);
      // The loaded state is a copy: disposing the original optimizer's state does not affect it.
      half.opt.dispose();
      const x = torch.tensor(X, { dtype });
      const y = torch.tensor(Y, { dtype });
      for (let i = 0; i < 50; i++) trainStep(opt, params, x, y);
      params.forEach((p, i) => expect(p.toArray()).toEqual(full.params[i].toArray()));
      const a = opt.stateDict();
      const b = full.opt.stateDict();
      expect(a.param_groups).toEqual(b.param_groups);
      expect([...a.state.keys()]).toEqual([...b.state.keys()]);
      const step = (v: unknown) => (v instanceof Tensor ? v.item() : v ?? null);
      expect(step(a.state.get(0)?.step)).toEqual(step(b.state.get(0)?.step));
    });
  }

  it('loadStateDict restores hyperparameters and rejects mismatched groups', () => {
    const p = makeParams('float64');
    const a = new optim.Adam(p, { lr: 0.5 });
    const b = new optim.Adam(p, { lr: 0.1 });
    b.loadStateDict(a.stateDict());
    expect(b.paramGroups[0].lr).toBe(0.5);
    expect(b.paramGroups[0].params[0]).toBe(p[0]);
    const c = new optim.Adam([{ params: [p[0]] }, { params: [p[1]] }]);
    expect(() => c.loadStateDict(a.stateDict())).toThrow(TorchError);
  });
});

describe('optimizer behaviour', () => {
  it('zeroGrad: setToNone (default) clears, setToNone false zeroes', () => {
    const w = torch.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.1 });
    w.mul(w).sum().backward();
    expect(w.grad?.toArray()).toEqual([2, 4, 6]);
    opt.zeroGrad({ setToNone: false });
    expect(w.grad?.toArray()).toEqual([0, 0, 0]);
    opt.zeroGrad();
    expect(w.grad).toBeNull();
    // No grad: step is a no-op and creates no state.
    opt.step();
    expect(w.toArray()).toEqual([1, 2, 3]);
    expect(opt.state.size).toBe(0);
  });

  it('paramGroups are mutable (lr read at every step) and addParamGroup takes the defaults', () => {
    const a = torch.tensor([1], { dtype: 'float64', requiresGrad: true });
    const b = torch.tensor([1], { dtype: 'float64', requiresGrad: true });
    const opt = new optim.SGD([a], { lr: 0.1, momentum: 0.9 });
    opt.addParamGroup({ params: [b], lr: 0.5 });
    expect(opt.paramGroups[1].momentum).toBe(0.9);
    a.grad = torch.tensor([1], { dtype: 'float64' });
    b.grad = torch.tensor([1], { dtype: 'float64' });
    opt.paramGroups[0].lr = 0.25;
    opt.step();
    expect(a.item()).toBe(0.75);
    expect(b.item()).toBe(0.5);
    expect(() => opt.addParamGroup({ params: [a] })).toThrow(/more than one parameter group/);
  });

  it('closure: step(closure) evaluates the loss and returns it', () => {
    const w = torch.tensor([3], { dtype: 'float64', requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.1 });
    const loss = opt.step(() => {
      opt.zeroGrad();
      const l = w.mul(w).sum();
      l.backward();
      return l;
    }) as Tensor;
    expect(loss.item()).toBe(9);
    expect(w.item()).toBeCloseTo(3 - 0.1 * 6, 12);
  });

  it('Adam with decoupledWeightDecay (PyTorch 2.x) is AdamW, bit for bit', () => {
    const c = { name: 'Adam', opts: { lr: 0.01, weightDecay: 0.05, decoupledWeightDecay: true } } as Case;
    const adam = train(c, 'float64', 30);
    const adamw = train({ name: 'AdamW', opts: { lr: 0.01, weightDecay: 0.05 } } as Case, 'float64', 30);
    const plain = train({ name: 'Adam', opts: { lr: 0.01, weightDecay: 0.05 } } as Case, 'float64', 30);
    adam.params.forEach((p, i) => expect(p.toArray()).toEqual(adamw.params[i].toArray()));
    expect(adam.params[0].toArray()).not.toEqual(plain.params[0].toArray());
    expect(adam.opt.stateDict().param_groups[0].decoupled_weight_decay).toBe(true);
    expect(plain.opt.stateDict().param_groups[0].decoupled_weight_decay).toBe(false);
  });

  it('validates options as PyTorch does', () => {
    const w = torch.tensor([1], { dtype: 'float32', requiresGrad: true });
    expect(() => new optim.SGD([w], { lr: 0.1, nesterov: true })).toThrow(/Nesterov/);
    expect(() => new optim.Adam([w], { betas: [1.5, 0.9] })).toThrow(/beta parameter at index 0/);
    expect(() => new optim.Adam([w], { lr: -1 })).toThrow(/Invalid learning rate/);
    expect(() => new optim.Adam([])).toThrow(/empty parameter list/);
    const nonLeaf = w.mul(2);
    expect(() => new optim.Adam([nonLeaf])).toThrow(/non-leaf/);
  });

  it('does not leak tensors over many steps', () => {
    const c: Case = { name: 'Adam', opts: { lr: 0.01, amsgrad: true } };
    const params = makeParams('float32');
    const opt = makeOptimizer(c, params);
    const sched = new optim.lrScheduler.StepLR(opt, 10, { gamma: 0.9 });
    const x = torch.tensor(X);
    const y = torch.tensor(Y);
    const loop = (n: number): void => {
      for (let i = 0; i < n; i++) {
        torch.tidy(() => {
          opt.zeroGrad();
          x.matmul(params[0]).add(params[1]).tanh().matmul(params[2]).add(params[3]).sub(y).pow(2).mean().backward();
          utils.clipGradNorm_(params, 1.0);
          opt.step();
          sched.step();
        });
      }
    };
    loop(5);
    const before = torch.memory();
    loop(300);
    expect(torch.memory()).toEqual(before);
    // 4 params × 3 state tensors stay alive.
    expect([...opt.state.values()].flatMap((s) => Object.values(s)).filter((v) => typeof v === 'object').length).toBe(12);
    opt.dispose();
    expect(torch.memory().tensors).toBe(before.tensors - 12);
  });
});

// ------------------------------------------------------------------------------------------- schedulers

interface SchedCase {
  name: string;
  /** PyTorch construction, with `opt` in scope. */
  py: string;
  js: (opt: optim.Optimizer) => optim.lrScheduler.LRScheduler;
  optimizer?: 'SGD' | 'Adam';
}
const LS = optim.lrScheduler;
const SCHED_CASES: SchedCase[] = [
  { name: 'StepLR', py: 'S.StepLR(opt, step_size=7, gamma=0.5)', js: (o) => new LS.StepLR(o, 7, { gamma: 0.5 }) },
  { name: 'MultiStepLR', py: 'S.MultiStepLR(opt, milestones=[5, 12, 12, 20], gamma=0.3)', js: (o) => new LS.MultiStepLR(o, [5, 12, 12, 20], { gamma: 0.3 }) },
  { name: 'ExponentialLR', py: 'S.ExponentialLR(opt, gamma=0.9)', js: (o) => new LS.ExponentialLR(o, 0.9) },
  { name: 'CosineAnnealingLR', py: 'S.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)', js: (o) => new LS.CosineAnnealingLR(o, 10, { etaMin: 0.001 }) },
  { name: 'LinearLR', py: 'S.LinearLR(opt, start_factor=0.25, end_factor=0.9, total_iters=8)', js: (o) => new LS.LinearLR(o, { startFactor: 0.25, endFactor: 0.9, totalIters: 8 }) },
  { name: 'LinearLR defaults', py: 'S.LinearLR(opt)', js: (o) => new LS.LinearLR(o) },
  { name: 'LambdaLR', py: 'S.LambdaLR(opt, lambda e: 0.95 ** e + 0.1 * (e % 3))', js: (o) => new LS.LambdaLR(o, (e) => 0.95 ** e + 0.1 * (e % 3)) },
  { name: 'LambdaLR per group', py: 'S.LambdaLR(opt, [lambda e: 1 / (1 + e), lambda e: 0.9 ** e])', js: (o) => new LS.LambdaLR(o, [(e) => 1 / (1 + e), (e) => 0.9 ** e]) },
  { name: 'OneCycleLR SGD', py: 'S.OneCycleLR(opt, max_lr=[0.5, 0.2], total_steps=30)', js: (o) => new LS.OneCycleLR(o, [0.5, 0.2], { totalSteps: 30 }) },
  {
    name: 'OneCycleLR Adam three-phase linear', optimizer: 'Adam',
    py: "S.OneCycleLR(opt, max_lr=0.3, epochs=3, steps_per_epoch=10, anneal_strategy='linear', three_phase=True, pct_start=0.25)",
    js: (o) => new LS.OneCycleLR(o, 0.3, { epochs: 3, stepsPerEpoch: 10, annealStrategy: 'linear', threePhase: true, pctStart: 0.25 }),
  },
  {
    name: 'SequentialLR', py: 'S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(opt, T_max=12)], milestones=[5])',
    js: (o) => new LS.SequentialLR(o, [new LS.LinearLR(o, { startFactor: 0.1, totalIters: 5 }), new LS.CosineAnnealingLR(o, 12)], [5]),
  },
  {
    name: 'SequentialLR three', py: 'S.SequentialLR(opt, [S.ExponentialLR(opt, gamma=0.8), S.StepLR(opt, step_size=3), S.ExponentialLR(opt, gamma=0.95)], milestones=[4, 15])',
    js: (o) => new LS.SequentialLR(o, [new LS.ExponentialLR(o, 0.8), new LS.StepLR(o, 3), new LS.ExponentialLR(o, 0.95)], [4, 15]),
  },
];
const EPOCHS = 30;

function schedOptimizer(kind: 'SGD' | 'Adam'): optim.Optimizer {
  const a = torch.tensor([1.0], { dtype: 'float32', requiresGrad: true });
  const b = torch.tensor([2.0], { dtype: 'float32', requiresGrad: true });
  return kind === 'SGD'
    ? new optim.SGD([{ params: [a], lr: 0.1 }, { params: [b], lr: 0.05 }], { lr: 0.1, momentum: 0.9 })
    : new optim.Adam([{ params: [a], lr: 0.1 }, { params: [b], lr: 0.05 }]);
}

const momentumOf = (opt: optim.Optimizer): number[] =>
  (opt.paramGroups as unknown as { betas?: number[]; momentum: number }[]).map((g) => (Array.isArray(g.betas) ? g.betas[0] : g.momentum));

describe('lr schedulers against PyTorch', () => {
  let ref: { lrs: number[][]; moms: number[][] }[];
  beforeAll(() => {
    ref = py(`
import torch.optim.lr_scheduler as S
res = []
for c in inputs:
    a = torch.tensor([1.0], requires_grad=True); b = torch.tensor([2.0], requires_grad=True)
    if c['optimizer'] == 'SGD':
        opt = torch.optim.SGD([{'params': [a], 'lr': 0.1}, {'params': [b], 'lr': 0.05}], lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam([{'params': [a], 'lr': 0.1}, {'params': [b], 'lr': 0.05}])
    sched = eval(c['py'])
    mom = lambda: [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups]
    lrs = [sched.get_last_lr()]; moms = [mom()]
    for e in range(${EPOCHS}):
        opt.step(); sched.step()
        lrs.append(sched.get_last_lr()); moms.append(mom())
    res.append(dict(lrs=lrs, moms=moms))
out = res
`, SCHED_CASES.map((c) => ({ py: c.py, optimizer: c.optimizer ?? 'SGD' })));
  });

  SCHED_CASES.forEach((c, ci) => {
    it(`${c.name}: ${EPOCHS} epochs of lr (and momentum) equal PyTorch's`, () => {
      const opt = schedOptimizer(c.optimizer ?? 'SGD');
      const sched = c.js(opt);
      const lrs = [sched.getLastLr()];
      const moms = [momentumOf(opt)];
      for (let e = 0; e < EPOCHS; e++) {
        opt.step();
        sched.step();
        lrs.push(sched.getLastLr());
        moms.push(momentumOf(opt));
      }
      expect(new Set(lrs.map((l) => l[0])).size).toBeGreaterThan(2);
      // Within 1e-15 relative: JS's Math.cos / ** may differ from Python's libm by an ulp, while the
      // recursive and closed forms of CosineAnnealingLR differ by ~5e-15 (checked below).
      expectClose(lrs, ref[ci].lrs, 1e-15, 0);
      expectClose(moms, ref[ci].moms, 1e-15, 0);
      // The groups' lr is what the scheduler reports.
      expect(opt.paramGroups.map((g) => g.lr)).toEqual(sched.getLastLr());
    });
  });

  it('CosineAnnealingLR follows the recursive form (the closed form is measurably different)', () => {
    const ci = SCHED_CASES.findIndex((c) => c.name === 'CosineAnnealingLR');
    const closed = ref[ci].lrs.map((_, e) => 0.001 + (0.1 - 0.001) * (1 + Math.cos(Math.PI * e / 10)) / 2);
    const worst = Math.max(...closed.map((c, e) => Math.abs(c - ref[ci].lrs[e][0]) / c));
    expect(worst).toBeGreaterThan(3e-15);
    // step(epoch) uses the closed form, as in PyTorch.
    const opt = schedOptimizer('SGD');
    const sched = new LS.CosineAnnealingLR(opt, 10, { etaMin: 0.001 });
    sched.step(17);
    expect(sched.getLastLr()[0]).toBe(closed[17]);
  });

  for (const ci of [0, 3, 8, 10]) {
    it(`${SCHED_CASES[ci].name}: stateDict round trip continues the same sequence`, () => {
      const c = SCHED_CASES[ci];
      const opt = schedOptimizer(c.optimizer ?? 'SGD');
      const sched = c.js(opt);
      for (let e = 0; e < 11; e++) sched.step();
      const opt2 = schedOptimizer(c.optimizer ?? 'SGD');
      const sched2 = c.js(opt2);
      opt2.loadStateDict(opt.stateDict());
      sched2.loadStateDict(JSON.parse(JSON.stringify(sched.stateDict())));
      expect(sched2.getLastLr()).toEqual(sched.getLastLr());
      for (let e = 0; e < 15; e++) {
        sched.step();
        sched2.step();
        expect(sched2.getLastLr()).toEqual(sched.getLastLr());
      }
      expectClose(sched.getLastLr(), ref[ci].lrs[26], 1e-12, 0);
    });
  }
});

// ---------------------------------------------------------------------------------------------- utils

describe('gradient utils against PyTorch', () => {
  const G = [[[0.5, -1.5], [2.0, 0.25]], [3.0, -0.75, 0.1], [[-4.0]]];
  const cases: { maxNorm: number; normType: number }[] = [
    { maxNorm: 1.0, normType: 2 }, { maxNorm: 100, normType: 2 }, { maxNorm: 0.5, normType: 1 },
    { maxNorm: 2.0, normType: Infinity }, { maxNorm: 1.5, normType: 3 },
  ];
  let ref: Record<string, { total: number; grads: Nested[] }[]>;
  beforeAll(() => {
    ref = py(`
from torch.nn.utils import clip_grad_norm_
out = {}
for dtype in ['float32', 'float64']:
    dt = getattr(torch, dtype); res = []
    for c in inputs['cases']:
        ps = [torch.zeros(torch.tensor(g).shape, dtype=dt, requires_grad=True) for g in inputs['g']]
        for p, g in zip(ps, inputs['g']): p.grad = torch.tensor(g, dtype=dt)
        nt = float('inf') if c['normType'] is None else c['normType']
        total = clip_grad_norm_(ps, c['maxNorm'], nt)
        res.append(dict(total=total.item(), grads=[p.grad.tolist() for p in ps]))
    out[dtype] = res
`, { g: G, cases: cases.map((c) => ({ maxNorm: c.maxNorm, normType: Number.isFinite(c.normType) ? c.normType : null })) });
  });

  for (const dtype of ['float32', 'float64'] as const) {
    cases.forEach((c, ci) => {
      it(`clipGradNorm_ maxNorm ${c.maxNorm}, normType ${c.normType}, ${dtype}`, () => {
        const ps = G.map((g) => {
          const p = torch.zerosLike(torch.tensor(g as number[], { dtype })).requiresGrad_();
          p.grad = torch.tensor(g as number[], { dtype });
          return p;
        });
        const total = utils.clipGradNorm_(ps, c.maxNorm, c.normType);
        expect(total.dtype).toBe(dtype);
        expectClose(total.item(), ref[dtype][ci].total, 1e-6, 0);
        ps.forEach((p, i) => expectClose(p.grad?.toArray(), ref[dtype][ci].grads[i], 1e-6, 1e-7));
      });
    });
  }

  it('clipGradNorm_ errorIfNonfinite, no grads', () => {
    const p = torch.tensor([1, 2], { dtype: 'float32', requiresGrad: true });
    p.grad = torch.tensor([Number.NaN, 1], { dtype: 'float32' });
    expect(() => utils.clipGradNorm_([p], 1, 2, { errorIfNonfinite: true })).toThrow(TorchError);
    expect(Number.isNaN(utils.clipGradNorm_([p], 1).item())).toBe(true);
    const q = torch.tensor([1], { dtype: 'float32', requiresGrad: true });
    expect(utils.clipGradNorm_([q], 1).item()).toBe(0);
  });

  it('clipGradValue_ clamps; parametersToVector / vectorToParameters round trip', () => {
    const a = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32', requiresGrad: true });
    const b = torch.tensor([5, 6], { dtype: 'float32', requiresGrad: true });
    a.grad = torch.tensor([[-3, 0.5], [2, -0.2]], { dtype: 'float32' });
    utils.clipGradValue_([a, b], 1);
    expectClose(a.grad?.toArray(), [[-1, 0.5], [1, -0.2]]);
    const v = utils.parametersToVector([a, b]);
    expect(v.toArray()).toEqual([1, 2, 3, 4, 5, 6]);
    utils.vectorToParameters(v.mul(10), [a, b]);
    expect(a.toArray()).toEqual([[10, 20], [30, 40]]);
    expect(b.toArray()).toEqual([50, 60]);
    expect(a.isLeaf && a.requiresGrad).toBe(true);
    expect(() => utils.vectorToParameters(torch.zeros([5]), [a, b])).toThrow(TorchError);
  });
});

// ------------------------------------------------------------------------------------------------ types

describe('public types', () => {
  it('a strict TypeScript consumer of optim, lrScheduler and nn.utils type-checks', () => {
    const root = join(__dirname, '..');
    const dir = join(root, 'build', 'types-check');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'optim-consumer.ts'), `import { torch, optim, nn, Tensor } from '../../dist/index';
const utils = nn.utils;
const w: Tensor = torch.randn([3, 2], { requiresGrad: true });
const b: Tensor = torch.zeros([2], { requiresGrad: true });
function* gen(): Generator<Tensor> { yield w; yield b; }
const sgd = new optim.SGD(gen(), { lr: 0.1, momentum: 0.9, nesterov: true });
const adam = new optim.Adam([{ params: [w], lr: 1e-3 }, { params: [b], weightDecay: 0 }], { amsgrad: true });
const adamw = new optim.AdamW([w, b]);
const rms = new optim.RMSprop([w], { centered: true });
const ada = new optim.Adagrad([w], { lrDecay: 0.1 });
sgd.paramGroups[0].lr = 0.01;
const m: number = sgd.paramGroups[0].momentum;
const betas: [number, number] = adam.paramGroups[0].betas;
const s1 = new optim.lrScheduler.StepLR(sgd, 10, { gamma: 0.5 });
const s2 = new optim.lrScheduler.OneCycleLR(adam, 0.1, { totalSteps: 100 });
const s3 = new optim.lrScheduler.SequentialLR(adamw, [new optim.lrScheduler.LinearLR(adamw), new optim.lrScheduler.CosineAnnealingLR(adamw, 10)], [5]);
const s4 = new optim.lrScheduler.LambdaLR(rms, (e) => 0.9 ** e);
const lr: number[] = s1.getLastLr();
const sd: optim.OptimizerStateDict = ada.stateDict();
ada.loadStateDict(sd);
const total: Tensor = utils.clipGradNorm_([w, b], 1.0, 2, { errorIfNonfinite: true });
utils.clipGradValue_(gen(), 0.5);
const vec: Tensor = utils.parametersToVector([w, b]);
utils.vectorToParameters(vec, [w, b]);
const loss = sgd.step(() => w.sum());
sgd.zeroGrad({ setToNone: false });
void [m, betas, s2, s3, s4, lr, total, loss];
`);
    // tsc exits non-zero (execFileSync throws, with the diagnostics) when the consumer does not compile.
    const diagnostics = execFileSync(join(root, 'node_modules', '.bin', 'tsc'),
      ['--strict', '--noEmit', '--skipLibCheck', 'false', '--types', 'node', join(dir, 'optim-consumer.ts')],
      { cwd: root, encoding: 'utf8' });
    expect(diagnostics).toBe('');
  });

  it("ESM: import { optim, nn } from 'torchkd' (dist/index.mjs) works", () => {
    const entry = join(__dirname, '..', 'dist', 'index.mjs');
    const code = `import { optim, nn, torch } from ${JSON.stringify(entry)}; const utils = nn.utils;
      const w = torch.tensor([1.5], { dtype: 'float64', requiresGrad: true });
      const opt = new optim.SGD([w], { lr: 0.1 });
      w.mul(w).sum().backward();
      const norm = utils.clipGradNorm_([w], 10).item();
      opt.step();
      console.log(JSON.stringify([norm, w.item(), typeof optim.lrScheduler.OneCycleLR]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([3, 1.5 - 0.1 * 3, 'function']);
  });
});
