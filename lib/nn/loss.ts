// Loss modules (torch.nn.modules.loss): each holds PyTorch's options and calls its nn.functional form.
// Reductions are PyTorch's: 'mean' (default) averages over every element (CrossEntropy/NLL: over the
// non-ignored targets, weighted), 'sum' adds, 'none' keeps the per-element loss. The legacy sizeAverage /
// reduce arguments map to a reduction as in PyTorch (with its deprecation warning).
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { warnOnce } from '../torch/warnings';
import * as torch from '../torch';
import { Module } from './module';
import { layerOptions, numberOption } from './options';

const F = torch.nn.functional;

export type Reduction = 'none' | 'mean' | 'sum';

/** The legacy arguments every PyTorch loss still takes (deprecated; reduction wins when they are absent). */
export interface LegacyReduction {
  sizeAverage?: boolean | null;
  reduce?: boolean | null;
}

/** PyTorch's _Reduction.legacy_get_string: sizeAverage and reduce (default true) → 'mean' / 'sum' / 'none'. */
function reductionOf(cls: string, o: LegacyReduction & { reduction?: string }, allowed: readonly string[] = ['none', 'mean', 'sum']): string {
  if (o.sizeAverage != null || o.reduce != null) {
    const sizeAverage = o.sizeAverage ?? true;
    const reduce = o.reduce ?? true;
    const r = sizeAverage && reduce ? 'mean' : reduce ? 'sum' : 'none';
    warnOnce(`size_average and reduce args will be deprecated, please use reduction='${r}' instead.`);
    return r;
  }
  const r = o.reduction ?? 'mean';
  if (!allowed.includes(r)) throw new TorchError(`nn.${cls}(): ${r} is not a valid value for reduction (expected ${allowed.map((a) => `'${a}'`).join(', ')})`);
  return r;
}

/** Base of the losses: the reduction ('mean' by default). */
class Loss extends Module {
  readonly reduction: string;
  constructor(cls: string, o: LegacyReduction & { reduction?: string }, allowed?: readonly string[]) {
    super();
    this.reduction = reductionOf(cls, o, allowed);
  }
  override extraRepr(): string {
    return this.reduction === 'mean' ? '' : `reduction=${this.reduction}`;
  }
}

/** A loss with an optional per-class weight, registered as the buffer 'weight' (as PyTorch does). */
class WeightedLoss extends Loss {
  readonly weight: Tensor | null;
  constructor(cls: string, o: LegacyReduction & { reduction?: string; weight?: Tensor | null }) {
    super(cls, o);
    this.weight = this.registerBuffer('weight', o.weight ?? null);
  }
}

// ------------------------------------------------------------------------------------ classification

export interface CrossEntropyLossOptions extends LegacyReduction {
  /** Per-class weights [C]. */
  weight?: Tensor | null;
  /** Targets with this class index are skipped (default −100). */
  ignoreIndex?: number;
  reduction?: Reduction;
  /** Mixes the target with the uniform distribution: (1 − ε)·target + ε/C (default 0). */
  labelSmoothing?: number;
}

/**
 * −Σ_c target_c · log softmax(input)_c per sample, for class indices (int64 [N]) or class probabilities
 * ([N, C]); 'mean' over non-ignored samples weighted by weight[target]. F.crossEntropy.
 */
export class CrossEntropyLoss extends WeightedLoss {
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  constructor(weight?: Tensor | null | CrossEntropyLossOptions, options?: CrossEntropyLossOptions) {
    const o = layerOptions<CrossEntropyLossOptions>('CrossEntropyLoss', [weight, options],
      ['weight', 'sizeAverage', 'ignoreIndex', 'reduce', 'reduction', 'labelSmoothing']);
    super('CrossEntropyLoss', o);
    this.ignoreIndex = numberOption('CrossEntropyLoss', 'ignoreIndex', o.ignoreIndex, -100);
    this.labelSmoothing = numberOption('CrossEntropyLoss', 'labelSmoothing', o.labelSmoothing, 0);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, this.weight, { ignoreIndex: this.ignoreIndex, reduction: this.reduction as Reduction, labelSmoothing: this.labelSmoothing });
  }
}

export interface NLLLossOptions extends LegacyReduction {
  weight?: Tensor | null;
  ignoreIndex?: number;
  reduction?: Reduction;
}

/** −weight[target]·input[target], input holding log-probabilities; 'mean' is weighted by weight[target]. F.nllLoss. */
export class NLLLoss extends WeightedLoss {
  readonly ignoreIndex: number;
  constructor(weight?: Tensor | null | NLLLossOptions, options?: NLLLossOptions) {
    const o = layerOptions<NLLLossOptions>('NLLLoss', [weight, options], ['weight', 'sizeAverage', 'ignoreIndex', 'reduce', 'reduction']);
    super('NLLLoss', o);
    this.ignoreIndex = numberOption('NLLLoss', 'ignoreIndex', o.ignoreIndex, -100);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, this.weight, { ignoreIndex: this.ignoreIndex, reduction: this.reduction as Reduction });
  }
}

export interface BCELossOptions extends LegacyReduction {
  weight?: Tensor | null;
  reduction?: Reduction;
}

/** −w·(y·log x + (1 − y)·log(1 − x)), x holding probabilities (log clamped at −100 as in PyTorch). F.binaryCrossEntropy. */
export class BCELoss extends WeightedLoss {
  constructor(weight?: Tensor | null | BCELossOptions, options?: BCELossOptions) {
    super('BCELoss', layerOptions<BCELossOptions>('BCELoss', [weight, options], ['weight', 'sizeAverage', 'reduce', 'reduction']));
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropy(input, target, this.weight, { reduction: this.reduction as Reduction });
  }
}

export interface BCEWithLogitsLossOptions extends BCELossOptions {
  /** Weight of the positive class per class [C] (a buffer 'pos_weight'). */
  posWeight?: Tensor | null;
}

/** −w·(p·y·log σ(x) + (1 − y)·log(1 − σ(x))), computed stably from logits, p = posWeight. F.binaryCrossEntropyWithLogits. */
export class BCEWithLogitsLoss extends WeightedLoss {
  readonly posWeight: Tensor | null;
  constructor(weight?: Tensor | null | BCEWithLogitsLossOptions, options?: BCEWithLogitsLossOptions) {
    const o = layerOptions<BCEWithLogitsLossOptions>('BCEWithLogitsLoss', [weight, options], ['weight', 'sizeAverage', 'reduce', 'reduction', 'posWeight']);
    super('BCEWithLogitsLoss', o);
    this.posWeight = this.registerBuffer('pos_weight', o.posWeight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(input, target, this.weight, { reduction: this.reduction as Reduction, posWeight: this.posWeight });
  }
}

// ---------------------------------------------------------------------------------------- regression

export interface ReductionOptions extends LegacyReduction {
  reduction?: Reduction;
}

type ReductionArgs = [sizeAverage?: boolean | null | ReductionOptions, reduce?: boolean | null | ReductionOptions,
  reduction?: Reduction | ReductionOptions];

/** (input − target)², reduced. F.mseLoss. */
export class MSELoss extends Loss {
  constructor(...args: ReductionArgs) {
    super('MSELoss', layerOptions<ReductionOptions>('MSELoss', args, ['sizeAverage', 'reduce', 'reduction']));
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.mseLoss(input, target, { reduction: this.reduction as Reduction });
  }
}

/** |input − target|, reduced. F.l1Loss. */
export class L1Loss extends Loss {
  constructor(...args: ReductionArgs) {
    super('L1Loss', layerOptions<ReductionOptions>('L1Loss', args, ['sizeAverage', 'reduce', 'reduction']));
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.l1Loss(input, target, { reduction: this.reduction as Reduction });
  }
}

export interface SmoothL1LossOptions extends ReductionOptions {
  /** Where the loss turns from quadratic to linear (default 1). */
  beta?: number;
}

/** 0.5·d²/beta for |d| < beta, |d| − 0.5·beta otherwise (d = input − target), reduced. F.smoothL1Loss. */
export class SmoothL1Loss extends Loss {
  readonly beta: number;
  constructor(sizeAverage?: boolean | null | SmoothL1LossOptions, reduce?: boolean | null | SmoothL1LossOptions,
    reduction?: Reduction | SmoothL1LossOptions, beta?: number | SmoothL1LossOptions) {
    const o = layerOptions<SmoothL1LossOptions>('SmoothL1Loss', [sizeAverage, reduce, reduction, beta], ['sizeAverage', 'reduce', 'reduction', 'beta']);
    super('SmoothL1Loss', o);
    this.beta = numberOption('SmoothL1Loss', 'beta', o.beta, 1);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.smoothL1Loss(input, target, { reduction: this.reduction as Reduction, beta: this.beta });
  }
}

export interface HuberLossOptions {
  reduction?: Reduction;
  /** Where the loss turns from quadratic to linear (default 1). */
  delta?: number;
}

/** 0.5·d² for |d| < delta, delta·(|d| − 0.5·delta) otherwise, reduced. F.huberLoss. */
export class HuberLoss extends Loss {
  readonly delta: number;
  constructor(reduction?: Reduction | HuberLossOptions, delta?: number | HuberLossOptions) {
    const o = layerOptions<HuberLossOptions>('HuberLoss', [reduction, delta], ['reduction', 'delta']);
    super('HuberLoss', o);
    this.delta = numberOption('HuberLoss', 'delta', o.delta, 1);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.huberLoss(input, target, { reduction: this.reduction as Reduction, delta: this.delta });
  }
}

// ------------------------------------------------------------------------------------- distributions

export interface KLDivLossOptions extends LegacyReduction {
  /** 'batchmean' is the KL divergence per sample; 'mean' (the default) also divides by the classes, with PyTorch's warning. */
  reduction?: Reduction | 'batchmean';
  /** The target holds log-probabilities (default false). */
  logTarget?: boolean;
}

/**
 * Σ target·(log target − input), input holding log-probabilities (KL(target ‖ exp(input))), reduced:
 * 'batchmean' divides the sum by the batch size. F.klDiv (which warns on 'mean', as PyTorch).
 */
export class KLDivLoss extends Loss {
  readonly logTarget: boolean;
  constructor(sizeAverage?: boolean | null | KLDivLossOptions, reduce?: boolean | null | KLDivLossOptions,
    reduction?: Reduction | 'batchmean' | KLDivLossOptions, logTarget?: boolean | KLDivLossOptions) {
    const o = layerOptions<KLDivLossOptions>('KLDivLoss', [sizeAverage, reduce, reduction, logTarget], ['sizeAverage', 'reduce', 'reduction', 'logTarget']);
    super('KLDivLoss', o, ['none', 'mean', 'sum', 'batchmean']);
    this.logTarget = o.logTarget ?? false;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.klDiv(input, target, { reduction: this.reduction as Reduction | 'batchmean', logTarget: this.logTarget });
  }
}

// ---------------------------------------------------------------------------------------- embeddings

export interface MarginLossOptions extends LegacyReduction {
  margin?: number;
  reduction?: Reduction;
}

type MarginArgs = [margin?: number | MarginLossOptions, sizeAverage?: boolean | null | MarginLossOptions,
  reduce?: boolean | null | MarginLossOptions, reduction?: Reduction | MarginLossOptions];

/**
 * 1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1 (margin default 0), reduced.
 * F.cosineEmbeddingLoss.
 */
export class CosineEmbeddingLoss extends Loss {
  readonly margin: number;
  constructor(...args: MarginArgs) {
    const o = layerOptions<MarginLossOptions>('CosineEmbeddingLoss', args, ['margin', 'sizeAverage', 'reduce', 'reduction']);
    super('CosineEmbeddingLoss', o);
    this.margin = numberOption('CosineEmbeddingLoss', 'margin', o.margin, 0);
  }
  forward(input1: Tensor, input2: Tensor, target: Tensor): Tensor {
    return F.cosineEmbeddingLoss(input1, input2, target, this.margin, { reduction: this.reduction as Reduction });
  }
}

/** max(0, −y·(x1 − x2) + margin) (margin default 0), reduced. F.marginRankingLoss. */
export class MarginRankingLoss extends Loss {
  readonly margin: number;
  constructor(...args: MarginArgs) {
    const o = layerOptions<MarginLossOptions>('MarginRankingLoss', args, ['margin', 'sizeAverage', 'reduce', 'reduction']);
    super('MarginRankingLoss', o);
    this.margin = numberOption('MarginRankingLoss', 'margin', o.margin, 0);
  }
  forward(input1: Tensor, input2: Tensor, target: Tensor): Tensor {
    return F.marginRankingLoss(input1, input2, target, this.margin, { reduction: this.reduction as Reduction });
  }
}

/** x1·x2 / max(‖x1‖·‖x2‖, eps) along dim (default 1, eps 1e-8). F.cosineSimilarity. */
export class CosineSimilarity extends Module {
  readonly dim: number;
  readonly eps: number;
  constructor(dim?: number | { dim?: number; eps?: number }, eps?: number | { eps?: number }) {
    super();
    const o = layerOptions<{ dim: number; eps: number }>('CosineSimilarity', [dim, eps], ['dim', 'eps']);
    this.dim = numberOption('CosineSimilarity', 'dim', o.dim, 1);
    this.eps = numberOption('CosineSimilarity', 'eps', o.eps, 1e-8);
  }
  forward(x1: Tensor, x2: Tensor): Tensor {
    return F.cosineSimilarity(x1, x2, this.dim, this.eps);
  }
}
