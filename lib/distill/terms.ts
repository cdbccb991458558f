// Loss terms for the Distiller: each one names itself, may carry trainable modules (projections), and
// computes one scalar from a StepContext (the batch, the student's and the teachers' outputs and features).
import * as nn from '../nn';
import * as torch from '../torch';
import { argError, arrayArg, formatValue, functionArg, objectArg, stringArg, TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { bssWeights } from './bss';
import { dkdLoss } from './dkd';
import { kdLoss, type KdDivergence, type KdReduction } from './hinton';
import { attentionLoss, type AttentionLossOptions } from './hidden';
import { multiTeacherKdLoss, type MultiTeacherOptions } from './multiTeacher';
import { spectralLoss, type FeatureLayout, type SpectralLossOptions } from './spectral';

/** What a model produced on a batch: its logits and the features captured at the requested paths. */
export interface ModelOutputs {
  logits: Tensor;
  features: Record<string, Tensor>;
}

/** Everything a loss term sees at one training step. */
export interface StepContext {
  /** The batch both models saw (after augmentation). */
  input: Tensor;
  /** int64 class labels; a negative label marks an unlabelled sample (transfer set). */
  target?: Tensor;
  /** Mixup partner labels and weight, when the batch was mixed. */
  mix?: { targetB: Tensor; lam: number };
  student: ModelOutputs;
  /** One entry per teacher (computed, or read from an offline cache); empty without teachers. */
  teachers: ModelOutputs[];
  /**
   * 0-based optimisation step, total steps of the run, and the epoch as a fraction (step / steps per epoch:
   * 0 at the first step, 1.5 half-way through the second epoch); see EpochConvention for the count the
   * official codebases use.
   */
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
}

/**
 * How an epoch schedule reads the epoch:
 * - 'fractional' (default): ctx.epoch, step / steps per epoch, 0 at the first step and rising continuously;
 * - 'oneBased': the integer epoch counted from 1, floor(ctx.epoch) + 1, constant over an epoch: 1 for every
 *   step of the first pass over the data and E in the last (mdistiller's and BSS's
 *   `for epoch in range(1, epochs + 1)`).
 */
export type EpochConvention = 'fractional' | 'oneBased';

export function checkEpochConvention(convention: EpochConvention, op: string): EpochConvention {
  stringArg('terms.checkEpochConvention', 'op', op);
  if (convention !== 'fractional' && convention !== 'oneBased') {
    throw new TorchError(`${op}: unknown epochConvention ${formatValue(convention)} (fractional | oneBased)`);
  }
  return convention;
}

/** The epoch a schedule sees at this step under a convention. */
/** Checks a step context's epoch (and epochs) for the schedules. */
function checkEpochs(op: string, ctx: Partial<Pick<StepContext, 'epoch' | 'epochs'>>, withEpochs = true): void {
  objectArg(op, 'ctx', ctx);
  for (const key of withEpochs ? ['epoch', 'epochs'] as const : ['epoch'] as const) {
    if (typeof ctx[key] !== 'number' || !Number.isFinite(ctx[key])) argError(op, `ctx.${key} must be a finite number, got ${formatValue(ctx[key])}`);
  }
}

export function scheduleEpoch(ctx: Pick<StepContext, 'epoch'>, convention: EpochConvention = 'fractional'): number {
  checkEpochs('terms.scheduleEpoch', ctx, false);
  return checkEpochConvention(convention, 'scheduleEpoch()') === 'oneBased' ? Math.floor(ctx.epoch) + 1 : ctx.epoch;
}

/** A term weight that follows fn(epoch, epochs), with the epoch read under the given convention. */
export function epochSchedule(fn: (epoch: number, epochs: number) => number,
  options: { epochConvention?: EpochConvention } = {}): (ctx: StepContext) => number {
  const epochConvention = checkEpochConvention(options.epochConvention ?? 'fractional', 'epochSchedule()');
  return (ctx) => fn(scheduleEpoch(ctx, epochConvention), ctx.epochs);
}

export interface LossTerm {
  /** The key of this term in the step's loss dictionary. */
  readonly name: string;
  /** A constant, or a schedule evaluated each step (default 1). */
  readonly weight?: number | ((ctx: StepContext) => number);
  /** Trainable modules of the term (projections): optimised with the student, saved in checkpoints. */
  readonly modules?: Record<string, nn.Module>;
  /** Student and teacher feature paths the term reads (the Distiller captures them). */
  readonly studentFeatures?: string[];
  readonly teacherFeatures?: string[];
  /** The unweighted loss (a scalar tensor). */
  compute(ctx: StepContext): Tensor;
}

function labelledMask(target: Tensor): Tensor {
  return target.ge(0);
}

/**
 * Cross entropy on the labelled samples: Σ_{i: y_i ≥ 0} CE(s_i, y_i) / max(#labelled, 1) (PyTorch's mean
 * over the labelled rows; 0 for a batch of unlabelled samples). With mixup, λ·CE(y_a) + (1 − λ)·CE(y_b)
 * over the rows where both labels are known.
 */
export function crossEntropy(options: { labelSmoothing?: number; name?: string; weight?: LossTerm['weight'] } = {}): LossTerm {
  const { labelSmoothing = 0, name = 'ce', weight } = options;
  const rowLoss = (logits: Tensor, y: Tensor) => nn.functional.crossEntropy(logits, y.clamp(0), { reduction: 'none', labelSmoothing });
  return {
    name, weight,
    compute(ctx) {
      const { target, mix } = ctx;
      if (!target) throw new TorchError(`${name}: the cross-entropy term needs labels (batches of [input, target])`);
      const logits = ctx.student.logits;
      let mask = labelledMask(target);
      let loss = rowLoss(logits, target);
      if (mix) {
        mask = mask.logicalAnd(labelledMask(mix.targetB));
        loss = loss.mul(mix.lam).add(rowLoss(logits, mix.targetB).mul(1 - mix.lam));
      }
      const m = mask.to(loss.dtype);
      return loss.mul(m).sum().div(m.sum().clamp(1));
    },
  };
}

export interface KdTermOptions {
  /** Softmax temperature T (default 4). */
  temperature?: number;
  /** kdLoss's reduction (default 'batchmean'). */
  reduction?: KdReduction;
  /** Multiply by T² (default true); see kdLoss. */
  squareTemperature?: boolean;
  /** 'kl' (default) or 'crossEntropy' (one teacher only); see kdLoss. */
  divergence?: KdDivergence;
  /** With several teachers: how to combine them (multiTeacherKdLoss's modes, default 'avgProbs'). */
  mode?: MultiTeacherOptions['mode'];
  teacherWeights?: number[];
  name?: string;
  weight?: LossTerm['weight'];
}

/**
 * Hinton KD on every sample, labelled or not: T²·KL(softmax(t/T) ‖ softmax(s/T)), summed over classes and
 * averaged over the batch (kdLoss, 'batchmean', unless `reduction` says otherwise; without the T² when
 * `squareTemperature` is false); several teachers are combined by multiTeacherKdLoss.
 */
export function kd(options: KdTermOptions = {}): LossTerm {
  const { temperature = 4, reduction, squareTemperature = true, divergence = 'kl', mode, teacherWeights, name = 'kd', weight } = options;
  return {
    name, weight,
    compute(ctx) {
      const teachers = ctx.teachers.map((t) => t.logits);
      if (teachers.length === 0) throw new TorchError(`${name}: the KD term needs a teacher`);
      if (teachers.length === 1) return kdLoss(ctx.student.logits, teachers[0], { temperature, reduction, squareTemperature, divergence });
      if (divergence !== 'kl') throw new TorchError(`${name}: divergence '${divergence}' takes a single teacher`);
      return torch.tidy(() => {
        const loss = multiTeacherKdLoss(ctx.student.logits, teachers, { temperature, mode, weights: teacherWeights, reduction });
        return squareTemperature ? loss : loss.div(temperature * temperature);
      });
    },
  };
}

/** Selects the labelled rows of each tensor (an empty batch gives null). */
function labelledRows(target: Tensor, ...tensors: Tensor[]): Tensor[] | null {
  const rows = labelledMask(target).nonzero().reshape([-1]);
  if (rows.size(0) === 0) return null;
  return [target.indexSelect(0, rows), ...tensors.map((t) => t.indexSelect(0, rows))];
}

/**
 * Decoupled KD (Zhao et al. 2022) on the labelled samples: α·TCKD + β·NCKD, each T²-scaled and averaged
 * over those samples, times the warm-up factor min(epoch / warmup, 1) with the epoch read under
 * `epochConvention` (default 'fractional'; mdistiller's is 'oneBased'); 0 on a batch without labels.
 */
export function dkd(options: {
  alpha?: number; beta?: number; temperature?: number; warmup?: number; epochConvention?: EpochConvention;
  name?: string; weight?: LossTerm['weight'];
} = {}): LossTerm {
  const { alpha = 1, beta = 8, temperature = 4, warmup = 0, name = 'dkd', weight } = options;
  const epochConvention = checkEpochConvention(options.epochConvention ?? 'fractional', name);
  return {
    name, weight,
    compute(ctx) {
      if (!ctx.target || ctx.teachers.length === 0) throw new TorchError(`${name}: the DKD term needs labels and a teacher`);
      const rows = labelledRows(ctx.target, ctx.student.logits, ctx.teachers[0].logits);
      if (rows === null) return ctx.student.logits.sum().mul(0);
      const [y, s, t] = rows;
      const factor = warmup > 0 ? Math.min(scheduleEpoch(ctx, epochConvention) / warmup, 1) : 1;
      return dkdLoss(s, t, y, { alpha, beta, temperature }).mul(factor);
    },
  };
}

/** [student path, teacher path] of two captured features. */
export type FeaturePair = [string, string];

function feature(outputs: ModelOutputs, path: string, who: string, term: string): Tensor {
  const f = outputs.features[path];
  if (!f) throw new TorchError(`${term}: no ${who} feature was captured at '${path}'`);
  return f;
}

/** Teacher feature maps pooled to the student's spatial size (BCHW) when they differ. */
function matchSpatial(t: Tensor, s: Tensor): Tensor {
  if (t.dim() !== 4 || (t.size(2) === s.size(2) && t.size(3) === s.size(3))) return t;
  return nn.functional.adaptiveAvgPool2d(t, [s.size(2), s.size(3)]);
}

/** How a term combines its feature pairs: 'sum' (default; TinyBERT sums its layer terms) or 'mean' (SpectralKD). */
export type PairReduction = 'sum' | 'mean';

/** A term that sums (or averages) loss(student feature, teacher feature, pair index) over [student path, teacher path] pairs. */
function pairTerm(name: string, weight: LossTerm['weight'], pairs: FeaturePair[], reduction: PairReduction,
  loss: (s: Tensor, t: Tensor, pair: number) => Tensor, modules?: Record<string, nn.Module>): LossTerm {
  if (!Array.isArray(pairs) || pairs.length === 0) throw new TorchError(`${name}: pairs must be a non-empty list of [student path, teacher path]`);
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i];
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'string') {
      throw new TorchError(`${name}: pairs[${i}] must be a [student path, teacher path] pair, got ${formatValue(p)}`);
    }
  }
  if (reduction !== 'sum' && reduction !== 'mean') throw new TorchError(`${name}: unknown reduction ${JSON.stringify(reduction)} (sum | mean)`);
  return {
    name, weight, modules,
    studentFeatures: pairs.map(([s]) => s),
    teacherFeatures: pairs.map(([, t]) => t),
    compute(ctx) {
      const total = pairs.map(([sp, tp], i) => loss(feature(ctx.student, sp, 'student', name), feature(ctx.teachers[0], tp, 'teacher', name), i))
        .reduce((a, b) => a.add(b));
      return reduction === 'mean' ? total.div(pairs.length) : total;
    },
  };
}

/**
 * Feature regression (FitNets, Romero et al. 2015): Σ over pairs (or their mean, `reduction: 'mean'`) of
 * mean((r(s) − t)²), where r is a learnable 1×1 convolution (BCHW) or linear map (last dim) from the
 * student's to the teacher's width when they differ (created at the first step, trained with the student),
 * identity otherwise.
 */
export function hidden(options: { pairs: FeaturePair[]; reduction?: PairReduction; name?: string; weight?: LossTerm['weight'] }): LossTerm {
  const { pairs, reduction = 'sum', name = 'hidden', weight } = objectArg('terms.hidden', 'options', options);
  const modules: Record<string, nn.Module> = {};
  return pairTerm(name, weight, pairs, reduction, (s, teacher, i) => {
    const t = matchSpatial(teacher, s);
    const conv = s.dim() === 4;
    const sw = s.size(conv ? 1 : -1);
    const tw = t.size(conv ? 1 : -1);
    if (sw === tw) return nn.functional.mseLoss(s, t);
    const key = `proj${i}`;
    modules[key] ??= (conv ? new nn.Conv2d(sw, tw, 1) : new nn.Linear(sw, tw)).to({ device: s.device });
    return nn.functional.mseLoss((modules[key] as nn.Module & { call(x: Tensor): Tensor }).call(s), t);
  }, modules);
}

/**
 * SpectralKD's feature alignment (spectralLoss) summed over the pairs, or averaged (`reduction: 'mean'`, the
 * official fft_loss): teacher channels pooled to the student's, BCHW maps pooled to the student's spatial
 * size, MSE of the 2-D (1-D for NLH) FFTs. The layout defaults by rank (4-D 'BCHW', 3-D 'NLH'); ViT tokens
 * take `layout: 'vit'` with `prefixTokens` and `grid`.
 */
export function spectral(options: {
  pairs: FeaturePair[]; layout?: FeatureLayout; prefixTokens?: SpectralLossOptions['prefixTokens']; grid?: SpectralLossOptions['grid'];
  reduction?: PairReduction; name?: string; weight?: LossTerm['weight'];
}): LossTerm {
  const { pairs, layout, prefixTokens, grid, reduction = 'sum', name = 'spectral', weight } = objectArg('terms.spectral', 'options', options);
  return pairTerm(name, weight, pairs, reduction, (s, t) => spectralLoss(s, matchSpatial(t, s), { layout, prefixTokens, grid }));
}

/** attentionLoss summed (or averaged) over pairs of captured attention maps [B, heads, L, L]. */
export function attention(options: {
  pairs: FeaturePair[]; mode?: AttentionLossOptions['mode']; scoreThreshold?: number; reduction?: PairReduction;
  name?: string; weight?: LossTerm['weight'];
}): LossTerm {
  const { pairs, mode = 'mse', scoreThreshold, reduction = 'sum', name = 'attention', weight } = objectArg('terms.attention', 'options', options);
  return pairTerm(name, weight, pairs, reduction, (s, t) => attentionLoss(s, t, { mode, scoreThreshold }));
}

/** A term from a function: { name, compute } with an optional weight. */
export function custom(name: string, compute: (ctx: StepContext) => Tensor, weight?: LossTerm['weight']): LossTerm {
  stringArg('terms.custom', 'name', name);
  functionArg('terms.custom', 'compute', compute);
  checkWeight('terms.custom', weight);
  return { name, compute, weight };
}

/**
 * BSS's schedule for the KD term on clean samples (Heo et al. 2019): r(e) = max(3(1 − e/E), 0) + 1, from 4
 * down to 1 over the run, at the fractional epoch; use as `kd({ weight: bssKdWeight })` together with the
 * Distiller's `bss` option. The official script's count (epochs 1..E) is
 * `epochSchedule((e, E) => bssWeights(e, E).r, { epochConvention: 'oneBased' })` (recipes.bss).
 */
export function bssKdWeight(ctx: StepContext): number {
  checkEpochs('terms.bssKdWeight', ctx);
  return bssWeights(ctx.epoch, ctx.epochs).r;
}

function checkWeight(op: string, weight: unknown, name = 'weight'): void {
  if (weight !== undefined && typeof weight !== 'number' && typeof weight !== 'function') {
    argError(op, `${name} must be a number or a function of the step context, got ${formatValue(weight)}`);
  }
}

export function termWeight(term: LossTerm, ctx: StepContext): number {
  objectArg('terms.termWeight', 'term', term);
  checkWeight('terms.termWeight', term.weight, 'term.weight');
  const w = term.weight ?? 1;
  return typeof w === 'function' ? w(ctx) : w;
}

/** Σ_k w_k · terms_k: returns { loss, ...terms } (unweighted terms) as kept tensors. */
export function combineTerms(terms: LossTerm[], ctx: StepContext): Record<string, Tensor> {
  arrayArg('terms.combineTerms', 'terms', terms);
  for (let i = 0; i < terms.length; i++) {
    const term = objectArg('terms.combineTerms', `terms[${i}]`, terms[i]);
    stringArg('terms.combineTerms', `terms[${i}].name`, term.name);
    functionArg('terms.combineTerms', `terms[${i}].compute`, term.compute);
    checkWeight('terms.combineTerms', term.weight, `terms[${i}].weight`);
  }
  objectArg('terms.combineTerms', 'ctx', ctx);
  return torch.tidy(() => {
    const out: Record<string, Tensor> = {};
    let total: Tensor | null = null;
    for (const term of terms) {
      if (term.name === 'loss' || term.name in out) throw new TorchError(`Distiller: loss term name '${term.name}' is used twice or is reserved`);
      const value = term.compute(ctx);
      out[term.name] = value;
      const weighted = value.mul(termWeight(term, ctx));
      total = total === null ? weighted : total.add(weighted);
    }
    if (total === null) throw new TorchError('Distiller: no loss terms');
    return { loss: total, ...out };
  });
}

// The layer-mapped terms for transformer students (hidden states and attention maps with a padding mask).
export { hiddenStates, attentionMaps, type HiddenStatesTermOptions, type AttentionMapsTermOptions, type StepMask } from './layerTerms';
