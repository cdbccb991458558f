// distill.recipes against Python transcriptions of each official codebase's formulas (written from the
// papers and the code's behaviour, not from the TypeScript): loss values and gradients on fixed inputs, and
// the schedules (loss weights, learning rates) per epoch or update.
import { describe, expect, it } from 'vitest';
import { distill, nn, optim, torch, type Tensor } from '../dist/index.js';
import { expectClose, py } from './helpers';

type Recipe = ReturnType<typeof distill.recipes.bss>;
type Features = Record<string, Tensor>;

/** A step context for the recipe's terms at a fractional epoch. */
function context(o: { s: Tensor; t: Tensor; y?: Tensor; sf?: Features; tf?: Features; epoch?: number; epochs?: number; step?: number; totalSteps?: number }) {
  return {
    input: o.s, target: o.y, student: { logits: o.s, features: o.sf ?? {} }, teachers: [{ logits: o.t, features: o.tf ?? {} }],
    step: o.step ?? 0, totalSteps: o.totalSteps ?? 1, epoch: o.epoch ?? 0, epochs: o.epochs ?? 1,
  };
}

/** The recipe's total loss at ctx and its gradient with respect to each leaf. */
function lossAndGrads(recipe: Recipe, leaves: Tensor[], ctx: ReturnType<typeof context>): { value: number; grads: unknown[] } {
  return torch.tidy(() => {
    const losses = distill.terms.combineTerms(recipe.distiller.terms, ctx as never);
    const grads = torch.autograd.grad([losses.loss], leaves);
    return { value: losses.loss.item(), grads: grads.map((g) => g.toArray()) };
  });
}

/** The learning rate of every optimizer step of a run of totalSteps steps under the recipe's optimizer and scheduler. */
function lrTrace(recipe: Recipe, totalSteps: number, onStep?: (k: number, opt: optim.Optimizer) => void): number[] {
  const p = torch.zeros([2, 2], { requiresGrad: true });
  const opt = recipe.fit.optimizer ? recipe.fit.optimizer([p]) : new optim.SGD([p], { lr: 1 });
  const scheduler = (recipe.fit.scheduler as NonNullable<Recipe['fit']['scheduler']>)(opt, totalSteps);
  const lrs: number[] = [];
  for (let k = 0; k < totalSteps; k++) {
    lrs.push(opt.paramGroups[0].lr);
    onStep?.(k, opt);
    scheduler.step();
  }
  opt.dispose();
  p.dispose();
  return lrs;
}

/** Nested arrays of the values of nested objects (keys sorted), for expectClose on lists of results. */
function arrays(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(arrays);
  if (x !== null && typeof x === 'object') return Object.keys(x).sort().map((k) => arrays((x as Record<string, unknown>)[k]));
  return x;
}

/** expectClose over results that may hold lists of objects. */
function close(actual: unknown, expected: unknown, rtol: number, atol: number): void {
  expectClose(arrays(actual), arrays(expected), rtol, atol);
}

/** The lr of the first step of each epoch. */
const perEpoch = (lrs: number[], stepsPerEpoch: number) => lrs.filter((_, k) => k % stepsPerEpoch === 0);

function logits(seed: number, b = 6, c = 5) {
  torch.manualSeed(seed);
  const s = torch.randn([b, c], { dtype: 'float64' }).requiresGrad_();
  const t = torch.randn([b, c], { dtype: 'float64' }).mul(2);
  const y = torch.randint(0, c, [b]);
  return { s, t, y, inputs: { s: s.toArray(), t: t.toArray(), y: y.toArray() } };
}

const PRELUDE = `import math
F = torch.nn.functional
s = torch.tensor(inputs['s'], dtype=torch.float64); t = torch.tensor(inputs['t'], dtype=torch.float64); y = torch.tensor(inputs['y'])
def run(f, *leaves):
    xs = [x.clone().requires_grad_() for x in leaves]
    v = f(*xs)
    return dict(value=v.item(), grads=[g.tolist() for g in torch.autograd.grad(v, xs)])`;

describe('mdistiller', () => {
  // mdistiller/distillers/KD.py and configs; lr from mdistiller/engine/utils.py adjust_learning_rate.
  const PY_MD = `${PRELUDE}
def kd_loss(ls, lt, T):
    return F.kl_div(F.log_softmax(ls / T, 1), F.softmax(lt / T, 1), reduction='none').sum(1).mean() * T ** 2
def adjust_lr(epoch, lr, stages, rate=0.1):
    steps = sum(1 for st in stages if epoch > st)
    return lr * rate ** steps if steps > 0 else lr`;

  it('KD on CIFAR-100 and ImageNet: CE_WEIGHT·CE + KD_WEIGHT·T²·KL, and the staged lr per epoch', () => {
    const { s, t, y, inputs } = logits(1);
    const cifar = distill.recipes.mdistillerKd();
    const imagenet = distill.recipes.mdistillerKd({ dataset: 'imagenet' });
    const ours = {
      cifar: lossAndGrads(cifar, [s], context({ s, t, y })),
      imagenet: lossAndGrads(imagenet, [s], context({ s, t, y })),
      cifarLr: perEpoch(lrTrace(cifar, 240 * 2), 2),
      imagenetLr: perEpoch(lrTrace(imagenet, 100 * 3), 3),
    };
    const ref = py(`${PY_MD}
out = dict(cifar=run(lambda x: 0.1 * F.cross_entropy(x, y) + 0.9 * kd_loss(x, t, 4), s),
           imagenet=run(lambda x: 0.5 * F.cross_entropy(x, y) + 0.5 * kd_loss(x, t, 1), s),
           cifarLr=[adjust_lr(e, 0.05, [150, 180, 210]) for e in range(1, 241)],
           imagenetLr=[adjust_lr(e, 0.2, [30, 60, 90]) for e in range(1, 101)])`, inputs);
    expectClose(ours, ref, 1e-12, 1e-15);
    expect(cifar.fit.epochs).toBe(240);
    expect(cifar.batchSize).toBe(64);
    expect(imagenet.batchSize).toBe(512);
  });

  it('DKD: CE + min(e/WARMUP, 1)·(α·TCKD + β·NCKD) at the 1-based epoch, per config, and its lr', () => {
    const { s, t, y, inputs } = logits(2);
    const configs = [
      { recipe: distill.recipes.mdistillerDkd(), beta: 8, T: 4, warmup: 20, lr: 0.05 },
      { recipe: distill.recipes.mdistillerDkd({ config: 'vgg13_mv2' }), beta: 6, T: 4, warmup: 20, lr: 0.01 },
      { recipe: distill.recipes.mdistillerDkd({ dataset: 'imagenet' }), beta: 0.5, T: 1, warmup: 1, lr: 0.2 },
      { recipe: distill.recipes.mdistillerDkd({ dataset: 'imagenet', config: 'r50_mv1' }), beta: 2, T: 1, warmup: 1, lr: 0.2 },
    ];
    // Fractional epochs 0, 0.5 (official epoch 1), 1.25 (2), 19.9 (20), 30 (31).
    const epochs = [0, 0.5, 1.25, 19.9, 30];
    const ours = configs.map(({ recipe }) => epochs.map((epoch) => lossAndGrads(recipe, [s], context({ s, t, y, epoch, epochs: 240 }))));
    const ref = py(`${PY_MD}
def dkd_loss(ls, lt, target, alpha, beta, T):  # mdistiller DKD.py
    gt = torch.zeros_like(ls).scatter_(1, target.unsqueeze(1), 1).bool()
    other = ~gt
    cat = lambda p: torch.cat([(p * gt).sum(1, keepdim=True), (p * other).sum(1, keepdim=True)], 1)
    ps, pt = cat(F.softmax(ls / T, 1)), cat(F.softmax(lt / T, 1))
    tckd = F.kl_div(torch.log(ps), pt, reduction='sum') * T ** 2 / target.shape[0]
    pt2 = F.softmax(lt / T - 1000.0 * gt, 1); ls2 = F.log_softmax(ls / T - 1000.0 * gt, 1)
    nckd = F.kl_div(ls2, pt2, reduction='sum') * T ** 2 / target.shape[0]
    return alpha * tckd + beta * nckd
out = [[run(lambda x: F.cross_entropy(x, y) + min(e / c['warmup'], 1.0) * dkd_loss(x, t, y, 1.0, c['beta'], c['T']), s)
        for e in [1, 1, 2, 20, 31]] for c in inputs['configs']]`, { ...inputs, configs: configs.map(({ beta, T, warmup }) => ({ beta, T, warmup })) });
    close(ours, ref, 1e-10, 1e-14);
    // ImageNet's warm-up of 1 epoch: full weight from the first step (the fractional epoch would give 0 there).
    const first = ours[2][0].value;
    const ce = torch.tidy(() => nn.functional.crossEntropy(s, y).item());
    expect(first).toBeGreaterThan(ce + 1e-3);
    for (const { recipe, lr } of configs) expect(perEpoch(lrTrace(recipe, recipe.fit.epochs as number), 1)[0]).toBeCloseTo(lr, 15);
    expect(() => distill.recipes.mdistillerDkd({ config: 'r34_r18' })).toThrow(/unknown cifar100 config "r34_r18"/);
    expect(() => distill.recipes.mdistillerKd({ dataset: 'cifar10' as never })).toThrow(/dataset must be 'cifar100' or 'imagenet'/);
  });
});

describe('TAKD', () => {
  it("(1 − λ)·CE + λ·T²·KLDivLoss() ('mean' over B·C), and adjust_learning_rate as the script runs it", () => {
    const { s, t, y, inputs } = logits(3);
    const resnet = distill.recipes.takd({ temperature: 5, lambda: 0.35 });
    const plain = distill.recipes.takd({ temperature: 2, lambda: 0.8, student: 'plain', epochs: 20 });
    const ours = {
      resnet: lossAndGrads(resnet, [s], context({ s, t, y })),
      plain: lossAndGrads(plain, [s], context({ s, t, y })),
      resnetLr: perEpoch(lrTrace(resnet, 160 * 2), 2),
      plainLr: perEpoch(lrTrace(plain, 20), 1),
    };
    const ref = py(`${PRELUDE}
def takd(x, T, lam):  # train.py TrainManager.train
    loss_kd = torch.nn.KLDivLoss()(F.log_softmax(x / T, dim=1), F.softmax(t / T, dim=1))
    return (1 - lam) * F.cross_entropy(x, y) + lam * T * T * loss_kd
def adjust(epoch, epochs, plain):  # TrainManager.adjust_learning_rate, called with the 0-based epoch
    if plain: return 0.01
    if epoch < int(epoch / 2.0): return 0.1
    elif epoch < int(epochs * 3 / 4.0): return 0.1 * 0.1
    return 0.1 * 0.01
out = dict(resnet=run(lambda x: takd(x, 5, 0.35), s), plain=run(lambda x: takd(x, 2, 0.8), s),
           resnetLr=[adjust(e, 160, False) for e in range(160)], plainLr=[adjust(e, 20, True) for e in range(20)])`, inputs);
    expectClose(ours, ref, 1e-12, 1e-15);
    expect(() => distill.recipes.takd({ temperature: 4 } as never)).toThrow(/lambda must be in \[0, 1\]/);
    // A chain's stages each get fresh terms.
    const a = distill.recipes.takd({ temperature: 4, lambda: 0.5 }).distiller.terms;
    expect(a.map((term) => term.name)).toEqual(['ce', 'kd']);
  });
});

describe('torchdistill', () => {
  it("KDLoss: α·CE + (1 − α)·T²·KL(batchmean), the soft-only path without T², and MultiStepLR per epoch", () => {
    const { s, t, y, inputs } = logits(4);
    const official = distill.recipes.torchdistillKd();
    const cifar = distill.recipes.torchdistillKd({ temperature: 4, alpha: 0.9 });
    const softOnly = distill.recipes.torchdistillKd({ temperature: 3, alpha: 0 });
    const ours = {
      official: lossAndGrads(official, [s], context({ s, t, y })),
      cifar: lossAndGrads(cifar, [s], context({ s, t, y })),
      softOnly: lossAndGrads(softOnly, [s], context({ s, t, y })),
      lr: perEpoch(lrTrace(official, 100 * 2), 2),
    };
    const ref = py(`${PRELUDE}
def kd_loss(x, T, alpha, targets=True):  # torchdistill/losses/mid_level.py KDLoss, reduction 'batchmean'
    soft = F.kl_div(torch.log_softmax(x / T, dim=1), torch.softmax(t / T, dim=1), reduction='batchmean')
    if alpha is None or alpha == 0 or not targets: return soft
    return alpha * F.cross_entropy(x, y) + (1 - alpha) * T ** 2 * soft
p = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[30, 60, 90], gamma=0.1)
lrs = []
for epoch in range(100):
    lrs.append(opt.param_groups[0]['lr']); opt.step(); sched.step()
out = dict(official=run(lambda x: kd_loss(x, 1.0, 0.5), s), cifar=run(lambda x: kd_loss(x, 4.0, 0.9), s),
           softOnly=run(lambda x: kd_loss(x, 3.0, 0), s), lr=lrs)`, inputs);
    expectClose(ours, ref, 1e-12, 1e-15);
  });
});

/** A linear classifier over flattened inputs. */
class Linear2 extends nn.Module {
  fc: nn.Linear;
  constructor(inp: number, out: number) {
    super();
    this.fc = this.registerModule('fc', new nn.Linear(inp, out));
  }
  forward(x: Tensor): Tensor {
    return this.fc.call(x.flatten(1));
  }
}

describe('BSS', () => {
  it('the clean terms at T = 3 without T², r(e) and r_a(e) at the 1-based epoch, and the lr with momentum restarts', () => {
    const { s, t, y, inputs } = logits(5);
    const recipe = distill.recipes.bss();
    const epochs = [0, 0.5, 9, 39.5, 79.9];
    const ours = {
      clean: epochs.map((epoch) => lossAndGrads(recipe, [s], context({ s, t, y, epoch, epochs: 80 }))),
      ra: [...Array(80).keys()].map((e) => distill.bssWeights(distill.terms.scheduleEpoch({ epoch: e + 0.5 }, 'oneBased'), 80).ra),
      lr: perEpoch(lrTrace(recipe, 80 * 2), 2),
    };
    const ref = py(`${PRELUDE}
T = 3
def clean(x, ratio):  # train_BSS_distillation.py: CE + the KD term of train_attack_KD
    return F.cross_entropy(x, y) - ratio * (F.softmax(t / T, 1) * F.log_softmax(x / T, 1)).sum() / x.shape[0]
ratio = lambda e: max(3 * (1 - e / 80), 0) + 1
attack_ratio = lambda e: max(2 * (1 - 4 / 3 * e / 80), 0) + 0
lr, lrs = None, []
for epoch in range(1, 81):
    if epoch == 1: lr = 0.1
    elif epoch == 80 / 2: lr = 0.01
    elif epoch == 80 / 4 * 3: lr = 0.001
    lrs.append(lr)
out = dict(clean=[run(lambda x: clean(x, ratio(e)), s) for e in [1, 1, 10, 40, 80]],
           ra=[attack_ratio(e) for e in range(1, 81)], lr=lrs)`, inputs);
    close(ours, ref, 1e-12, 1e-15);
    // The script builds a new SGD at epochs 40 and 60: the momentum buffers are gone at their first step.
    const tracked: number[] = [];
    {
      const q = torch.ones([3], { requiresGrad: true });
      const opt = recipe.fit.optimizer!([q]);
      const scheduler = recipe.fit.scheduler!(opt, 160);
      for (let k = 0; k < 160; k++) {
        if (opt.state.size === 0) tracked.push(k);
        torch.tidy(() => { opt.zeroGrad(); q.square().sum().backward(); opt.step(); });
        scheduler.step();
      }
      opt.dispose();
      q.dispose();
    }
    // Steps 0, 78 (epoch 40) and 118 (epoch 60) start without momentum; two steps per epoch.
    expect(tracked).toEqual([0, 78, 118]);
  });

  it('a Distiller step with the recipe equals train_attack_KD on the same batch (attack, clamp, boundary term, gradients)', () => {
    torch.manualSeed(6);
    const teacher = new Linear2(8, 2).double();
    const student = new Linear2(8, 2).double();
    torch.noGrad(() => student.fc.weight.copy_(teacher.fc.weight.add(torch.randn([2, 8], { dtype: 'float64' }).mul(0.3))));
    const x = torch.randn([12, 2, 2, 2], { dtype: 'float64' }).mul(1.5);
    const y = torch.noGrad(() => teacher.forward(x).argmax(1));
    const recipe = distill.recipes.bss();
    const d = new distill.Distiller({ student, teachers: [teacher], ...recipe.distiller });
    // Epoch 10 of 80 (fractional 9.x): ratio 3.625, attack ratio 5/3.
    const losses = d.step({ input: x, target: y }, { step: 90, totalSteps: 800, epoch: 9, epochs: 80 });
    const grads = torch.autograd.grad([losses.loss], [student.fc.weight, student.fc.bias!]);
    const ours = { loss: losses.loss.item(), bss: losses.bss.item(), gw: grads[0].toArray(), gb: grads[1].toArray() };
    const ref = py(`F = torch.nn.functional
x = torch.tensor(inputs['x'], dtype=torch.float64); targets = torch.tensor(inputs['y'])
Wt, bt = torch.tensor(inputs['Wt'], dtype=torch.float64), torch.tensor(inputs['bt'], dtype=torch.float64)
Ws = torch.tensor(inputs['Ws'], dtype=torch.float64).requires_grad_(); bs = torch.tensor(inputs['bs'], dtype=torch.float64).requires_grad_()
t_net = lambda v: v.flatten(1) @ Wt.t() + bt
s_net = lambda v: v.flatten(1) @ Ws.t() + bs
def attack(model, inp, target):  # attacks/attack_BSS.py AttackBSS.run: norm 2, step 0.3, 10 steps, clamp ±2.5
    v = inp.clone().requires_grad_(); step = 0; adv = inp.clone()
    while step < 10:
        if v.grad is not None: v.grad.zero_()
        o = model(v)
        if not step: gt = o.detach().max(1)[1]
        s_gt, s_t = o.gather(1, gt.unsqueeze(1)), o.gather(1, target.unsqueeze(1))
        (s_t - s_gt).sum().backward()
        a = (0.3 * (gt == o.detach().max(1)[1]).double()).view(-1, 1, 1, 1)
        if a.sum() == 0: break
        pert = (s_gt.detach() - s_t.detach()).view(-1, 1, 1, 1)
        g = v.grad.detach(); norm = (g * g).sum((1, 2, 3), keepdim=True).sqrt()
        adv = torch.clamp(v.detach() + a * (pert + 1e-4) * g / norm, -2.5, 2.5)
        v = adv.clone().requires_grad_(); step += 1
    return adv
T, epoch, max_epoch = 3, 10, 80
ratio = max(3 * (1 - epoch / max_epoch), 0) + 1
ratio_attack = max(2 * (1 - 4 / 3 * epoch / max_epoch), 0) + 0
# train_attack_KD on one batch
out_s = s_net(x); loss = F.cross_entropy(out_s, targets); out_t = t_net(x).detach()
loss = loss - ratio * (F.softmax(out_t / T, 1) * F.log_softmax(out_s / T, 1)).sum() / x.shape[0]
flag = (targets == out_t.sort(dim=1, descending=True)[1][:, 0]) & (targets == out_s.detach().sort(dim=1, descending=True)[1][:, 0])
idx = flag.nonzero().squeeze(1)
score, cls = F.softmax(out_t, 1)[idx].sort(dim=1, descending=True)
score, cls = score[:, 1:], cls[:, 1:]
seed = (score.sum(1) * torch.rand(idx.shape[0], dtype=torch.float64)).unsqueeze(1)
prob = score.cumsum(1); attack_class = cls[:, 0].clone()
for k in range(idx.shape[0]):
    for c in range(prob.shape[1]):
        if prob[k, c] >= seed[k]:
            attack_class[k] = cls[k, c]; break
adv = attack(t_net, x[idx], attack_class)
bss = -(F.softmax(t_net(adv).detach() / T, 1) * F.log_softmax(s_net(adv) / T, 1)).sum() / adv.shape[0]
loss = loss + ratio_attack * bss
gw, gb = torch.autograd.grad(loss, [Ws, bs])
out = dict(loss=loss.item(), bss=bss.item(), gw=gw.tolist(), gb=gb.tolist(), attacked=int(idx.shape[0]))`, {
      x: x.toArray(), y: y.toArray(), Wt: teacher.fc.weight.toArray(), bt: teacher.fc.bias!.toArray(),
      Ws: student.fc.weight.toArray(), bs: student.fc.bias!.toArray(),
    }) as Record<string, unknown> & { attacked: number };
    expect(ref.attacked).toBeGreaterThan(4);
    expectClose(ours, { loss: ref.loss, bss: ref.bss, gw: ref.gw, gb: ref.gb }, 1e-10, 1e-13);
    torch.dispose([losses, grads, x, y]);
    d.dispose();
  });
});

describe('SpectralKD (DeiT)', () => {
  it("(1 − α)·CE_ls + α·T²·KL + β·w_fft·mean over the 8 block pairs of the patch-grid FFT loss, and timm's cosine lr per epoch", () => {
    const { s, t, y, inputs } = logits(7, 4, 6);
    const recipe = distill.recipes.spectralKdDeit();
    const sIds = [0, 1, 6, 7, 8, 9, 10, 11];
    const tIds = [0, 1, 18, 19, 20, 21, 22, 23];
    torch.manualSeed(8);
    const sf: Features = Object.fromEntries(sIds.map((i) => [`blocks.${i}`, torch.randn([4, 1 + 9, 4], { dtype: 'float64' })]));
    const tf: Features = Object.fromEntries(tIds.map((i) => [`blocks.${i}`, torch.randn([4, 9, 8], { dtype: 'float64' })]));
    const leaf = sf['blocks.7'].requiresGrad_();
    const ours = {
      loss: lossAndGrads(recipe, [s, leaf], context({ s, t, y, sf, tf })),
      lr: perEpoch(lrTrace(recipe, 400), 1),
    };
    const ref = py(`${PRELUDE}
sf = [torch.tensor(v, dtype=torch.float64) for v in inputs['sf']]; tf = [torch.tensor(v, dtype=torch.float64) for v in inputs['tf']]
def label_smoothing_ce(x, target, smoothing=0.1):  # timm LabelSmoothingCrossEntropy
    logprobs = F.log_softmax(x, dim=-1)
    nll = -logprobs.gather(dim=-1, index=target.unsqueeze(1)).squeeze(1)
    return ((1 - smoothing) * nll + smoothing * -logprobs.mean(dim=-1)).mean()
def nchw(tokens, prefix):  # timm forward_intermediates (NCHW, prefix tokens dropped), 3×3 grid
    B, L, C = tokens.shape
    return tokens[:, prefix:].reshape(B, 3, 3, C).permute(0, 3, 1, 2)
def layer_fft_loss(fs, ft):  # losses.py
    if fs.shape[1] < ft.shape[1]: ft = F.adaptive_avg_pool3d(ft, (fs.shape[1], None, None))
    a, b = torch.fft.rfft2(fs, norm='ortho'), torch.fft.rfft2(ft, norm='ortho')
    return F.mse_loss(torch.stack([a.real, a.imag], -1), torch.stack([b.real, b.imag], -1))
def distillation_loss(x, f7):  # DistillationLoss.forward, distillation_type 'soft'
    feats = sf[:3] + [f7] + sf[4:]
    alpha, beta, w_fft, T = 0.9, 1.0, 0.2, 1.0
    loss_base = (1 - alpha) * label_smoothing_ce(x, y)
    loss_fft = beta * w_fft * sum(layer_fft_loss(nchw(a, 1), nchw(b, 0)) for a, b in zip(feats, tf)) / len(feats)
    dist = F.kl_div(F.log_softmax(x / T, dim=1), F.log_softmax(t / T, dim=1), reduction='batchmean', log_target=True) * T * T
    return loss_base + loss_fft + alpha * dist
# timm CosineLRScheduler (warmup 5 from 1e-6, min 1e-5, t_initial 400), stepped with the finished epoch after each epoch
base = 5e-4 * 256 * 2 / 512
def L(e):
    if e < 5: return 1e-6 + e * (base - 1e-6) / 5
    return 1e-5 + 0.5 * (base - 1e-5) * (1 + math.cos(math.pi * e / 400))
lrs = [1e-6] + [L(e) for e in range(0, 399)]
out = dict(loss=run(distillation_loss, s, sf[3]), lr=lrs)`, { ...inputs, sf: sIds.map((i) => sf[`blocks.${i}`].toArray()), tf: tIds.map((i) => tf[`blocks.${i}`].toArray()) });
    expectClose(ours, ref, 1e-12, 1e-15);
    expect(distill.recipes.spectralKdDeit({ student: 'deit_small' }).fit.epochs).toBe(500);
  });
});

describe('TinyBERT task distillation', () => {
  it('intermediate: Σ MSE of zeroed attention scores (layer (j+1)k−1) + Σ MSE(fit_dense(h_s^i), h_t^{ik}) with one shared projection', () => {
    torch.manualSeed(9);
    const [B, H, L, M, N] = [2, 2, 3, 2, 4];
    const pad = torch.tensor([[0, 0, -10000], [0, -10000, -10000]], { dtype: 'float64' }).reshape([B, 1, 1, L]);
    const paths = (who: string, n: number) => [...Array(n).keys()].map((i) => `${who}.${i}`);
    const sf: Features = {};
    const tf: Features = {};
    paths('sh', M + 1).forEach((p) => { sf[p] = torch.randn([B, L, 4], { dtype: 'float64' }); });
    paths('th', N + 1).forEach((p) => { tf[p] = torch.randn([B, L, 6], { dtype: 'float64' }); });
    paths('sa', M).forEach((p) => { sf[p] = torch.randn([B, H, L, L], { dtype: 'float64' }).add(pad); });
    paths('ta', N).forEach((p) => { tf[p] = torch.randn([B, H, L, L], { dtype: 'float64' }).mul(2).add(pad); });
    const recipe = distill.recipes.tinybert({
      stage: 'intermediate', studentHidden: paths('sh', M + 1), teacherHidden: paths('th', N + 1), studentAttention: paths('sa', M), teacherAttention: paths('ta', N),
    });
    const logits0 = torch.zeros([B, 2], { dtype: 'float64' });
    const ctx = context({ s: logits0, t: logits0, sf, tf });
    torch.tidy(() => distill.terms.combineTerms(recipe.distiller.terms, ctx as never));   // builds fit_dense
    const fit = recipe.distiller.terms[1].modules!.fitDense as nn.Linear;
    const [h1, a0] = [sf['sh.1'].requiresGrad_(), sf['sa.0'].requiresGrad_()];
    const ours = lossAndGrads(recipe, [h1, a0, fit.weight], ctx);
    const ref = py(`F = torch.nn.functional
sr = [torch.tensor(v, dtype=torch.float64) for v in inputs['sh']]; tr = [torch.tensor(v, dtype=torch.float64) for v in inputs['th']]
sa = [torch.tensor(v, dtype=torch.float64) for v in inputs['sa']]; ta = [torch.tensor(v, dtype=torch.float64) for v in inputs['ta']]
W = torch.tensor(inputs['W'], dtype=torch.float64); b = torch.tensor(inputs['b'], dtype=torch.float64)
def loss(h1, a0, W):  # task_distill.py, not pred_distill; fit_dense applied to every student rep (modeling.py)
    student_atts = [a0, sa[1]]; student_reps = [sr[0] @ W.t() + b, h1 @ W.t() + b, sr[2] @ W.t() + b]
    per_block = len(ta) // len(student_atts)
    new_teacher_atts = [ta[i * per_block + per_block - 1] for i in range(len(student_atts))]
    att_loss = 0.
    for s_att, t_att in zip(student_atts, new_teacher_atts):
        s_att = torch.where(s_att <= -1e2, torch.zeros_like(s_att), s_att)
        t_att = torch.where(t_att <= -1e2, torch.zeros_like(t_att), t_att)
        att_loss = att_loss + torch.nn.MSELoss()(s_att, t_att)
    new_teacher_reps = [tr[i * per_block] for i in range(len(student_atts) + 1)]
    rep_loss = sum(torch.nn.MSELoss()(s, t) for s, t in zip(student_reps, new_teacher_reps))
    return rep_loss + att_loss
xs = [torch.tensor(inputs['sh'][1], dtype=torch.float64).requires_grad_(), sa[0].clone().requires_grad_(), W.clone().requires_grad_()]
v = loss(*xs)
out = dict(value=v.item(), grads=[g.tolist() for g in torch.autograd.grad(v, xs)])`, {
      sh: paths('sh', M + 1).map((p) => sf[p].toArray()), th: paths('th', N + 1).map((p) => tf[p].toArray()),
      sa: paths('sa', M).map((p) => sf[p].toArray()), ta: paths('ta', N).map((p) => tf[p].toArray()),
      W: fit.weight.toArray(), b: fit.bias!.toArray(),
    });
    expectClose(ours, ref, 1e-12, 1e-14);
    expect(recipe.fit.scheduler).toBeUndefined();
    expect(() => distill.recipes.tinybert({ stage: 'intermediate', studentHidden: ['a'], teacherHidden: ['b'], studentAttention: ['c', 'd'], teacherAttention: ['e', 'f', 'g'] }))
      .toThrow(/teacher's 3 layers must be a multiple of the student's 2/);
  });

  it("prediction: soft_cross_entropy(s/T, t/T) averaged over B·C, and BertAdam's warmup_linear per step", () => {
    const { s, t, y, inputs } = logits(10);
    const recipe = distill.recipes.tinybert({ stage: 'prediction', temperature: 2 });
    const ours = { loss: lossAndGrads(recipe, [s], context({ s, t, y })), lr: lrTrace(recipe, 50) };
    const ref = py(`${PRELUDE}
def soft_cross_entropy(predicts, targets):  # task_distill.py
    return (- F.softmax(targets, dim=-1) * F.log_softmax(predicts, dim=-1)).mean()
def warmup_linear(step, t_total, warmup=0.1):  # transformer/optimization.py WarmupLinearSchedule at state['step']
    progress = step / t_total
    return progress / warmup if progress < warmup else max((progress - 1.) / (warmup - 1.), 0.)
out = dict(loss=run(lambda x: soft_cross_entropy(x / 2, t / 2), s), lr=[warmup_linear(k, 50) for k in range(50)])`, inputs);
    expectClose(ours, ref, 1e-12, 1e-15);
  });
});

/** A "model" that returns the k-th stored output on its k-th call (intra-distillation's passes). */
class Replay extends nn.Module {
  calls = 0;
  constructor(readonly outputs: Tensor[]) {
    super();
  }
  forward(): Tensor {
    return this.outputs[this.calls++ % this.outputs.length];
  }
}

describe('Intra-Distillation', () => {
  it("GLUE: mean task CE over K passes + α·(X-divergence summed over the batch)/K, α constant or adaptive, linear lr", () => {
    torch.manualSeed(11);
    const outs = [0, 1, 2].map(() => torch.randn([5, 3], { dtype: 'float64' }).mul(2).requiresGrad_());
    const y = torch.tensor([0, 2, 1, 1, 0]);
    const x = torch.zeros([5, 1], { dtype: 'float64' });
    const run = (recipe: Recipe, step: number, total: number) => {
      const d = new distill.Distiller({ student: new Replay(outs), ...recipe.distiller });
      return torch.tidy(() => {
        const losses = d.step({ input: x, target: y }, { step, totalSteps: total, epoch: 0, epochs: 1 });
        const grads = torch.autograd.grad([losses.loss], outs);
        return { value: losses.loss.item(), grads: grads.map((g) => g.toArray()) };
      });
    };
    const official = distill.recipes.intraDistillationNlu();
    const adaptive = distill.recipes.intraDistillationNlu({ alpha: 5 });
    const ours = {
      official: run(official, 0, 100),
      adaptive: [0, 3, 10, 14, 15, 60].map((step) => run(adaptive, step, 100)),
      lr: lrTrace(official, 40),
    };
    const ref = py(`F = torch.nn.functional
outs = [torch.tensor(o, dtype=torch.float64) for o in inputs['outs']]; y = torch.tensor(inputs['y'])
def get_consistency_alpha(alpha, num_update, max_update, p, q):  # run_glue_no_trainer.py
    if num_update >= max_update / p or alpha <= 1: return alpha
    alpha = torch.tensor([alpha])
    gamma = torch.log(1 / alpha) / torch.log(torch.tensor([p / q]))
    return ((p ** gamma * alpha * num_update ** gamma) / (max_update ** gamma)).item()
def intra_distillation(alpha, num_update, max_update):  # run_glue_no_trainer.py intra_distillation, K = 3
    xs = [o.clone().requires_grad_() for o in outs]
    loss, logits = 0, []
    for o in xs:
        loss += F.cross_entropy(o, y); logits.append(F.softmax(o, dim=-1))
    m = sum(logits) / len(logits)
    kl = sum(((l - m) * (torch.log(l) - torch.log(m))).sum() for l in logits) / len(logits)
    v = loss / len(logits) + get_consistency_alpha(alpha, num_update, max_update, 6.67, 10) * kl
    return dict(value=v.item(), grads=[g.tolist() for g in torch.autograd.grad(v, xs)])
# transformers get_scheduler('linear', num_warmup_steps=0, num_training_steps=40)
lr = [max(0.0, (40 - k) / max(1, 40)) for k in range(40)]
out = dict(official=intra_distillation(0.5, 0, 100), adaptive=[intra_distillation(5.0, k, 100) for k in [0, 3, 10, 14, 15, 60]], lr=lr)`,
    { outs: outs.map((o) => o.toArray()), y: y.toArray() });
    // The official α is a float32 (torch.tensor([alpha])): its rounding, times the intra gradient, sets the tolerance.
    close(ours, ref, 1e-6, 1e-8);
    expect(official.fit.optimizer).toBeUndefined();
  });

  it("IWSLT'14: fairseq's label-smoothed CE and X_loss over non-pad tokens, per token, adaptive α over 50k updates, inverse-sqrt lr", () => {
    torch.manualSeed(12);
    const [B, L, V] = [2, 4, 6];
    const outs = [0, 1, 2].map(() => torch.randn([B, L, V], { dtype: 'float64' }).mul(2).requiresGrad_());
    const y = torch.tensor([[4, 5, 2, 1], [3, 2, 1, 1]]);   // fairseq: pad = 1, eos = 2
    const x = torch.zeros([B, 1], { dtype: 'float64' });
    const recipe = distill.recipes.intraDistillationMt();
    const d = new distill.Distiller({ student: new Replay(outs), ...recipe.distiller });
    const steps = [0, 2500, 5000, 9999, 10000, 40000];
    const ours = {
      loss: steps.map((step) => torch.tidy(() => {
        const losses = d.step({ input: x, target: y }, { step, totalSteps: 50000, epoch: 0, epochs: 1 });
        const grads = torch.autograd.grad([losses.loss], outs);
        return { value: losses.loss.item(), grads: grads.map((g) => g.toArray()) };
      })),
      lr: [0, 1, 4000, 7999, 8000, 8001, 20000, 49999].map((k) => lrTrace(recipe, k + 1)[k]),
    };
    const ref = py(`F = torch.nn.functional
outs = [torch.tensor(o, dtype=torch.float64) for o in inputs['outs']]; target = torch.tensor(inputs['y'])
def label_smoothed_nll_loss(lprobs, target, epsilon, ignore_index):  # fairseq criterions/label_smoothed_cross_entropy.py
    target = target.unsqueeze(-1)
    nll = -lprobs.gather(dim=-1, index=target); smooth = -lprobs.sum(dim=-1, keepdim=True)
    pad = target.eq(ignore_index); nll.masked_fill_(pad, 0.0); smooth.masked_fill_(pad, 0.0)
    nll, smooth = nll.sum(), smooth.sum()
    eps_i = epsilon / (lprobs.size(-1) - 1)
    return (1.0 - epsilon - eps_i) * nll + eps_i * smooth
def X_loss(logits, pad_mask):  # fairseq/tasks/intra_distillation.py
    keep = ~pad_mask.view(-1); V = logits[0].size(-1)
    m = (sum(logits) / len(logits)).view(-1, V)[keep]
    return sum(((l.view(-1, V)[keep] - m) * (torch.log(l.view(-1, V)[keep]) - torch.log(m))).sum() for l in logits) / len(logits)
def get_alpha(alpha, num_update, max_update, p=5, q=10):  # Translation_Intra_Distillation._get_alpha, adaptive
    if num_update >= max_update / p or alpha <= 1: return alpha
    alpha = torch.tensor([alpha])
    gamma = torch.log(1 / alpha) / torch.log(torch.tensor([p / q]))
    return ((p ** gamma * alpha * num_update ** gamma) / (max_update ** gamma)).item()
ntokens = target.ne(1).sum()
def train_step(update_num):  # train_step; fairseq divides the gradient by sample_size = ntokens
    xs = [o.clone().requires_grad_() for o in outs]
    losses = [label_smoothed_nll_loss(F.log_softmax(o, -1), target, 0.1, 1) for o in xs]
    loss = sum(losses) / len(losses) + X_loss([F.softmax(o, -1) for o in xs], target.eq(1)) * get_alpha(5.0, update_num, 50000)
    v = loss / ntokens
    return dict(value=v.item(), grads=[g.tolist() for g in torch.autograd.grad(v, xs)])
def inverse_sqrt(n, lr=5e-4, warmup=8000):  # lr_scheduler/inverse_square_root_schedule.py step_update(num_updates)
    return 0 + n * (lr - 0) / warmup if n < warmup else lr * warmup ** 0.5 * n ** -0.5
out = dict(loss=[train_step(k) for k in inputs['steps']], lr=[inverse_sqrt(n) for n in [0, 1, 4000, 7999, 8000, 8001, 20000, 49999]])`,
    { outs: outs.map((o) => o.toArray()), y: y.toArray(), steps });
    // As above: the official α is a float32.
    close(ours, ref, 1e-6, 1e-8);
    d.dispose();
  });
});

describe('recipes', () => {
  it('every recipe names its source files and settings, and builds fresh terms on each call', () => {
    const all: Recipe[] = [
      distill.recipes.mdistillerKd(), distill.recipes.mdistillerKd({ dataset: 'imagenet' }), distill.recipes.mdistillerDkd(),
      distill.recipes.mdistillerDkd({ dataset: 'imagenet' }), distill.recipes.takd({ temperature: 4, lambda: 0.5 }), distill.recipes.bss(),
      distill.recipes.spectralKdDeit(), distill.recipes.tinybert({ stage: 'prediction' }), distill.recipes.intraDistillationNlu(),
      distill.recipes.intraDistillationMt(), distill.recipes.torchdistillKd(),
    ];
    for (const r of all) {
      expect(r.source.repository).toMatch(/^[\w-]+\/[\w.-]+$/);
      expect(r.source.files.length).toBeGreaterThan(0);
      expect(r.distiller.terms.length).toBeGreaterThan(0);
      expect(r.batchSize).toBeGreaterThan(0);
      expect(r.fit.epochs ?? r.fit.maxSteps).toBeGreaterThan(0);
    }
    expect(new Set(all.map((r) => r.name)).size).toBe(all.length);
    expect(distill.recipes.bss().distiller.terms[1]).not.toBe(distill.recipes.bss().distiller.terms[1]);
  });

  it('a Distiller step under the BSS and intra recipes leaves no tensors behind but its losses', () => {
    torch.manualSeed(13);
    const teacher = new Linear2(8, 3).double();
    const student = new Linear2(8, 3).double();
    const x = torch.randn([10, 2, 2, 2], { dtype: 'float64' });
    const y = torch.noGrad(() => teacher.forward(x).argmax(1));
    const info = { step: 3, totalSteps: 100, epoch: 0.3, epochs: 10 };
    for (const recipe of [distill.recipes.bss({ epochs: 10 }), distill.recipes.intraDistillationNlu()]) {
      const d = new distill.Distiller({ student, teachers: [teacher], ...recipe.distiller });
      const before = torch.memory().tensors;
      const losses = d.step({ input: x, target: y }, info);
      const n = Object.keys(losses).length;
      expect(torch.memory().tensors - before).toBe(n);
      torch.dispose(losses);
      d.dispose();
    }
    expect(() => new distill.Distiller({ student, teachers: [teacher], terms: [distill.terms.kd()], intra: { reduction: 'batchmean' as never } }))
      .toThrow(/intra.reduction must be 'mean' or 'sum'/);
    expect(() => new distill.Distiller({ student, teachers: [teacher], terms: [distill.terms.kd()], bss: { epochConvention: 'zero' as never } }))
      .toThrow(/unknown epochConvention/);
    torch.dispose([x, y]);
  });
});
