// Batch augmentations: crops and flips reproduced in Python PyTorch from the same generator state (the CPU
// generator's numbers equal PyTorch's after manual_seed), Beta draws against PyTorch's own Beta sampler,
// the mixup formula and loss, reproducibility, leaks and speed.
import { describe, expect, it } from 'vitest';
import { data, torch, type Tensor } from '../dist/index.js';
import { expectClose, py, testDevices } from './helpers';

const { randomCrop, randomHorizontalFlip, mixup, compose, mixupCrossEntropy, sampleBeta } = data;

function disposeBatch(b: { input: Tensor; target?: Tensor; mix?: { targetB: Tensor } }): void {
  b.input.dispose();
  b.target?.dispose();
  b.mix?.targetB.dispose();
}

describe('randomCrop', () => {
  it('each sample is the window of F.pad(x) at offsets (top, left) = randint draws, in every padding mode', () => {
    const cases = [
      { shape: [7, 3, 8, 8], size: 8, padding: 2, paddingMode: 'constant', fill: 0 },
      { shape: [7, 2, 6, 9], size: [5, 7], padding: 3, paddingMode: 'constant', fill: -1.5 },
      { shape: [7, 3, 8, 8], size: 6, padding: 2, paddingMode: 'reflect' },
      { shape: [7, 1, 5, 6], size: [4, 6], padding: 1, paddingMode: 'replicate' },
      { shape: [7, 6, 5], size: 4, padding: 0, paddingMode: 'constant' },           // [B, H, W]
      { shape: [5, 2, 3, 6, 6], size: 5, padding: 1, paddingMode: 'reflect' },     // [B, T, C, H, W]
    ] as const;
    const outs: Tensor[] = [];
    const inputs = cases.map((c, k) => {
      torch.manualSeed(100 + k);
      const x = torch.randn([...c.shape], { dtype: 'float64' });
      torch.manualSeed(7 + k);
      const fill = 'fill' in c ? c.fill : undefined;
      outs.push(randomCrop({ size: c.size as number | [number, number], padding: c.padding, paddingMode: c.paddingMode, fill })({ input: x }).input);
      const [h, w] = Array.isArray(c.size) ? c.size : [c.size, c.size];
      expect(outs[k].shape).toEqual([...c.shape.slice(0, -2), h, w]);
      return { x: x.toArray(), p: c.padding, hw: [h, w], mode: c.paddingMode, fill: fill ?? 0, seed: 7 + k };
    });
    const ref = py<number[][]>(`
import torch.nn.functional as F
def crop(x, p, hw, mode, fill, seed):
    x = torch.tensor(x, dtype=torch.float64); B = x.shape[0]; H, W = x.shape[-2:]; h, w = hw
    torch.manual_seed(seed)
    top = torch.randint(0, H + 2 * p - h + 1, (B, 1, 1)); left = torch.randint(0, W + 2 * p - w + 1, (B, 1, 1))
    imgs = x.reshape(B, -1, H, W)
    padded = F.pad(imgs, [p] * 4, mode=mode, value=fill) if mode == 'constant' else F.pad(imgs, [p] * 4, mode=mode)
    return torch.stack([padded[b, :, top[b]:top[b] + h, left[b]:left[b] + w] for b in range(B)]).reshape(*x.shape[:-2], h, w).tolist()
out = [crop(**c) for c in inputs]`, inputs);
    for (const [k, out] of outs.entries()) expectClose(out.toArray(), ref[k], 0, 0);
  });

  it('offsets are uniform over every position, independently per sample', () => {
    torch.manualSeed(3);
    const B = 4000;
    // Each sample's pixels hold their own (row, col) code, so the crop's top-left pixel gives its offset.
    const code = torch.arange(36, { dtype: 'float32' }).view([1, 1, 6, 6]).expand([B, 1, 6, 6]);
    const out = randomCrop({ size: 4 })({ input: code });
    const corners = out.input.index([torch.slice(null), 0, 0, 0]).dataSync() as Float32Array;
    const counts = new Map<number, number>();
    for (const v of corners) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 6, 7, 8, 12, 13, 14]);
    for (const n of counts.values()) expect(Math.abs(n - B / 9)).toBeLessThan(5 * Math.sqrt((B / 9) * (8 / 9)));
  });

  it('refuses bad options and inputs with TorchErrors', () => {
    expect(() => randomCrop({ size: 0 })).toThrow(/size must be a positive integer/);
    expect(() => randomCrop({ size: [3, 4, 5] as unknown as [number, number] })).toThrow(/size must be a number or \[height, width\]/);
    expect(() => randomCrop({ size: 3, padding: -1 })).toThrow(/padding must be a non-negative integer/);
    expect(() => randomCrop({ size: 3, paddingMode: 'edge' as 'reflect' })).toThrow(/paddingMode must be/);
    const x = torch.zeros([2, 1, 4, 4]);
    expect(() => randomCrop({ size: 7, padding: 1 })({ input: x })).toThrow(/crop size \[7, 7\] is larger than the padded image \[6, 6\]/);
    expect(() => randomCrop({ size: 2 })({ input: torch.zeros([4, 4]) })).toThrow(/batch of images/);
    expect(() => randomCrop({ size: 2 })({ input: [1, 2] as unknown as Tensor })).toThrow(/batch.input must be a Tensor/);
    expect(() => randomCrop({ size: 2 })(null as unknown as { input: Tensor })).toThrow(/expected a batch/);
    expect(() => randomCrop({ size: 2 })({ input: x, target: [0, 1] as unknown as Tensor })).toThrow(/batch.target must be a Tensor, got Array/);
    expect(() => randomCrop({ size: 2 })({ input: x, mix: { lam: 0.5 } as unknown as { targetB: Tensor; lam: number } })).toThrow(/batch.mix must be/);
  });
});

describe('randomHorizontalFlip', () => {
  it('flips sample b when u_b < p, u = torch.rand(B) (as PyTorch computes it), and p = 0 / 1 never / always flip', () => {
    torch.manualSeed(11);
    const x = torch.randn([40, 2, 3, 5], { dtype: 'float64' });
    torch.manualSeed(12);
    const out = randomHorizontalFlip({ p: 0.3 })({ input: x });
    const ref = py<{ y: number[]; n: number }>(`
x = torch.tensor(inputs['x'], dtype=torch.float64); torch.manual_seed(12)
f = torch.rand(x.shape[0]) < 0.3
out = dict(y=torch.where(f[:, None, None, None], x.flip(-1), x).tolist(), n=int(f.sum()))`, { x: x.toArray() });
    expectClose(out.input.toArray(), ref.y, 0, 0);
    expect(ref.n).toBeGreaterThan(3);
    expect(ref.n).toBeLessThan(37);
    expect(randomHorizontalFlip({ p: 0 })({ input: x }).input.equal(x)).toBe(true);
    expect(randomHorizontalFlip({ p: 1 })({ input: x }).input.equal(x.flip([-1]))).toBe(true);
    expect(() => randomHorizontalFlip({ p: 1.5 })).toThrow(/p must be a probability/);
  });
});

describe('sampleBeta', () => {
  it('has the moments of Beta(a, b): mean a/(a+b), variance ab/((a+b)²(a+b+1))', () => {
    torch.manualSeed(5);
    const n = 200_000;
    for (const [a, b] of [[1, 1], [0.4, 0.4], [0.1, 0.1], [2, 5], [0.5, 3], [20, 20]]) {
      const s = sampleBeta(a, b, [n], { dtype: 'float64' });
      const mean = a / (a + b);
      const variance = (a * b) / ((a + b) ** 2 * (a + b + 1));
      expect(s.min().item()).toBeGreaterThanOrEqual(0);
      expect(s.max().item()).toBeLessThanOrEqual(1);
      expect(Math.abs(s.mean().item() - mean)).toBeLessThan(5 * Math.sqrt(variance / n));
      expect(Math.abs(s.var().item() / variance - 1)).toBeLessThan(0.03);
    }
  });

  it('has the distribution of PyTorch\'s Beta sampler (empirical CDFs within 5 standard errors)', () => {
    torch.manualSeed(6);
    const n = 100_000;
    const points = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];
    const params = [[0.2, 0.2], [1, 1], [3, 0.7]];
    const ours = params.map(([a, b]) => {
      const s = sampleBeta(a, b, [n], { dtype: 'float64' });
      return points.map((q) => s.le(q).double().mean().item());
    });
    const ref = py<number[][]>(`
torch.manual_seed(0)
def cdf(a, b):
    s = torch.distributions.Beta(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)).sample((inputs['n'],))
    return [(s <= q).double().mean().item() for q in inputs['points']]
out = [cdf(a, b) for a, b in inputs['params']]`, { params, n, points });
    for (const [k, cdf] of ours.entries()) {
      for (let i = 0; i < points.length; i++) {
        const F = (cdf[i] + ref[k][i]) / 2;
        expect(Math.abs(cdf[i] - ref[k][i])).toBeLessThanOrEqual(5 * Math.sqrt((2 * F * (1 - F)) / n) + 1e-12);
      }
    }
  });

  it('gives the requested shape and dtype, and refuses bad parameters', () => {
    expect(sampleBeta(2, 2, [3, 4]).shape).toEqual([3, 4]);
    expect(sampleBeta(2, 2, [3, 4]).dtype).toBe('float32');
    expect(sampleBeta(2, 2, []).shape).toEqual([]);
    expect(() => sampleBeta(0, 1, [2])).toThrow(/alpha must be a positive finite number/);
    expect(() => sampleBeta(1, Infinity, [2])).toThrow(/beta must be a positive finite number/);
    expect(() => sampleBeta(1, 1, [-1])).toThrow(/size must be an array of non-negative integers/);
  });
});

describe('mixup', () => {
  it('input = lam·x + (1 − lam)·x[π], mix = { targetB: target[π], lam }, one lam per batch', () => {
    torch.manualSeed(21);
    const B = 16;
    const x = torch.randn([B, 3, 4, 4], { dtype: 'float64' });
    const target = torch.arange(B);     // target[π] = π
    const lams: number[] = [];
    for (let k = 0; k < 5; k++) {
      const out = mixup({ alpha: 0.4 })({ input: x, target });
      const mix = out.mix as { targetB: Tensor; lam: number };
      const perm = mix.targetB;
      expect([...(perm.dataSync() as BigInt64Array)].map(Number).sort((a, b) => a - b)).toEqual([...Array(B).keys()]);
      expect(out.target?.equal(target)).toBe(true);
      const expected = x.mul(mix.lam).add(x.indexSelect(0, perm).mul(1 - mix.lam));
      expectClose(out.input.toArray(), expected.toArray(), 1e-15, 1e-15);
      lams.push(mix.lam);
    }
    expect(new Set(lams).size).toBe(5);
    for (const lam of lams) expect(lam >= 0 && lam <= 1).toBe(true);
  });

  it('lam ~ Beta(alpha, alpha) over many batches, and without a target there is no mix', () => {
    torch.manualSeed(22);
    const x = torch.randn([2, 1, 2, 2]);
    const y = torch.tensor([0, 1]);
    const aug = mixup({ alpha: 0.5 });
    const n = 3000;
    let sum = 0;
    let sum2 = 0;
    for (let k = 0; k < n; k++) {
      const out = aug({ input: x, target: y });
      const lam = (out.mix as { lam: number }).lam;
      sum += lam;
      sum2 += lam * lam;
      disposeBatch(out);
    }
    const variance = 1 / (4 * (2 * 0.5 + 1));
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(5 * Math.sqrt(variance / n));
    expect(Math.abs((sum2 / n - (sum / n) ** 2) / variance - 1)).toBeLessThan(0.1);
    const plain = aug({ input: x });
    expect(plain.mix).toBeUndefined();
    expect(plain.target).toBeUndefined();
    expect(() => aug({ input: x, target: y, mix: { targetB: y, lam: 0.5 } })).toThrow(/already mixed/);
    expect(() => mixup({ alpha: 0 })).toThrow(/alpha must be a positive finite number/);
  });

  it('mixupCrossEntropy = lam·CE(target) + (1 − lam)·CE(targetB), checked in PyTorch, and plain CE without mix', () => {
    torch.manualSeed(23);
    const logits = torch.randn([6, 5], { dtype: 'float64' }).requiresGrad_();
    const y = torch.randint(0, 5, [6]);
    const yb = torch.randint(0, 5, [6]);
    const ours = mixupCrossEntropy(logits, y, { targetB: yb, lam: 0.3 });
    ours.backward();
    const ref = py<{ loss: number; grad: number[][]; plain: number }>(`
import torch.nn.functional as F
s = torch.tensor(inputs['s'], dtype=torch.float64, requires_grad=True); y = torch.tensor(inputs['y']); yb = torch.tensor(inputs['yb'])
loss = 0.3 * F.cross_entropy(s, y) + 0.7 * F.cross_entropy(s, yb); loss.backward()
out = dict(loss=loss.item(), grad=s.grad.tolist(), plain=F.cross_entropy(s, y).item())`,
    { s: logits.detach().toArray(), y: y.toArray(), yb: yb.toArray() });
    expectClose(ours.item(), ref.loss, 1e-12, 1e-14);
    expectClose((logits.grad as Tensor).toArray(), ref.grad, 1e-12, 1e-14);
    expectClose(mixupCrossEntropy(logits, y).item(), ref.plain, 1e-12, 1e-14);
    expect(() => mixupCrossEntropy(logits, y, { targetB: yb, lam: 2 })).toThrow(/lam must be in \[0, 1\]/);
  });
});

describe('compose, reproducibility and memory', () => {
  const pipeline = () => compose([randomCrop({ size: 28, padding: 4, paddingMode: 'reflect' }), randomHorizontalFlip(), mixup()]);

  it('the same seed gives the same batch, another seed another one', () => {
    const x = torch.randn([32, 1, 28, 28]);
    const y = torch.randint(0, 10, [32]);
    const run = (seed: number) => {
      torch.manualSeed(seed);
      return pipeline()({ input: x, target: y });
    };
    const [a, b, c] = [run(1), run(1), run(2)];
    expect(a.input.equal(b.input)).toBe(true);
    expect(a.mix?.lam).toBe(b.mix?.lam);
    expect(a.mix?.targetB.equal(b.mix?.targetB as Tensor)).toBe(true);
    expect(a.input.equal(c.input)).toBe(false);
  });

  it('compose applies in order: crop then flip equals flip of the crop under the same draws', () => {
    const x = torch.randn([9, 2, 6, 6]);
    torch.manualSeed(4);
    const composed = compose([randomCrop({ size: 4, padding: 1 }), randomHorizontalFlip()])({ input: x }).input;
    torch.manualSeed(4);
    const cropped = randomCrop({ size: 4, padding: 1 })({ input: x }).input;
    const manual = randomHorizontalFlip()({ input: cropped }).input;
    expect(composed.equal(manual)).toBe(true);
    const same = compose([])({ input: x });
    expect(same.input.equal(x)).toBe(true);
    same.input.dispose();
    expect(x.isDisposed).toBe(false);
  });

  it('leaks no tensor: outputs are new handles, intermediates and failed calls are freed', () => {
    const x = torch.randn([8, 3, 28, 28]);
    const y = torch.randint(0, 10, [8]);
    const aug = pipeline();
    const before = torch.memory().tensors;
    for (let k = 0; k < 20; k++) disposeBatch(aug({ input: x, target: y }));
    disposeBatch(randomCrop({ size: 4 })({ input: x, target: y, mix: { targetB: y, lam: 0.5 } }));
    disposeBatch(compose([])({ input: x, target: y }));
    sampleBeta(0.3, 0.3, [1000]).dispose();
    const failing = compose([randomHorizontalFlip(), randomCrop({ size: 99 })]);
    expect(() => failing({ input: x, target: y })).toThrow(/larger than the padded image/);
    expect(torch.memory().tensors).toBe(before);
    // The inputs survive their outputs' disposal.
    expect(x.isDisposed || y.isDisposed).toBe(false);
  });

  it('runs on each test device, keeping the batch on it', () => {
    for (const device of testDevices()) {
      const x = torch.randn([16, 3, 8, 8], { device });
      const y = torch.randint(0, 10, [16], { device });
      const identity = randomCrop({ size: 8 })({ input: x }).input;
      expect(identity.device).toBe(x.device);
      expect(identity.equal(x)).toBe(true);
      const onDevice = compose([randomCrop({ size: 8, padding: 2 }), randomHorizontalFlip(), mixup()])({ input: x, target: y });
      expect(onDevice.input.device).toBe(x.device);
      expect(onDevice.mix?.targetB.device).toBe(y.device);
      expect(onDevice.input.shape).toEqual([16, 3, 8, 8]);
    }
  });
});
