// Sau & Balasubramanian 2016, "Deep Model Compression: Distilling Knowledge from Noisy Teachers".
import * as torch from '../torch';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';

export interface PerturbOptions {
  /** Noise scale σ (default 0.1). */
  sigma?: number;
  /** Probability that a sample (or, with perSample false, the whole batch) is perturbed (default 0.5). */
  prob?: number;
  /** Decide per sample (default) or once for the batch. */
  perSample?: boolean;
}

/**
 * Noisy teacher logits: z · (1 + σ·ξ) with ξ ~ N(0, 1) per element, applied to each sample with
 * probability prob. Draws from the global generator (torch.manualSeed makes it reproducible).
 */
export function perturbLogits(logits: Tensor, options: PerturbOptions = {}): Tensor {
  const { sigma = 0.1, prob = 0.5, perSample = true } = options;
  if (!(sigma >= 0)) throw new TorchError(`perturbLogits(): sigma must be non-negative, got ${sigma}`);
  if (!(prob >= 0 && prob <= 1)) throw new TorchError(`perturbLogits(): prob must be in [0, 1], got ${prob}`);
  return torch.tidy(() => {
    const xi = torch.randnLike(logits);
    const rows = perSample ? logits.size(0) : 1;
    const applied = torch.rand([rows], { device: logits.device }).lt(prob).to(logits.dtype);
    const mask = applied.reshape([rows, ...Array(logits.dim() - 1).fill(1)]);
    return logits.mul(xi.mul(mask).mul(sigma).add(1));
  });
}
