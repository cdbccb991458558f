// Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network".
import * as nn from '../nn';
import * as torch from '../torch';
import { checkTensors, type Tensor } from '../torch/tensor';
import { optionsArg, TorchError } from '../torch/errors';

export type KdReduction = 'batchmean' | 'sum' | 'none' | 'mean';

/** What a distillation loss reports: KL(p ‖ q), or the soft cross entropy −Σ p log q = KL(p ‖ q) + H(p). */
export type KdDivergence = 'kl' | 'crossEntropy';

export interface KdOptions {
  /** Softmax temperature T (default 4). */
  temperature?: number;
  /**
   * 'batchmean' (default): the sum over classes and samples divided by the batch size, the paper's
   * per-example KL; 'sum'; 'none': one value per sample, [B]; 'mean': divided by B·C (TAKD's
   * `nn.KLDivLoss()`, TinyBERT's soft cross entropy).
   */
  reduction?: KdReduction;
  /**
   * Multiply by T² (default true, Hinton's correction that keeps the gradient's scale independent of T;
   * mdistiller, torchdistill with a CE term, TAKD, SpectralKD). false: TextBrewer, TinyBERT, BSS's code and
   * torchdistill's soft-only path, whose gradient is T² times smaller.
   */
  squareTemperature?: boolean;
  /**
   * 'kl' (default): Σ p (log p − log q); 'crossEntropy': −Σ p log q (TextBrewer's kd_ce_loss, TinyBERT's
   * soft_cross_entropy, BSS). Same gradient; the value is larger by the teacher's entropy H(p).
   */
  divergence?: KdDivergence;
}

/** The pointwise terms [B, C, ...] of the chosen divergence between log-probabilities logP (teacher) and logQ. */
export function pointwiseDivergence(logP: Tensor, logQ: Tensor, divergence: KdDivergence, op: string): Tensor {
  if (divergence === 'kl') return logP.exp().mul(logP.sub(logQ));
  if (divergence === 'crossEntropy') return logP.exp().mul(logQ).neg();
  throw new TorchError(`${op}(): unknown divergence ${JSON.stringify(divergence)} (kl | crossEntropy)`);
}

/**
 * kdLoss = T² · KL(softmax(t/T) ‖ softmax(s/T)) over the class dim (1) of [B, C, ...] logits, reduced as
 * `reduction` says ('batchmean': sum / B). T² keeps the gradient's scale independent of T:
 * ∂/∂s = T·(softmax(s/T) − softmax(t/T)) / B (batchmean), which for large T and zero-mean logits tends to
 * logit matching, (s − t) / (C·B). `squareTemperature: false` drops the T², `divergence: 'crossEntropy'`
 * reports −Σ p log q instead of the KL.
 */
export function kdLoss(studentLogits: Tensor, teacherLogits: Tensor, options?: KdOptions): Tensor {
  checkTensors('kdLoss', { studentLogits, teacherLogits });
  const { temperature = 4, reduction = 'batchmean', squareTemperature = true, divergence = 'kl' } = optionsArg('kdLoss', options);
  if (!(temperature > 0)) throw new TorchError(`kdLoss(): temperature must be positive, got ${temperature}`);
  return torch.tidy(() => {
    const logQ = studentLogits.div(temperature).logSoftmax(1);
    const logP = teacherLogits.div(temperature).logSoftmax(1);
    const scale = squareTemperature ? temperature * temperature : 1;
    return reduceKl(pointwiseDivergence(logP, logQ, divergence, 'kdLoss'), reduction, scale, 'kdLoss');
  });
}

/** Reduces pointwise KL terms [B, C, ...] as a KdReduction, times scale (T²). */
export function reduceKl(pointwise: Tensor, reduction: KdReduction, scale: number, op: string): Tensor {
  switch (reduction) {
    case 'batchmean': return pointwise.sum().mul(scale / pointwise.size(0));
    case 'sum': return pointwise.sum().mul(scale);
    case 'mean': return pointwise.mean().mul(scale);
    case 'none': return pointwise.sum(1).mul(scale);
    default: throw new TorchError(`${op}(): unknown reduction ${JSON.stringify(reduction)} (batchmean | sum | none | mean)`);
  }
}

export interface HintonOptions extends KdOptions {
  /** Weight of the distillation term (default 0.9): λ of TAKD, 1 − α of torchdistill's KDLoss. */
  alpha?: number;
  /** Weight of the cross entropy (default 1 − alpha; torchdistill's α, mdistiller's CE_WEIGHT). */
  ceWeight?: number;
  /** Weight of the distillation term (default alpha; torchdistill's β, mdistiller's KD_WEIGHT). */
  kdWeight?: number;
}

/**
 * hintonLoss = ceWeight · CE(s, target) + kdWeight · kdLoss(s, t), with ceWeight = 1 − α and kdWeight = α
 * by default. `reduction` is kdLoss's; the cross entropy is averaged over the batch for 'batchmean' and
 * 'mean', summed for 'sum', per sample for 'none' (torchdistill's KDLoss rule).
 */
export function hintonLoss(studentLogits: Tensor, teacherLogits: Tensor, target: Tensor, options?: HintonOptions): Tensor {
  checkTensors('hintonLoss', { studentLogits, teacherLogits, target });
  options = optionsArg('hintonLoss', options);
  const { alpha = 0.9, reduction = 'batchmean' } = options;
  const { ceWeight = 1 - alpha, kdWeight = alpha } = options;
  const ceReduction = reduction === 'batchmean' ? 'mean' : reduction;
  return torch.tidy(() => {
    const kd = kdLoss(studentLogits, teacherLogits, options);
    return nn.functional.crossEntropy(studentLogits, target, { reduction: ceReduction }).mul(ceWeight).add(kd.mul(kdWeight));
  });
}
