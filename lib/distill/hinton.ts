// Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network".
import * as nn from '../nn';
import * as torch from '../torch';
import type { Tensor } from '../torch/tensor';
import { TorchError } from '../torch/errors';

export type KdReduction = 'batchmean' | 'sum' | 'none' | 'mean';

export interface KdOptions {
  /** Softmax temperature T (default 4). */
  temperature?: number;
  /**
   * 'batchmean' (default): the sum over classes and samples divided by the batch size, the paper's
   * per-example KL; 'sum'; 'none': one value per sample, [B]; 'mean': divided by B·C, as some codebases do.
   */
  reduction?: KdReduction;
}

/**
 * kdLoss = T² · KL(softmax(t/T) ‖ softmax(s/T)) over the class dim (1) of [B, C, ...] logits.
 * T² keeps the gradient's scale independent of T: ∂/∂s = T·(softmax(s/T) − softmax(t/T)) / B (batchmean),
 * which for large T and zero-mean logits tends to logit matching, (s − t) / (C·B).
 */
export function kdLoss(studentLogits: Tensor, teacherLogits: Tensor, options: KdOptions = {}): Tensor {
  const { temperature = 4, reduction = 'batchmean' } = options;
  if (!(temperature > 0)) throw new TorchError(`kdLoss(): temperature must be positive, got ${temperature}`);
  return torch.tidy(() => {
    const logQ = studentLogits.div(temperature).logSoftmax(1);
    const logP = teacherLogits.div(temperature).logSoftmax(1);
    return reduceKl(logP.exp().mul(logP.sub(logQ)), reduction, temperature * temperature, 'kdLoss');
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

export interface HintonOptions {
  /** Softmax temperature T (default 4). */
  temperature?: number;
  /** Weight of the distillation term (default 0.9). */
  alpha?: number;
}

/**
 * hintonLoss = (1 − α) · CE(s, target) + α · kdLoss(s, t) with kdLoss's 'batchmean' reduction and the
 * cross entropy averaged over the batch.
 */
export function hintonLoss(studentLogits: Tensor, teacherLogits: Tensor, target: Tensor, options: HintonOptions = {}): Tensor {
  const { temperature = 4, alpha = 0.9 } = options;
  return torch.tidy(() => nn.functional.crossEntropy(studentLogits, target).mul(1 - alpha)
    .add(kdLoss(studentLogits, teacherLogits, { temperature }).mul(alpha)));
}
