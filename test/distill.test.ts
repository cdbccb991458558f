// Distillation losses against values computed in Python PyTorch from each paper's formula (not from the
// TypeScript), plus the identities the methods rest on.
import { describe, expect, it } from 'vitest';
import { distill, nn, optim, torch, type Tensor } from '../dist/index.js';
import { expectClose, py } from './helpers';

function logits(seed: number, b = 6, c = 5) {
  torch.manualSeed(seed);
  const s = torch.randn([b, c], { dtype: 'float64' });
  const t = torch.randn([b, c], { dtype: 'float64' }).mul(2);
  const y = torch.randint(0, c, [b]);
  return { s, t, y, inputs: { s: s.toArray(), t: t.toArray(), y: y.toArray() } };
}

const PY_PRELUDE = `s = torch.tensor(inputs['s'], dtype=torch.float64); t = torch.tensor(inputs['t'], dtype=torch.float64)
y = torch.tensor(inputs['y']); B, C = s.shape`;

describe('Hinton KD', () => {
  it('kdLoss = T²·KL(softmax(t/T) ‖ softmax(s/T)) under every reduction, and hintonLoss mixes it with CE', () => {
    const { s, t, y, inputs } = logits(1);
    const ours = {
      batchmean: distill.kdLoss(s, t).item(),
      sum: distill.kdLoss(s, t, { reduction: 'sum' }).item(),
      none: distill.kdLoss(s, t, { reduction: 'none' }).toArray(),
      mean: distill.kdLoss(s, t, { reduction: 'mean', temperature: 2 }).item(),
      hinton: distill.hintonLoss(s, t, y, { temperature: 3, alpha: 0.7 }).item(),
    };
    const ref = py(`${PY_PRELUDE}
def kl(T):  # the paper's soft-target term, elementwise: p_t (log p_t − log p_s)
    ps, pt = torch.softmax(s / T, 1), torch.softmax(t / T, 1)
    return pt * (pt.log() - ps.log())
out = dict(batchmean=16 * kl(4).sum().item() / B, sum=16 * kl(4).sum().item(), none=(16 * kl(4).sum(1)).tolist(),
           mean=4 * kl(2).mean().item(),
           hinton=(0.3 * torch.nn.functional.cross_entropy(s, y) + 0.7 * 9 * kl(3).sum() / B).item())`, inputs);
    expectClose(ours, ref, 1e-12, 1e-14);
  });

  it('∂kdLoss/∂s = T·(softmax(s/T) − softmax(t/T))/B, tending to (s − t)/(C·B) for large T and zero-mean logits', () => {
    const { s, t } = logits(2);
    const B = 6;
    const C = 5;
    for (const T of [4, 1000]) {
      const leaf = s.detach().clone().requiresGrad_();
      distill.kdLoss(leaf, t, { temperature: T }).backward();
      const expected = leaf.detach().div(T).softmax(1).sub(t.div(T).softmax(1)).mul(T / B);
      expectClose((leaf.grad as Tensor).toArray(), expected.toArray(), 1e-9, 1e-12);
    }
    const sc = s.sub(s.mean(1, { keepdim: true }));
    const tc = t.sub(t.mean(1, { keepdim: true }));
    const leaf = sc.detach().clone().requiresGrad_();
    distill.kdLoss(leaf, tc, { temperature: 1e4 }).backward();
    expectClose((leaf.grad as Tensor).toArray(), sc.sub(tc).div(C * B).toArray(), 1e-3, 1e-6);
  });

  it('rejects bad options and frees its intermediates', () => {
    const { s, t } = logits(3);
    expect(() => distill.kdLoss(s, t, { temperature: 0 })).toThrow(/temperature must be positive/);
    expect(() => distill.kdLoss(s, t, { reduction: 'avg' as never })).toThrow(/unknown reduction/);
    const before = torch.memory().tensors;
    distill.kdLoss(s, t).dispose();
    distill.hintonLoss(s, t, torch.zeros([6], { dtype: 'int64' })).dispose();
    expect(torch.memory().tensors).toBe(before + 1);
  });
});

describe('Decoupled KD', () => {
  it("TCKD and NCKD equal the paper's binary and renormalised non-target KLs; dkdLoss = α·TCKD + β·NCKD", () => {
    const { s, t, y, inputs } = logits(4);
    const { tckd, nckd } = distill.dkdParts(s, t, y);
    const ours = { tckd: tckd.item(), nckd: nckd.item(), loss: distill.dkdLoss(s, t, y, { alpha: 0.5, beta: 2 }).item() };
    const ref = py(`${PY_PRELUDE}
T = 4
ps, pt = torch.softmax(s / T, 1), torch.softmax(t / T, 1)
rows = torch.arange(B)
bs = torch.stack([ps[rows, y], 1 - ps[rows, y]], 1); bt = torch.stack([pt[rows, y], 1 - pt[rows, y]], 1)
tckd = T * T * (bt * (bt.log() - bs.log())).sum() / B
keep = torch.ones(B, C, dtype=torch.bool); keep[rows, y] = False
qs = ps * keep / (ps * keep).sum(1, keepdim=True); qt = pt * keep / (pt * keep).sum(1, keepdim=True)
nckd = T * T * torch.where(keep, qt * (qt.log() - qs.log()), torch.zeros(())).sum() / B
out = dict(tckd=tckd.item(), nckd=nckd.item(), loss=(0.5 * tckd + 2 * nckd).item())`, inputs);
    expectClose(ours, ref, 1e-10, 1e-14);
  });

  it('per sample, KD = TCKD + (1 − p_target^teacher) · NCKD', () => {
    const { s, t, y } = logits(5);
    for (let i = 0; i < 6; i++) {
      torch.tidy(() => {
        const [si, ti, yi] = [s.narrow(0, i, 1), t.narrow(0, i, 1), y.narrow(0, i, 1)];
        const { tckd, nckd } = distill.dkdParts(si, ti, yi);
        const pTarget = ti.div(4).softmax(1).gather(1, yi.unsqueeze(1)).item();
        expect(distill.kdLoss(si, ti).item()).toBeCloseTo(tckd.item() + (1 - pTarget) * nckd.item(), 10);
      });
    }
  });

  it('the warm-up factor is min(epoch / warmup, 1)', () => {
    expect([0, 5, 20, 40].map((e) => distill.dkdWarmup(e, 20))).toEqual([0, 0.25, 1, 1]);
  });
});

describe('noisy teacher', () => {
  it('σ = 0 is the identity; ξ, the applied fraction and the per-batch switch follow the formula', () => {
    torch.manualSeed(6);
    const z = torch.randn([4000, 10], { dtype: 'float64' }).add(3);
    expect(distill.perturbLogits(z, { sigma: 0, prob: 1 }).toArray()).toEqual(z.toArray());
    const out = distill.perturbLogits(z, { sigma: 0.2, prob: 0.3 });
    const xi = out.div(z).sub(1).div(0.2);
    const changed = xi.abs().sum(1).gt(0);
    const fraction = changed.double().mean().item();
    expect(Math.abs(fraction - 0.3)).toBeLessThan(0.03);
    const drawn = xi.index(changed);
    expect(Math.abs(drawn.mean().item())).toBeLessThan(0.02);
    expect(Math.abs(drawn.std().item() - 1)).toBeLessThan(0.02);
    const batchwise = distill.perturbLogits(z, { sigma: 0.2, prob: 0.5, perSample: false });
    const rowsChanged = batchwise.sub(z).abs().sum(1).gt(0).double().mean().item();
    expect([0, 1]).toContain(rowsChanged);
    expect(() => distill.perturbLogits(z, { prob: 2 })).toThrow(/prob must be in \[0, 1\]/);
  });
});

describe('multi-teacher KD', () => {
  it('each mode equals its formula in PyTorch', () => {
    const { s, t, inputs } = logits(7);
    const t2 = t.flip([1]).mul(0.5);
    const ours = {
      avgLogits: distill.multiTeacherKdLoss(s, [t, t2], { mode: 'avgLogits' }).item(),
      avgProbs: distill.multiTeacherKdLoss(s, [t, t2], { weights: [0.25, 0.75] }).item(),
      sumKl: distill.multiTeacherKdLoss(s, [t, t2], { mode: 'sumKl', temperature: 2 }).item(),
    };
    const ref = py(`${PY_PRELUDE}
t2 = t.flip(1) * 0.5
def kd(s, p, T):  # T² · KL(p ‖ softmax(s/T)), batch mean
    return (T * T * (p * (p.log() - torch.log_softmax(s / T, 1))).sum() / B).item()
out = dict(avgLogits=kd(s, torch.softmax((t + t2) / 2 / 4, 1), 4),
           avgProbs=kd(s, 0.25 * torch.softmax(t / 4, 1) + 0.75 * torch.softmax(t2 / 4, 1), 4),
           sumKl=kd(s, torch.softmax(t / 2, 1), 2) + kd(s, torch.softmax(t2 / 2, 1), 2))`, inputs);
    expectClose(ours, ref, 1e-12, 1e-14);
  });

  it('the gradient of Σ_k KL(p_k ‖ q) is K times that of KL(p̄ ‖ q)', () => {
    const { s, t } = logits(8);
    const teachers = [t, t.mul(-1), t.flip([0]), t.add(1)];
    const grad = (mode: 'sumKl' | 'avgProbs') => {
      const leaf = s.detach().clone().requiresGrad_();
      distill.multiTeacherKdLoss(leaf, teachers, { mode }).backward();
      return leaf.grad as Tensor;
    };
    expectClose(grad('sumKl').toArray(), grad('avgProbs').mul(4).toArray(), 1e-10, 1e-13);
  });
});

describe('intra-distillation', () => {
  it('xDivergence is the mean symmetric KL to the mean (PyTorch formula), 0 when all passes agree', () => {
    torch.manualSeed(9);
    const probs = [0, 1, 2].map(() => torch.randn([4, 6], { dtype: 'float64' }).softmax(1));
    const ref = py<number>(`ps = [torch.tensor(p, dtype=torch.float64) for p in inputs]
m = sum(ps) / 3
kl = lambda a, b: (a * (a.log() - b.log())).sum(1)
out = (sum(kl(p, m) + kl(m, p) for p in ps) / 3).mean().item()`, probs.map((p) => p.toArray()));
    expect(distill.xDivergence(probs).item()).toBeCloseTo(ref, 12);
    // (p + p + p) / 3 is p up to rounding, so the divergence is 0 up to rounding.
    expect(Math.abs(distill.xDivergence([probs[0], probs[0], probs[0]]).item())).toBeLessThan(1e-15);
    const outs = [torch.tensor([1, 2], { dtype: 'float64' }), torch.tensor([3, 6], { dtype: 'float64' })];
    expect(distill.intraMse(outs).item()).toBe((1 + 4) / 2);
  });

  it('adaptiveAlpha rises to 1 at N/q and α at N/p, and is α itself when α ≤ 1', () => {
    const o = { alpha: 5, p: 5, q: 10 };
    expect(distill.adaptiveAlpha(0, 1000, o)).toBe(0);
    expect(distill.adaptiveAlpha(100, 1000, o)).toBeCloseTo(1, 12);
    expect(distill.adaptiveAlpha(200, 1000, o)).toBeCloseTo(5, 12);
    expect(distill.adaptiveAlpha(900, 1000, o)).toBe(5);
    expect(distill.adaptiveAlpha(10, 1000, { alpha: 0.5, p: 5, q: 10 })).toBe(0.5);
  });

  it('parameterSensitivity is |θ ⊙ ∂L/∂θ| as computed in PyTorch; sensitivityBalance their std', () => {
    const model = new OneMatrixModel();
    const x = torch.tensor([[1, -2, 0.5]], { dtype: 'float64' });
    const sens = distill.parameterSensitivity(model, () => model.weight.matmul(x.t()).square().sum());
    const ref = py<{ w: number[][]; std: number }>(`w = torch.tensor([[0.5, -1., 2.], [1.5, 0.25, -0.75]], dtype=torch.float64, requires_grad=True)
x = torch.tensor([[1., -2., 0.5]], dtype=torch.float64)
(w @ x.t()).square().sum().backward()
s = (w * w.grad).abs()
out = dict(w=s.tolist(), std=s.flatten().std().item())`);
    expectClose(sens.get('weight')!.toArray(), ref.w, 1e-12);
    expect(distill.sensitivityBalance(sens)).toBeCloseTo(ref.std, 12);
  });
});

describe('BSS schedules', () => {
  it('r(e) = max(3(1 − e/E), 0) + 1 and r_a(e) = max(2(1 − 4e/(3E)), 0)', () => {
    expect(distill.bssWeights(0, 80)).toEqual({ r: 4, ra: 2 });
    expect(distill.bssWeights(30, 80)).toEqual({ r: 3 * (1 - 30 / 80) + 1, ra: 2 * (1 - 120 / 240) });
    expect(distill.bssWeights(70, 80)).toEqual({ r: 3 * (1 - 70 / 80) + 1, ra: 0 });
  });
});

/** A one-parameter module for the sensitivity test. */
class OneMatrixModel {
  weight = torch.tensor([[0.5, -1, 2], [1.5, 0.25, -0.75]], { dtype: 'float64', requiresGrad: true });
  namedParameters(): [string, Tensor][] {
    return [['weight', this.weight]];
  }
}

describe('SpectralKD', () => {
  it('spectral intensity is the mean FFT magnitude along the channel axis (PyTorch formula), per layout', () => {
    torch.manualSeed(10);
    const nlh = torch.randn([2, 5, 8], { dtype: 'float64' });
    const bchw = torch.randn([2, 6, 3, 4], { dtype: 'float64' });
    const ours = {
      nlh: distill.spectralIntensity(nlh).intensity,
      bchw: distill.spectralIntensity(bchw, { layout: 'BCHW' }).intensity,
      binned: distill.spectralIntensity(nlh, { bins: 3 }),
    };
    const ref = py(`a = torch.tensor(inputs['nlh'], dtype=torch.float64); b = torch.tensor(inputs['bchw'], dtype=torch.float64)
mag = torch.fft.fft(a, dim=-1).abs()
out = dict(nlh=mag.mean().item(), bchw=torch.fft.fft(b, dim=1).abs().mean().item(),
           binned=dict(intensity=mag[..., :3].mean().item(), profile=mag[..., :3].reshape(-1, 3).mean(0).tolist()))`,
    { nlh: nlh.toArray(), bchw: bchw.toArray() });
    expectClose(ours, ref, 1e-12, 1e-14);
    expect(() => distill.spectralIntensity(bchw, { layout: 'NLH' })).toThrow(/layout NLH expects a 3-D tensor/);
    // Without a layout, the rank decides: 4-D features are BCHW.
    expect(distill.spectralIntensity(bchw).intensity).toBe(ours.bchw);
    // A [B, L] mask keeps padding out: the mean over the real tokens' magnitudes only.
    const mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]]);
    const masked = distill.spectralProfile([nlh, nlh.neg()], { mask });
    const refMasked = py(`a = torch.tensor(inputs['nlh'], dtype=torch.float64); m = torch.tensor(inputs['m']).bool()
out = torch.fft.fft(a[m], dim=-1).abs().mean().item()`, { nlh: nlh.toArray(), m: mask.toArray() }) as number;
    expectClose(masked, [refMasked, refMasked], 1e-12, 1e-14);
    expect(() => distill.spectralIntensity(bchw, { mask })).toThrow(/mask must be \[B, L\] for 'NLH' features/);
  });

  it('profiles layers and selects top, edge runs (the U shape) and thresholded layers', () => {
    const scaled = [3, 2.5, 1, 0.8, 0.9, 2.8].map((s) => torch.ones([1, 4, 8]).mul(s));
    const profile = distill.spectralProfile(scaled);
    // A constant signal's spectrum is all DC: |X_0| = 8·s over 8 bins, so the intensity is s.
    expectClose(profile, [3, 2.5, 1, 0.8, 0.9, 2.8], 1e-6);
    expect(distill.selectLayers(profile, { strategy: 'top', k: 2 })).toEqual([0, 5]);
    expect(distill.selectLayers(profile, { strategy: 'edges', k: 3 })).toEqual([0, 1, 5]);
    expect(distill.selectLayers(profile, { strategy: 'threshold', k: 0.9 })).toEqual([0, 5]);
  });

  it('spectralLoss pools teacher channels, matches its PyTorch formula, and equals half the spatial MSE with a full FFT', () => {
    torch.manualSeed(11);
    const s = torch.randn([2, 4, 6, 5], { dtype: 'float64' });
    const t = torch.randn([2, 8, 6, 5], { dtype: 'float64' });
    const ours = distill.spectralLoss(s, t, { layout: 'BCHW' }).item();
    const ref = py<number>(`s = torch.tensor(inputs['s'], dtype=torch.float64); t = torch.tensor(inputs['t'], dtype=torch.float64)
B, C, H, W = t.shape
tp = torch.nn.functional.adaptive_avg_pool1d(t.permute(0, 2, 3, 1).reshape(-1, 1, C), 4).reshape(B, H, W, 4).permute(0, 3, 1, 2)
S, T = torch.fft.rfft2(s, norm='ortho'), torch.fft.rfft2(tp, norm='ortho')
out = torch.nn.functional.mse_loss(torch.view_as_real(S), torch.view_as_real(T)).item()`, { s: s.toArray(), t: t.toArray() });
    expect(ours).toBeCloseTo(ref, 12);
    const t4 = torch.randn([2, 4, 6, 5], { dtype: 'float64' });
    const spatial = nnMse(s, t4);
    expect(distill.spectralLoss(s, t4, { layout: 'BCHW', full: true }).item()).toBeCloseTo(spatial / 2, 12);
    const seqS = torch.randn([2, 7, 4], { dtype: 'float64' });
    const seqT = torch.randn([2, 7, 4], { dtype: 'float64' });
    expect(distill.spectralLoss(seqS, seqT, { full: true }).item()).toBeCloseTo(nnMse(seqS, seqT) / 2, 12);
  });
});

function nnMse(a: Tensor, b: Tensor): number {
  return a.sub(b).square().mean().item();
}

describe('hidden-state and attention distillation', () => {
  it('layer maps follow each strategy', () => {
    const pairs = (m: ReturnType<typeof distill.layerMap>) => m.map((p) => [p.student, p.teacher, p.weights]);
    expect(pairs(distill.layerMap(12, 4, 'uniform'))).toEqual([[0, [0], [1]], [1, [3], [1]], [2, [6], [1]], [3, [9], [1]], [4, [12], [1]]]);
    expect(pairs(distill.layerMap(6, 3, 'skip'))).toEqual([[0, [1], [1]], [1, [3], [1]], [2, [5], [1]]]);
    expect(pairs(distill.layerMap(6, 2, 'last'))).toEqual([[0, [4], [1]], [1, [5], [1]]]);
    expect(pairs(distill.layerMap(4, 2, 'average'))).toEqual([[0, [0, 1], [0.5, 0.5]], [1, [2, 3], [0.5, 0.5]]]);
    expect(pairs(distill.layerMap(4, 2, 'weighted', { weights: [0.3, 0.7] }))).toEqual([[0, [0, 1], [0.3, 0.7]], [1, [2, 3], [0.3, 0.7]]]);
    expect(pairs(distill.layerMap(4, 2, [[0, 1], [1, [2, 3]]]))).toEqual([[0, [1], [1]], [1, [2, 3], [0.5, 0.5]]]);
    expect(pairs(distill.layerMap(5, 2, 'skip'))).toEqual([[0, [2], [1]], [1, [4], [1]]]);
  });

  it('hiddenStateLoss sums the per-pair MSE or cosine terms (PyTorch formulas), with a projection for other widths', () => {
    torch.manualSeed(12);
    const sh = [0, 1].map(() => torch.randn([2, 3, 4], { dtype: 'float64' }));
    const th = [0, 1, 2, 3].map(() => torch.randn([2, 3, 4], { dtype: 'float64' }));
    const map = distill.layerMap(4, 2, 'weighted', { weights: [0.3, 0.7] });
    const ours = {
      mse: distill.hiddenStateLoss(sh, th, { map }).item(),
      cosine: distill.hiddenStateLoss(sh, th, { map, loss: 'cosine' }).item(),
    };
    const ref = py(`sh = [torch.tensor(x, dtype=torch.float64) for x in inputs['s']]; th = [torch.tensor(x, dtype=torch.float64) for x in inputs['t']]
tg = [0.3 * th[0] + 0.7 * th[1], 0.3 * th[2] + 0.7 * th[3]]
F = torch.nn.functional
out = dict(mse=sum(F.mse_loss(s, t) for s, t in zip(sh, tg)).item(),
           cosine=sum((1 - F.cosine_similarity(s, t, dim=-1)).mean() for s, t in zip(sh, tg)).item())`,
    { s: sh.map((x) => x.toArray()), t: th.map((x) => x.toArray()) });
    expectClose(ours, ref, 1e-12, 1e-14);
    const wide = [torch.randn([2, 3, 6], { dtype: 'float64' })];
    const narrow = [torch.randn([2, 3, 4], { dtype: 'float64' })];
    const one = distill.layerMap(1, 1, [[0, 0]]);
    expect(() => distill.hiddenStateLoss(narrow, wide, { map: one })).toThrow(/widths differ/);
    const proj = new nn.Linear(4, 6).double();
    const viaProjection = distill.hiddenStateLoss(narrow, wide, { map: one, projection: proj }).item();
    expect(viaProjection).toBeCloseTo(narrow[0].matmul(proj.weight.t()).add(proj.bias!).sub(wide[0]).square().mean().item(), 12);
  });

  it('attentionLoss excludes masked positions (MSE and KL against the formulas)', () => {
    torch.manualSeed(13);
    const s = torch.randn([2, 2, 4, 4], { dtype: 'float64' }).softmax(-1);
    const t = torch.randn([2, 2, 4, 4], { dtype: 'float64' }).softmax(-1);
    const mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]);
    const ours = {
      mse: distill.attentionLoss(s, t, { mask }).item(),
      kl: distill.attentionLoss(s, t, { mask, mode: 'kl' }).item(),
      full: distill.attentionLoss(s, t).item(),
    };
    const ref = py(`s = torch.tensor(inputs['s'], dtype=torch.float64); t = torch.tensor(inputs['t'], dtype=torch.float64)
m = torch.tensor(inputs['m'], dtype=torch.float64)
mse, n, kl, q = 0.0, 0, 0.0, 0
for b in range(2):
    for h in range(2):
        for i in range(4):
            if not m[b, i]: continue
            q += 1
            for j in range(4):
                if not m[b, j]: continue
                mse += (s[b, h, i, j] - t[b, h, i, j]).item() ** 2; n += 1
                kl += (t[b, h, i, j] * (t[b, h, i, j].log() - s[b, h, i, j].log())).item()
out = dict(mse=mse / n, kl=kl / q, full=((s - t) ** 2).mean().item())`, { s: s.toArray(), t: t.toArray(), m: mask.toArray() });
    expectClose(ours, ref, 1e-12, 1e-14);
  });
});

describe('Sobolev training', () => {
  const student = (x: Tensor) => x.matmul(torch.tensor([[1, -0.5], [0.25, 2], [0, 1]], { dtype: 'float64' })).tanh();
  const teacher = (x: Tensor) => x.square().matmul(torch.tensor([[0.5, 0], [1, -1], [0.3, 0.2]], { dtype: 'float64' }));

  it('equals the MSE of finite-difference input-gradients of ⟨v, f(x)⟩, and trains the student', () => {
    torch.manualSeed(14);
    const x = torch.randn([3, 3], { dtype: 'float64' });
    const v = torch.randn([3, 2], { dtype: 'float64' });
    const dir = v.div(v.square().sum(-1, { keepdim: true }).sqrt());
    const loss = distill.sobolevLoss(student, teacher, x, { directions: [dir] });
    const eps = 1e-6;
    const fd = (f: (x: Tensor) => Tensor) => torch.noGrad(() => {
      const rows: number[][] = [];
      for (let b = 0; b < 3; b++) {
        rows.push([0, 1, 2].map((d) => {
          const e = torch.zeros([3, 3], { dtype: 'float64' }).indexPut_([b, d], eps);
          const plus = f(x.add(e)).mul(dir).sum().item();
          const minus = f(x.sub(e)).mul(dir).sum().item();
          return (plus - minus) / (2 * eps);
        }));
      }
      return rows;
    });
    const gs = fd(student).flat();
    const gt = fd(teacher).flat();
    const mse = gs.reduce((acc, g, i) => acc + (g - gt[i]) ** 2, 0) / gs.length;
    expect(loss.item()).toBeCloseTo(mse, 8);
    const w = torch.tensor([[1, -0.5], [0.25, 2], [0, 1]], { dtype: 'float64', requiresGrad: true });
    distill.sobolevLoss((z) => z.matmul(w).tanh(), teacher, x, { directions: [dir] }).backward();
    expect((w.grad as Tensor).abs().sum().item()).toBeGreaterThan(0);
  });

  it('for linear maps, E_v ‖(W_s − W_t)ᵀ v‖² = ‖W_s − W_t‖²_F / k', () => {
    torch.manualSeed(15);
    const ws = torch.randn([5, 4], { dtype: 'float64' });
    const wt = torch.randn([5, 4], { dtype: 'float64' });
    const x = torch.randn([4000, 5], { dtype: 'float64' });
    // MSE over [B, D] = mean_b ‖(W_s − W_t) v_b‖² / D with D = 5 inputs and k = 4 outputs.
    const loss = distill.sobolevLoss((z) => z.matmul(ws), (z) => z.matmul(wt), x, { projections: 4 }).item();
    const frob = ws.sub(wt).square().sum().item();
    expect(Math.abs(loss * 5 - frob / 4) / (frob / 4)).toBeLessThan(0.03);
  });
});

describe('BSS', () => {
  // Two classes, f(x) = W x: L = (w_0 − w_1)·x and ∇L = w_0 − w_1, so with η = 1/‖w_0 − w_1‖ one step
  // lands every sample at L = −1e-4: just across the boundary.
  const W = torch.tensor([[2, -1], [0.5, 1.5]], { dtype: 'float64' });
  const teacher = (x: Tensor) => x.matmul(W.t());

  it('one computable step flips a linear teacher exactly past the boundary, and flipped samples stop', () => {
    const x = torch.tensor([[2, 0], [3, -1], [1, -2]], { dtype: 'float64' });
    const dw = Math.hypot(2 - 0.5, -1 - 1.5);
    const result = distill.bssAttack(teacher, x, { targetClasses: torch.tensor([1, 1, 1]), stepSize: 1 / dw, maxSteps: 5 });
    const logits = teacher(result.x);
    const L = logits.select(1, 0).sub(logits.select(1, 1)).toArray() as number[];
    L.forEach((l) => expect(l).toBeCloseTo(-1e-4, 9));
    expect(result.flipRate).toBe(1);
    expect(result.flipped.toArray()).toEqual([1, 1, 1]);
    const p = logits.softmax(1);
    expect(result.top2Gap).toBeCloseTo(p.max(1).values.sub(p.min(1).values).mean().item(), 12);
  });

  it('small steps approach the boundary monotonically; clamping bounds every coordinate', () => {
    const x = torch.tensor([[2, 0]], { dtype: 'float64' });
    const margin = (z: Tensor) => { const l = teacher(z); return l.index([0, 0]).item() - l.index([0, 1]).item(); };
    const margins = [1, 2, 3].map((steps) => margin(distill.bssAttack(teacher, x, { targetClasses: torch.tensor([1]), stepSize: 0.01, maxSteps: steps }).x));
    expect(margins[0]).toBeLessThan(margin(x));
    expect(margins[1]).toBeLessThan(margins[0]);
    expect(margins[2]).toBeLessThan(margins[1]);
    expect(margins[2]).toBeGreaterThan(0);
    const clamped = distill.bssAttack(teacher, x, { targetClasses: torch.tensor([1]), stepSize: 0.5, clampMin: 0, clampMax: 1 }).x;
    (clamped.toArray() as number[][])[0].forEach((v) => { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(1); });
  });

  it('target classes follow the teacher softmax over the non-top classes; base samples are correct and ranked', () => {
    torch.manualSeed(16);
    const t = torch.tensor([[5, 1, 0, 1]], { dtype: 'float64' }).expand([20000, 4]);
    const k = distill.sampleTargetClasses(t);
    const p = [1, 0, 1].map((v) => Math.exp(v));
    const sum = p.reduce((a, b) => a + b);
    [1, 2, 3].forEach((c, i) => expect(Math.abs(k.eq(c).double().mean().item() - p[i] / sum)).toBeLessThan(0.015));
    expect(k.eq(0).any().item()).toBe(0);
    const tl = torch.tensor([[3, 0, 0], [0, 2, 0], [0, 0, 1], [2, 1, 0]], { dtype: 'float64' });
    const sl = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 0, 0], [1.9, 1.8, 0]], { dtype: 'float64' });
    const labels = torch.tensor([0, 1, 2, 0]);
    // Sample 2: the student is wrong; of the rest, the largest non-target disagreement comes first.
    const pt = tl.softmax(1);
    const ps = sl.softmax(1);
    const score = (i: number) => [0, 1, 2].filter((c) => c !== (labels.toArray() as number[])[i])
      .reduce((acc, c) => acc + (pt.index([i, c]).item() - ps.index([i, c]).item()) ** 2, 0);
    const expected = [0, 1, 3].sort((a, b) => score(b) - score(a));
    expect(distill.selectBaseSamples(tl, sl, labels).toArray()).toEqual(expected);
    expect(distill.selectBaseSamples(tl, sl, labels, { max: 1 }).toArray()).toEqual(expected.slice(0, 1));
  });
});

describe('intra-distillation step', () => {
  it('averages the task loss over K dropout passes and adds α · X-divergence (same draws as by hand)', () => {
    torch.manualSeed(17);
    const model = new nn.Sequential(new nn.Linear(6, 8), new nn.ReLU(), new nn.Dropout(0.5), new nn.Linear(8, 3)).double();
    const x = torch.randn([5, 6], { dtype: 'float64' });
    const y = torch.tensor([0, 2, 1, 1, 0]);
    torch.manualSeed(99);
    const ours = distill.intraDistillationLoss(model, x, y, { passes: 3, alpha: 2 });
    torch.manualSeed(99);
    const outs = [0, 1, 2].map(() => model.call(x));
    const task = outs.map((o) => nn.functional.crossEntropy(o, y).item()).reduce((a, b) => a + b) / 3;
    const intra = distill.xDivergence(outs.map((o) => o.softmax(1))).item();
    expect(ours.task.item()).toBeCloseTo(task, 12);
    expect(ours.intra.item()).toBeCloseTo(intra, 12);
    expect(ours.loss.item()).toBeCloseTo(task + 2 * intra, 12);
    expect(intra).toBeGreaterThan(0);
    model.eval();
    // Identical passes: only rounding residue of their mean is left.
    expect(distill.intraDistillationLoss(model, x, y).intra.item()).toBeLessThan(1e-20);
  });
});

describe('theory check (Phuong & Lampert 2019)', () => {
  it('a linear student trained from zero on a linear teacher\'s soft targets converges to the projection of w* onto the span of the data', () => {
    torch.manualSeed(18);
    const n = 5;
    const d = 12;
    const X = torch.randn([n, d], { dtype: 'float64' });
    // Moderate teacher logits keep the sigmoid out of saturation, so plain gradient descent converges fast.
    const wStar = torch.randn([d], { dtype: 'float64' }).mul(0.3);
    const soft = X.matmul(wStar).sigmoid();
    const w = torch.zeros([d], { dtype: 'float64', requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 1 }); // below 2 / λ_max of the loss's Hessian (≈ 1.6 here)
    for (let step = 0; step < 5000; step++) {
      torch.tidy(() => {
        opt.zeroGrad();
        nn.functional.binaryCrossEntropyWithLogits(X.matmul(w), soft).backward();
        opt.step();
      });
    }
    // P w* = Xᵀ (X Xᵀ)⁻¹ X w*
    const projection = X.t().matmul(torch.linalg.solve(X.matmul(X.t()), X.matmul(wStar)));
    const error = w.detach().sub(projection).norm().item() / projection.norm().item();
    expect(error).toBeLessThan(1e-6);
  });
});

describe('specialists (Hinton et al. 2015)', () => {
  const pg = torch.tensor([[0.5, 0.2, 0.2, 0.1], [0.1, 0.6, 0.2, 0.1]], { dtype: 'float64' });

  it('a specialist that agrees with the generalist leaves q = p_g', () => {
    const agreeing = torch.tensor([[0.2, 0.2, 0.6], [0.6, 0.2, 0.2]], { dtype: 'float64' }); // classes 1, 2 + dustbin
    const q = distill.combineSpecialists(pg, [{ classes: [1, 2], probs: agreeing }]);
    expectClose(q.toArray(), pg.toArray(), 1e-12, 1e-14);
  });

  it('otherwise q is a stationary point of the objective (evaluated independently in PyTorch) and improves on p_g', () => {
    const spec = torch.tensor([[0.7, 0.1, 0.2], [0.1, 0.8, 0.1]], { dtype: 'float64' });
    const q = distill.combineSpecialists(pg, [{ classes: [1, 2], probs: spec }], { steps: 3000 });
    const ref = py<{ grad: number; atQ: number; atPg: number }>(`pg = torch.tensor([[0.5, 0.2, 0.2, 0.1], [0.1, 0.6, 0.2, 0.1]], dtype=torch.float64)
ps = torch.tensor([[0.7, 0.1, 0.2], [0.1, 0.8, 0.1]], dtype=torch.float64)
def objective(z):
    q = torch.softmax(z, 1)
    qm = torch.stack([q[:, 1], q[:, 2], q[:, 0] + q[:, 3]], 1)
    kl = lambda p, r: (p * (p.log() - r.log())).sum()
    return kl(pg, q) + kl(ps, qm)
z = torch.tensor(inputs, dtype=torch.float64).log().requires_grad_()
value = objective(z); value.backward()
out = dict(grad=z.grad.abs().max().item(), atQ=value.item(), atPg=objective(pg.log()).item())`, q.toArray());
    expect(ref.grad).toBeLessThan(1e-8);
    expect(ref.atQ).toBeLessThan(ref.atPg);
    expectClose(q.sum(1).toArray(), [1, 1], 1e-12);
  });
});

/** A leaf copy of x and the gradient of f at it. */
function gradOf(x: Tensor, f: (leaf: Tensor) => Tensor): { value: number; grad: unknown } {
  const leaf = x.detach().clone().requiresGrad_();
  const out = f(leaf);
  out.backward();
  const result = { value: out.item(), grad: (leaf.grad as Tensor).toArray() };
  torch.dispose([leaf, out]);
  return result;
}

describe('options of the official codebases', () => {
  it('kdLoss without T² and as a soft cross entropy: TextBrewer kd_ce_loss, TinyBERT soft_cross_entropy, torchdistill soft-only', () => {
    const { s, t, inputs } = logits(20);
    const ours = {
      textbrewer: gradOf(s, (x) => distill.kdLoss(x, t, { temperature: 2, squareTemperature: false, divergence: 'crossEntropy' })),
      tinybert: gradOf(s, (x) => distill.kdLoss(x, t, { temperature: 3, squareTemperature: false, divergence: 'crossEntropy', reduction: 'mean' })),
      soft: gradOf(s, (x) => distill.kdLoss(x, t, { temperature: 3, squareTemperature: false })),
    };
    const ref = py(`${PY_PRELUDE}
F = torch.nn.functional
def run(f):
    x = s.clone().requires_grad_(); v = f(x); v.backward()
    return dict(value=v.item(), grad=x.grad.tolist())
# TextBrewer kd_ce_loss: -(p_T * log_softmax(s/T)).sum(-1).mean()
textbrewer = run(lambda x: -(F.softmax(t / 2, -1) * F.log_softmax(x / 2, -1)).sum(-1).mean())
# TinyBERT soft_cross_entropy(s/T, t/T): (-p_T * log q).mean() over B·C
tinybert = run(lambda x: (-F.softmax(t / 3, -1) * F.log_softmax(x / 3, -1)).mean())
# torchdistill KDLoss with alpha 0: KLDivLoss(batchmean) alone, no T²
soft = run(lambda x: F.kl_div(torch.log_softmax(x / 3, 1), torch.softmax(t / 3, 1), reduction='batchmean'))
out = dict(textbrewer=textbrewer, tinybert=tinybert, soft=soft)`, inputs);
    expectClose(ours, ref, 1e-12, 1e-14);
    // KL and cross entropy differ by the teacher's entropy, not in gradient.
    const kl = gradOf(s, (x) => distill.kdLoss(x, t, { temperature: 2 }));
    const ce = gradOf(s, (x) => distill.kdLoss(x, t, { temperature: 2, divergence: 'crossEntropy' }));
    expectClose(ce.grad, kl.grad, 1e-12, 1e-14);
    expect(ce.value).toBeGreaterThan(kl.value);
    expect(() => distill.kdLoss(s, t, { divergence: 'js' as never })).toThrow(/unknown divergence/);
    // The KD term with several teachers: the multi-teacher loss, without the T² on request.
    const t2 = t.flip([1]);
    const ctx = { student: { logits: s, features: {} }, teachers: [{ logits: t, features: {} }, { logits: t2, features: {} }] } as never;
    expect(distill.terms.kd({ temperature: 3, squareTemperature: false }).compute(ctx).item())
      .toBeCloseTo(distill.multiTeacherKdLoss(s, [t, t2], { temperature: 3 }).item() / 9, 14);
    expect(() => distill.terms.kd({ divergence: 'crossEntropy' }).compute(ctx)).toThrow(/takes a single teacher/);
  });

  it("hintonLoss's reduction and weights: TAKD's KLDivLoss() mean, torchdistill's α on the cross entropy, per-sample values", () => {
    const { s, t, y, inputs } = logits(21);
    const ours = {
      takd: gradOf(s, (x) => distill.hintonLoss(x, t, y, { temperature: 5, alpha: 0.3, reduction: 'mean' })),
      torchdistill: gradOf(s, (x) => distill.hintonLoss(x, t, y, { temperature: 4, ceWeight: 0.9, kdWeight: 0.1 })),
      sum: distill.hintonLoss(s, t, y, { temperature: 2, reduction: 'sum' }).item(),
      none: distill.hintonLoss(s, t, y, { temperature: 2, reduction: 'none' }).toArray(),
    };
    const ref = py(`${PY_PRELUDE}
F = torch.nn.functional
def run(f):
    x = s.clone().requires_grad_(); v = f(x); v.backward()
    return dict(value=v.item(), grad=x.grad.tolist())
# TAKD train.py: (1 - λ)·CE + λ·T²·nn.KLDivLoss()(log_softmax(s/T), softmax(t/T)), 'mean' over B·C
takd = run(lambda x: 0.7 * F.cross_entropy(x, y) + 0.3 * 25 * torch.nn.KLDivLoss()(F.log_softmax(x / 5, 1), F.softmax(t / 5, 1)))
# torchdistill KDLoss(alpha=0.9): α·CE + (1 − α)·T²·KL(batchmean)
torchdistill = run(lambda x: 0.9 * F.cross_entropy(x, y) + 0.1 * 16 * F.kl_div(torch.log_softmax(x / 4, 1), torch.softmax(t / 4, 1), reduction='batchmean'))
kl = lambda x, T, r: F.kl_div(torch.log_softmax(x / T, 1), torch.softmax(t / T, 1), reduction=r)
sum_ = (0.1 * F.cross_entropy(s, y, reduction='sum') + 0.9 * 4 * kl(s, 2, 'sum')).item()
none = (0.1 * F.cross_entropy(s, y, reduction='none') + 0.9 * 4 * kl(s, 2, 'none').sum(1)).tolist()
out = dict(takd=takd, torchdistill=torchdistill, sum=sum_, none=none)`, inputs);
    expectClose(ours, ref, 1e-12, 1e-14);
  });

  it("xDivergence over [B, L, V] with a pad mask: the official X_loss (sum over real tokens / K) and its per-token mean", () => {
    torch.manualSeed(22);
    const probs = [0, 1, 2].map(() => torch.randn([2, 4, 5], { dtype: 'float64' }).mul(2).softmax(-1));
    const mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]);
    const ours = {
      sum: distill.xDivergence(probs, { mask, reduction: 'sum' }).item(),
      mean: distill.xDivergence(probs, { mask }).item(),
      all: distill.xDivergence(probs, { reduction: 'sum' }).item(),
      mse: distill.intraMse(probs, { mask }).item(),
    };
    const ref = py(`ps = [torch.tensor(p, dtype=torch.float64) for p in inputs['p']]
pad = torch.tensor(inputs['m']) == 0
def x_loss(logits, pad_mask):  # Intra-Distillation's X_loss
    keep = ~pad_mask.view(-1); V = logits[0].size(-1)
    m = (sum(logits) / len(logits)).view(-1, V)[keep]
    total = 0
    for l in logits:
        l = l.view(-1, V)[keep]
        total += ((l - m) * (l.log() - m.log())).sum()
    return total / len(logits)
s = x_loss(ps, pad)
keep = ~pad.view(-1); avg = sum(ps) / 3
mse = sum(((p - avg) ** 2).view(-1, 5)[keep].mean() for p in ps) / 3
out = dict(sum=s.item(), mean=(s / keep.sum()).item(), all=x_loss(ps, torch.zeros(2, 4, dtype=torch.bool)).item(), mse=mse.item())`,
    { p: probs.map((p) => p.toArray()), m: mask.toArray() });
    expectClose(ours, ref, 1e-12, 1e-14);
    expect(() => distill.xDivergence(probs, { mask: torch.ones([2, 5]) })).toThrow(/mask must have shape \[2, 4\]/);
    expect(() => distill.xDivergence(probs, { reduction: 'batchmean' as never })).toThrow(/unknown reduction/);
  });

  it("hiddenStateLoss with a pad mask: TextBrewer's masked hid_mse_loss and cos_loss", () => {
    torch.manualSeed(23);
    const sh = [0, 1].map(() => torch.randn([2, 4, 3], { dtype: 'float64' }));
    const th = [0, 1].map(() => torch.randn([2, 4, 3], { dtype: 'float64' }));
    const mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]).bool();
    const map = distill.layerMap(2, 2, [[0, 0], [1, 1]]);
    const ours = {
      mse: gradOf(sh[0], (x) => distill.hiddenStateLoss([x, sh[1]], th, { map, mask })),
      cosine: distill.hiddenStateLoss(sh, th, { map, mask, loss: 'cosine' }).item(),
    };
    const ref = py(`sh = [torch.tensor(x, dtype=torch.float64) for x in inputs['s']]; th = [torch.tensor(x, dtype=torch.float64) for x in inputs['t']]
mask = torch.tensor(inputs['m']).bool()
F = torch.nn.functional
def hid_mse(a, b, m):  # TextBrewer hid_mse_loss with a mask
    m = m.to(a)
    return (F.mse_loss(a, b, reduction='none') * m.unsqueeze(-1)).sum() / (m.sum() * a.size(-1))
def cos(a, b, m):  # TextBrewer cos_loss with a mask
    sel = m.unsqueeze(-1).expand_as(a)
    a = torch.masked_select(a, sel).view(-1, a.size(-1)); b = torch.masked_select(b, sel).view(-1, b.size(-1))
    return F.cosine_embedding_loss(a, b, a.new(a.size(0)).fill_(1))
x = sh[0].clone().requires_grad_()
v = hid_mse(x, th[0], mask) + hid_mse(sh[1], th[1], mask); v.backward()
out = dict(mse=dict(value=v.item(), grad=x.grad.tolist()), cosine=(cos(sh[0], th[0], mask) + cos(sh[1], th[1], mask)).item())`,
    { s: sh.map((x) => x.toArray()), t: th.map((x) => x.toArray()), m: mask.toArray() });
    expectClose(ours, ref, 1e-12, 1e-14);
  });

  it("attentionLoss 'tinybert' (raw scores, masked entries zeroed, MSE over B·H·L²) and 'crossEntropy'", () => {
    torch.manualSeed(24);
    const pad = torch.tensor([[0, 0, 0, -10000], [0, 0, -10000, -10000]], { dtype: 'float64' }).reshape([2, 1, 1, 4]);
    const sScores = torch.randn([2, 2, 4, 4], { dtype: 'float64' }).add(pad);
    const tScores = torch.randn([2, 2, 4, 4], { dtype: 'float64' }).mul(2).add(pad);
    const [s, t] = [sScores.softmax(-1), tScores.softmax(-1)];
    const mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]);
    const ours = {
      tinybert: gradOf(sScores, (x) => distill.attentionLoss(x, tScores, { mode: 'tinybert' })),
      ce: distill.attentionLoss(s, t, { mode: 'crossEntropy', mask }).item(),
      kl: distill.attentionLoss(s, t, { mode: 'kl', mask }).item(),
    };
    const ref = py(`sc = torch.tensor(inputs['ss'], dtype=torch.float64); tc = torch.tensor(inputs['ts'], dtype=torch.float64)
m = torch.tensor(inputs['m'], dtype=torch.float64)
zero = lambda a: torch.where(a <= -1e2, torch.zeros_like(a), a)   # TinyBERT task_distill.py
x = sc.clone().requires_grad_()
v = torch.nn.MSELoss()(zero(x), zero(tc)); v.backward()
t = tc.softmax(-1)
# TextBrewer att_ce_loss with a mask (it takes the scores): -(softmax(t) · log_softmax(s) · mask_keys).sum(-1) · mask_queries / #valid queries
mk = m.unsqueeze(1).expand(-1, 2, -1)
ce = -((t * sc.log_softmax(-1) * mk.unsqueeze(2)).sum(-1) * mk).sum() / mk.sum()
ent = -((torch.xlogy(t, t) * mk.unsqueeze(2)).sum(-1) * mk).sum() / mk.sum()
out = dict(tinybert=dict(value=v.item(), grad=x.grad.tolist()), ce=ce.item(), kl=(ce - ent).item())`,
    { ss: sScores.toArray(), ts: tScores.toArray(), m: mask.toArray() });
    expectClose(ours, ref, 1e-10, 1e-14);
    expect(() => distill.attentionLoss(s, t, { mode: 'l1' as never })).toThrow(/unknown mode/);
  });

  it("spectralLoss on ViT tokens ('vit'): prefix tokens dropped, the patch grid's rfft2, as SpectralKD on timm's intermediates", () => {
    torch.manualSeed(25);
    const student = torch.randn([2, 1 + 12, 4], { dtype: 'float64' });   // class token + a 3×4 grid
    const teacher = torch.randn([2, 12, 8], { dtype: 'float64' });       // CaiT blocks: no prefix tokens
    const ours = gradOf(student, (x) => distill.spectralLoss(x, teacher, { layout: 'vit', prefixTokens: [1, 0], grid: [3, 4] }));
    const ref = py(`s = torch.tensor(inputs['s'], dtype=torch.float64); t = torch.tensor(inputs['t'], dtype=torch.float64)
F = torch.nn.functional
def nchw(tokens, prefix, H, W):  # timm forward_intermediates: drop prefix tokens, reshape to NCHW
    B, L, C = tokens.shape
    return tokens[:, prefix:].reshape(B, H, W, C).permute(0, 3, 1, 2)
def layer_fft_loss(fs, ft):  # SpectralKD losses.py
    if fs.shape[1] < ft.shape[1]:
        ft = F.adaptive_avg_pool3d(ft, (fs.shape[1], None, None))
    a, b = torch.fft.rfft2(fs, norm='ortho'), torch.fft.rfft2(ft, norm='ortho')
    return F.mse_loss(torch.stack([a.real, a.imag], -1), torch.stack([b.real, b.imag], -1))
x = s.clone().requires_grad_()
v = layer_fft_loss(nchw(x, 1, 3, 4), nchw(t, 0, 3, 4)); v.backward()
out = dict(value=v.item(), grad=x.grad.tolist())`, { s: student.toArray(), t: teacher.toArray() });
    expectClose(ours, ref, 1e-12, 1e-14);
    // A square grid is the default; other token counts need the grid.
    expect(distill.vitPatchMap(torch.zeros([1, 17, 3])).shape).toEqual([1, 3, 4, 4]);
    expect(() => distill.vitPatchMap(torch.zeros([1, 13, 3]))).toThrow(/12 patch tokens do not fill a 3×3 grid \(pass grid/);
    expect(() => distill.spectralLoss(student, teacher, { layout: 'vit', prefixTokens: 1, grid: [3, 4] })).toThrow(/11 patch tokens/);
  });

  it('bssAttack with the official clamp to [−2.5, 2.5] equals AttackBSS.run step by step', () => {
    torch.manualSeed(26);
    const W = torch.randn([3, 8], { dtype: 'float64' });
    const teacher = (x: Tensor) => x.flatten(1).matmul(W.t());
    const x = torch.randn([5, 2, 2, 2], { dtype: 'float64' }).mul(1.5);
    // Each sample pushed towards a class other than the teacher's (as the script samples them).
    const k = teacher(x).argmax(1).add(torch.tensor([1, 2, 1, 2, 1])).remainder(3);
    const ours = distill.bssAttack(teacher, x, { targetClasses: k, stepSize: 0.3, maxSteps: 10, clampMin: -2.5, clampMax: 2.5 });
    const ref = py<number[][][][]>(`W = torch.tensor(inputs['W'], dtype=torch.float64); x0 = torch.tensor(inputs['x'], dtype=torch.float64)
target = torch.tensor(inputs['k'])
model = lambda v: v.flatten(1) @ W.t()
# attacks/attack_BSS.py AttackBSS.run (norm 2, step_alpha 0.3, 10 steps)
v = x0.clone().requires_grad_(); step = 0; adv = x0.clone()
while step < 10:
    if v.grad is not None: v.grad.zero_()
    o = model(v)
    if not step: gt = o.detach().max(1)[1]
    s_gt, s_t = o.gather(1, gt.unsqueeze(1)), o.gather(1, target.unsqueeze(1))
    (s_t - s_gt).sum().backward()
    alpha = (0.3 * (gt == o.detach().max(1)[1]).double()).view(-1, 1, 1, 1)
    if alpha.sum() == 0: break
    pert = (s_gt.detach() - s_t.detach()).view(-1, 1, 1, 1)
    g = v.grad.detach()
    norm = (g * g).sum((1, 2, 3), keepdim=True).sqrt()
    adv = torch.clamp(v.detach() + alpha * (pert + 1e-4) * g / norm, -2.5, 2.5)
    v = adv.clone().requires_grad_(); step += 1
out = adv.tolist()`, { W: W.toArray(), x: x.toArray(), k: k.toArray() });
    expectClose(ours.x.toArray(), ref, 1e-12, 1e-14);
    // Some coordinates start outside the range: the clamp is active.
    expect(x.abs().max().item()).toBeGreaterThan(2.5);
    expect(ours.x.abs().max().item()).toBe(2.5);
  });

  it("epoch conventions: 'fractional' (step / steps per epoch) and 'oneBased' (mdistiller's and BSS's 1..E)", () => {
    const at = (epoch: number) => ({ epoch });
    expect([0, 0.5, 0.999, 1, 19.5].map((e) => distill.terms.scheduleEpoch(at(e)))).toEqual([0, 0.5, 0.999, 1, 19.5]);
    expect([0, 0.5, 0.999, 1, 19.5].map((e) => distill.terms.scheduleEpoch(at(e), 'oneBased'))).toEqual([1, 1, 1, 2, 20]);
    const w = distill.terms.epochSchedule((e, E) => e / E, { epochConvention: 'oneBased' });
    expect(w({ epoch: 3.2, epochs: 10 } as never)).toBe(0.4);
    expect(() => distill.terms.epochSchedule((e) => e, { epochConvention: 'zeroBased' as never })).toThrow(/unknown epochConvention/);
    expect(() => distill.terms.dkd({ epochConvention: 'x' as never })).toThrow(/unknown epochConvention/);
  });

  it("pair terms sum (TinyBERT) or average (SpectralKD's fft_loss) over their pairs", () => {
    torch.manualSeed(27);
    const f = (n: number) => Object.fromEntries([0, 1, 2].map((i) => [`l${i}`, torch.randn([2, 3, 4, 4], { dtype: 'float64' }).mul(n)]));
    const ctx = { student: { logits: torch.zeros([2, 2]), features: f(1) }, teachers: [{ logits: torch.zeros([2, 2]), features: f(2) }] } as never;
    const pairs: [string, string][] = [['l0', 'l0'], ['l1', 'l2'], ['l2', 'l1']];
    const sum = distill.terms.spectral({ pairs }).compute(ctx).item();
    const mean = distill.terms.spectral({ pairs, reduction: 'mean' }).compute(ctx).item();
    expect(mean).toBeCloseTo(sum / 3, 14);
    expect(distill.terms.attention({ pairs, reduction: 'mean' }).compute(ctx).item())
      .toBeCloseTo(distill.terms.attention({ pairs }).compute(ctx).item() / 3, 14);
    expect(() => distill.terms.hidden({ pairs, reduction: 'avg' as never })).toThrow(/unknown reduction/);
    expect(() => distill.terms.spectral({ pairs: [] })).toThrow(/pairs must be a non-empty list/);
  });
});

describe('memory', () => {
  it('no distillation function leaves tensors behind', () => {
    torch.manualSeed(19);
    const s = torch.randn([4, 5], { dtype: 'float64' });
    const t = torch.randn([4, 5], { dtype: 'float64' });
    const y = torch.tensor([0, 1, 2, 3]);
    const h = [0, 1].map(() => torch.randn([2, 3, 4], { dtype: 'float64' }));
    const attn = torch.randn([2, 2, 3, 3], { dtype: 'float64' }).softmax(-1);
    const W = torch.randn([5, 3], { dtype: 'float64' });
    const model = new nn.Sequential(new nn.Linear(5, 5), new nn.Dropout(0.2)).double();
    const [ps, pt, targets] = [s.softmax(1), t.softmax(1), torch.tensor([1, 1, 1, 1])];
    const specialistProbs = torch.full([4, 2], 0.5, { dtype: 'float64' });
    const ones = torch.ones([2, 3]);
    const hp = h.map((x) => x.softmax(-1));
    const base = torch.memory().tensors;
    const results: Tensor[] = [
      distill.kdLoss(s, t), distill.hintonLoss(s, t, y), distill.dkdLoss(s, t, y), ...Object.values(distill.dkdParts(s, t, y)),
      distill.perturbLogits(t), distill.multiTeacherKdLoss(s, [t, s]), distill.xDivergence([ps, pt]),
      distill.intraMse([s, t]), ...Object.values(distill.intraDistillationLoss(model, s, y)),
      distill.hiddenStateLoss(h, h, { map: distill.layerMap(2, 2, 'skip') }), distill.attentionLoss(attn, attn, { mode: 'kl' }),
      distill.spectralLoss(h[0], h[1]), distill.spectralLoss(h[0], h[1], { layout: 'vit', prefixTokens: 0, grid: [3, 1] }),
      distill.hiddenStateLoss(h, h, { map: distill.layerMap(2, 2, 'skip'), mask: ones }),
      distill.attentionLoss(attn, attn, { mode: 'tinybert' }), distill.xDivergence(hp, { mask: ones, reduction: 'sum' }),
      distill.kdLoss(s, t, { squareTemperature: false, divergence: 'crossEntropy' }), distill.hintonLoss(s, t, y, { reduction: 'none' }),
      distill.sobolevLoss((x) => x.matmul(W), (x) => x.matmul(W).tanh(), s),
      distill.sampleTargetClasses(t), distill.selectBaseSamples(t, s, y),
      distill.combineSpecialists(pt, [{ classes: [0], probs: specialistProbs }], { steps: 3 }),
    ];
    const attack = distill.bssAttack((x) => x.matmul(W), s, { targetClasses: targets, maxSteps: 2 });
    results.push(attack.x, attack.flipped);
    const sens = distill.parameterSensitivity(model, () => model.call(s).sum());
    distill.spectralIntensity(h[0], { bins: 2 });
    expect(torch.memory().tensors - base).toBe(results.length + sens.size);
    torch.dispose(results);
    torch.dispose([...sens.values()]);
  });
});
