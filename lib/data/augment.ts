// Batch-level augmentations for image batches [B, C, H, W], applied once per batch so that a teacher and
// its student see the same augmented images ("consistent teaching", Beyer et al. 2022, "Knowledge
// distillation: A good teacher is patient and consistent"). Every random draw comes from torch's global
// generators (torch.rand / randint / randperm), so torch.manualSeed makes a run reproducible.
import { arrayArg, functionArg, TorchError, kindOf } from '../torch/errors';
import { arange, rand, randint, randn, randperm, type CreationOptions } from '../torch/creation';
import { cat, where } from '../torch/ops.generated';
import { nn as torchNn, tidy } from '../torch/index';
import { Tensor } from '../torch/tensor';
import { checkDevice, type Device } from '../torch/dtype';

/** A batch: the images, their targets (class indices or probabilities), and how they were mixed, if they were. */
export interface AugmentBatch {
  input: Tensor;
  target?: Tensor;
  /** Set by mixup: the partner samples' targets and the weight lam of the original ones. */
  mix?: { targetB: Tensor; lam: number };
}

/**
 * An augmentation maps a batch to a new batch. Every tensor it returns is a new tensor (unchanged fields
 * are new handles on the same data), so the caller may dispose the input and output batches independently.
 */
export type Augmentation = (batch: AugmentBatch) => AugmentBatch;

const F = torchNn.functional;

function checkBatch(op: string, batch: AugmentBatch, minDims: number): Tensor {
  if (batch === null || typeof batch !== 'object') throw new TorchError(`${op}: expected a batch { input, target?, mix? }, got ${kindOf(batch)}`);
  const x = batch.input;
  if (!(x instanceof Tensor)) throw new TorchError(`${op}: batch.input must be a Tensor, got ${kindOf(x)}`);
  if (x.ndim < minDims) {
    throw new TorchError(`${op}: batch.input must be a batch of images [B, C, H, W], got shape [${x.shape.join(', ')}]`);
  }
  if (batch.target !== undefined && !(batch.target instanceof Tensor)) throw new TorchError(`${op}: batch.target must be a Tensor, got ${kindOf(batch.target)}`);
  const mix = batch.mix;
  if (mix !== undefined && (mix === null || typeof mix !== 'object' || !(mix.targetB instanceof Tensor) || typeof mix.lam !== 'number')) {
    throw new TorchError(`${op}: batch.mix must be { targetB: Tensor, lam: number }`);
  }
  return x;
}

/** A new handle on t's data (a reshape to its own shape is a view). */
function alias(t: Tensor): Tensor {
  return t.reshape(t.shape);
}

/** The batch with a new input; target and mix are carried over as new handles. Call inside tidy. */
function withInput(batch: AugmentBatch, input: Tensor): AugmentBatch {
  const out: AugmentBatch = { input };
  if (batch.target !== undefined) out.target = alias(batch.target);
  if (batch.mix !== undefined) out.mix = { targetB: alias(batch.mix.targetB), lam: batch.mix.lam };
  return out;
}

function positiveInt(op: string, name: string, v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new TorchError(`${op}: ${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}

export interface RandomCropOptions {
  /** Output height and width (one number for a square). */
  size: number | [number, number];
  /** Pixels added on every side before cropping (default 0). */
  padding?: number;
  /** How the padding is filled, as F.pad's modes (default 'constant'; torchvision's 'edge' is 'replicate'). */
  paddingMode?: 'constant' | 'reflect' | 'replicate';
  /** Value of constant padding (default 0). */
  fill?: number;
}

/**
 * torchvision's RandomCrop applied to each sample independently: pad the batch by `padding` on every side
 * (F.pad), then cut a size[0]×size[1] window from each sample at a uniform random offset
 * (top ~ U{0..Hp−h}, left ~ U{0..Wp−w}), the same offset for all channels of that sample. Vectorised: one
 * gather with indices (top + r)·Wp + (left + c) over the flattened padded images. Works for [B, ..., H, W].
 */
export function randomCrop(options: RandomCropOptions): Augmentation {
  const op = 'randomCrop()';
  if (options === null || typeof options !== 'object') throw new TorchError(`${op}: expected options { size, padding?, paddingMode?, fill? }`);
  const { padding = 0, paddingMode = 'constant', fill = 0 } = options;
  const size = options.size;
  const [h, w] = Array.isArray(size) ? size : [size, size];
  if (Array.isArray(size) && size.length !== 2) throw new TorchError(`${op}: size must be a number or [height, width], got [${size.join(', ')}]`);
  positiveInt(op, 'size', h);
  positiveInt(op, 'size', w);
  if (!Number.isSafeInteger(padding) || padding < 0) throw new TorchError(`${op}: padding must be a non-negative integer, got ${padding}`);
  if (!['constant', 'reflect', 'replicate'].includes(paddingMode)) {
    throw new TorchError(`${op}: paddingMode must be 'constant', 'reflect' or 'replicate', got ${JSON.stringify(paddingMode)}`);
  }
  if (typeof fill !== 'number' || !Number.isFinite(fill)) throw new TorchError(`${op}: fill must be a finite number, got ${fill}`);
  return (batch) => {
    const x = checkBatch(op, batch, 3);
    const shape = x.shape;
    const [B, H, W] = [shape[0], shape[shape.length - 2], shape[shape.length - 1]];
    const [Hp, Wp] = [H + 2 * padding, W + 2 * padding];
    if (h > Hp || w > Wp) {
      throw new TorchError(`${op}: crop size [${h}, ${w}] is larger than the padded image [${Hp}, ${Wp}] (input [${shape.join(', ')}], padding ${padding})`);
    }
    return tidy(() => {
      const device = x.device;
      const M = shape.slice(1, -2).reduce((a, b) => a * b, 1);
      const images = x.reshape([B, M, H, W]);
      const padded = padding === 0 ? images
        : paddingMode === 'constant' ? F.pad(images, [padding, padding, padding, padding], 'constant', fill)
          : F.pad(images, [padding, padding, padding, padding], paddingMode);
      const top = randint(0, Hp - h + 1, [B, 1, 1], { device });
      const left = randint(0, Wp - w + 1, [B, 1, 1], { device });
      const rows = arange(h, { device }).view([1, h, 1]);
      const cols = arange(w, { device }).view([1, 1, w]);
      const index = top.add(rows).mul(Wp).add(left.add(cols)).view([B, 1, h * w]).expand([B, M, h * w]);
      const out = padded.reshape([B, M, Hp * Wp]).gather(2, index).view([...shape.slice(0, -2), h, w]);
      return withInput(batch, out);
    });
  };
}

/** Flips each sample left-right with probability p (default 0.5), independently: where(u_b < p, x_b.flip(−1), x_b). */
export function randomHorizontalFlip(options: { p?: number } = {}): Augmentation {
  const op = 'randomHorizontalFlip()';
  const { p = 0.5 } = options;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new TorchError(`${op}: p must be a probability in [0, 1], got ${p}`);
  return (batch) => {
    const x = checkBatch(op, batch, 2);
    return tidy(() => {
      const flip = rand([x.shape[0]], { device: x.device }).lt(p).view([x.shape[0], ...x.shape.slice(1).map(() => 1)]);
      return withInput(batch, where(flip, x.flip([-1]), x));
    });
  };
}

/**
 * log of n draws from Gamma(alpha, 1), float64: Marsaglia & Tsang (2000), "A simple method for generating
 * gamma variables", vectorised. With d = a − 1/3, c = 1/√(9d), x ~ N(0, 1), v = (1 + c·x)³ and u ~ U(0, 1),
 * d·v is accepted when v > 0 and log u < x²/2 + d − d·v + d·log v; rejected draws are replaced by further
 * rounds. For alpha < 1, Gamma(alpha) = Gamma(alpha + 1)·U^(1/alpha), kept in log space so that tiny
 * values do not underflow.
 */
function logGamma(alpha: number, n: number, device: Device): Tensor {
  return tidy(() => {
    const opts: CreationOptions = { dtype: 'float64', device };
    const a = alpha < 1 ? alpha + 1 : alpha;
    const d = a - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    const parts: Tensor[] = [];
    let have = 0;
    while (have < n) {
      const m = Math.ceil((n - have) * 1.05) + 16;
      const x = randn([m], opts);
      const u = rand([m], opts);
      const v = x.mul(c).add(1).pow(3);
      const logV = v.log(); // NaN or −∞ where v ≤ 0: the comparison below is then false
      const accept = u.log().lt(x.square().mul(0.5).add(d).sub(v.mul(d)).add(logV.mul(d)));
      const got = logV.maskedSelect(accept);
      parts.push(got);
      have += got.numel();
    }
    const out = cat(parts).narrow(0, 0, n).add(Math.log(d));
    return alpha < 1 ? out.add(rand([n], opts).log().div(alpha)) : out;
  });
}

/**
 * Draws from Beta(alpha, beta) of the given shape: X / (X + Y) = sigmoid(log X − log Y) with
 * X ~ Gamma(alpha), Y ~ Gamma(beta) (see logGamma), from torch's generator on `device` (default 'cpu').
 * float32 unless options.dtype says otherwise.
 */
export function sampleBeta(alpha: number, beta: number, size: number[], options: Omit<CreationOptions, 'requiresGrad'> = {}): Tensor {
  const op = 'sampleBeta()';
  for (const [name, v] of [['alpha', alpha], ['beta', beta]] as const) {
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new TorchError(`${op}: ${name} must be a positive finite number, got ${v}`);
  }
  if (!Array.isArray(size) || !size.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new TorchError(`${op}: size must be an array of non-negative integers`);
  }
  const n = size.reduce((p, s) => p * s, 1);
  const device = checkDevice(options.device ?? 'cpu');
  return tidy(() => logGamma(alpha, n, device).sub(logGamma(beta, n, device)).sigmoid()
    .to(options.dtype ?? 'float32').view(size));
}

/**
 * mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"): one lam ~ Beta(alpha, alpha) per
 * batch (alpha default 1, i.e. uniform), drawn from torch's CPU generator, and a random permutation π of
 * the batch (torch.randperm on the input's device): input = lam·x + (1 − lam)·x[π]. With a target, the
 * result carries mix = { targetB: target[π], lam } for mixupCrossEntropy; without one, mix is absent.
 */
export function mixup(options: { alpha?: number } = {}): Augmentation {
  const op = 'mixup()';
  const { alpha = 1 } = options;
  if (typeof alpha !== 'number' || !(alpha > 0) || !Number.isFinite(alpha)) throw new TorchError(`${op}: alpha must be a positive finite number, got ${alpha}`);
  return (batch) => {
    const x = checkBatch(op, batch, 1);
    if (batch.mix !== undefined) throw new TorchError(`${op}: the batch is already mixed (a mixed batch cannot be mixed again)`);
    const lam = tidy(() => sampleBeta(alpha, alpha, [], { dtype: 'float64' }).item() as number);
    return tidy(() => {
      const perm = randperm(x.shape[0], { device: x.device });
      const out: AugmentBatch = { input: x.mul(lam).add(x.indexSelect(0, perm).mul(1 - lam)) };
      if (batch.target !== undefined) {
        const target = batch.target;
        out.target = alias(target);
        out.mix = { targetB: target.indexSelect(0, target.device === x.device ? perm : perm.to(target.device)), lam };
      }
      return out;
    });
  };
}

/**
 * Applies augmentations in order; intermediate batches are freed (tensors an augmentation passes through
 * unchanged are kept). With no augmentations, returns new handles on the batch's tensors.
 */
export function compose(augs: Augmentation[]): Augmentation {
  arrayArg('compose', 'augs', augs);
  for (let i = 0; i < augs.length; i++) functionArg('compose', `augs[${i}] (an augmentation, a function of a batch)`, augs[i]);
  return (batch) => {
    checkBatch('compose()', batch, 1);
    if (augs.length === 0) return tidy(() => withInput(batch, alias(batch.input)));
    let current = batch;
    try {
      for (const aug of augs) {
        const next = aug(current);
        if (current !== batch) {
          const live = new Set(tensorsOf(next));
          for (const t of tensorsOf(current)) if (!live.has(t)) t.dispose();
        }
        current = next;
      }
    } catch (e) {
      if (current !== batch) tensorsOf(current).forEach((t) => t.dispose());
      throw e;
    }
    return current;
  };
}

function tensorsOf(batch: AugmentBatch): Tensor[] {
  const out = [batch.input];
  if (batch.target !== undefined) out.push(batch.target);
  if (batch.mix !== undefined) out.push(batch.mix.targetB);
  return out;
}

/**
 * The mixup loss: lam·CE(logits, target) + (1 − lam)·CE(logits, targetB), each cross entropy averaged over
 * the batch (F.crossEntropy; targets are class indices or probabilities). Without mix, plain CE.
 */
export function mixupCrossEntropy(logits: Tensor, target: Tensor, mix?: { targetB: Tensor; lam: number }): Tensor {
  if (mix === undefined) return F.crossEntropy(logits, target);
  const { targetB, lam } = mix;
  if (typeof lam !== 'number' || !(lam >= 0 && lam <= 1)) throw new TorchError(`mixupCrossEntropy(): mix.lam must be in [0, 1], got ${lam}`);
  return tidy(() => F.crossEntropy(logits, target).mul(lam).add(F.crossEntropy(logits, targetB).mul(1 - lam)));
}
