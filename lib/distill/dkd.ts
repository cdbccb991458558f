// Zhao et al. 2022, "Decoupled Knowledge Distillation" (CVPR).
import * as torch from '../torch';
import { optionsArg } from '../torch/errors';
import { checkTensors, type Tensor } from '../torch/tensor';

export interface DkdOptions {
  /** Weight of TCKD (default 1). */
  alpha?: number;
  /** Weight of NCKD (default 8). */
  beta?: number;
  /** Softmax temperature T (default 4). */
  temperature?: number;
}

/**
 * The two parts of KD, each scaled by T² and averaged over the batch:
 *   TCKD = KL(b_t ‖ b_s), b = [p_target, 1 − p_target] (target vs all other classes);
 *   NCKD = KL(p̂_t ‖ p̂_s), p̂ = softmax over the non-target classes only (renormalised).
 * Per sample they recombine as KD = TCKD + (1 − p_target^teacher) · NCKD.
 */
export function dkdParts(studentLogits: Tensor, teacherLogits: Tensor, target: Tensor,
  options?: { temperature?: number }): { tckd: Tensor; nckd: Tensor } {
  checkTensors('dkdParts', { studentLogits, teacherLogits, target });
  const T = optionsArg('dkdParts', options).temperature ?? 4;
  return torch.tidy(() => {
    const batch = studentLogits.size(0);
    const isTarget = torch.nn.functional.oneHot(target, studentLogits.size(1)).bool();
    const binary = (logits: Tensor) => {
      const p = logits.div(T).softmax(1);
      const pt = p.mul(isTarget).sum(1, { keepdim: true });
      return torch.cat([pt, pt.neg().add(1)], 1).clamp(1e-12);
    };
    const bs = binary(studentLogits);
    const bt = binary(teacherLogits);
    const tckd = bt.mul(bt.log().sub(bs.log())).sum().mul((T * T) / batch);
    // Non-target distributions: the target logit pushed to −∞ before the softmax.
    const masked = (logits: Tensor) => logits.div(T).maskedFill(isTarget, -Infinity).logSoftmax(1);
    const logQ = masked(studentLogits);
    const logP = masked(teacherLogits);
    const nonTarget = isTarget.logicalNot();
    const nckd = logP.exp().mul(logP.sub(logQ).maskedFill(isTarget, 0)).mul(nonTarget).sum().mul((T * T) / batch);
    return { tckd, nckd };
  });
}

/** dkdLoss = α · TCKD + β · NCKD (both T²-scaled, batch mean); defaults α = 1, β = 8, T = 4 (the paper's). */
export function dkdLoss(studentLogits: Tensor, teacherLogits: Tensor, target: Tensor, options?: DkdOptions): Tensor {
  checkTensors('dkdLoss', { studentLogits, teacherLogits, target });
  const { alpha = 1, beta = 8, temperature = 4 } = optionsArg('dkdLoss', options);
  return torch.tidy(() => {
    const { tckd, nckd } = dkdParts(studentLogits, teacherLogits, target, { temperature });
    return tckd.mul(alpha).add(nckd.mul(beta));
  });
}

/**
 * The paper's warm-up factor for the DKD loss: min(epoch / warmup, 1). mdistiller evaluates it at the integer
 * epoch counted from 1 (1 during the whole first epoch), so with warmup 1 (its ImageNet configs) the loss is
 * at full weight from the first step; terms.dkd's `epochConvention` chooses the count.
 */
export function dkdWarmup(epoch: number, warmup: number): number {
  return Math.min(epoch / warmup, 1);
}
