// Xu et al. 2022, "The Importance of Being Parameters: An Intra-Distillation Method for Serious Gains".
import * as nn from '../nn';
import * as torch from '../torch';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';

function mean(tensors: Tensor[]): Tensor {
  return tensors.reduce((a, b) => a.add(b)).div(tensors.length);
}

/**
 * X-divergence of K distributions [B, C] (probabilities over dim 1):
 * (1/K) Σ_i Σ_c (p_i − p̄)(log p_i − log p̄), averaged over the batch. Each term equals
 * KL(p_i ‖ p̄) + KL(p̄ ‖ p_i), so this is the mean symmetric KL to the mean; 0 when all agree.
 */
export function xDivergence(probs: Tensor[]): Tensor {
  if (probs.length < 2) throw new TorchError('xDivergence(): needs at least two distributions');
  return torch.tidy(() => {
    const avg = mean(probs);
    const logAvg = avg.clamp(1e-30).log();
    const terms = probs.map((p) => p.sub(avg).mul(p.clamp(1e-30).log().sub(logAvg)).sum(1).mean());
    return mean(terms);
  });
}

/** For regression outputs: (1/K) Σ_i mean((o_i − ō)²). */
export function intraMse(outputs: Tensor[]): Tensor {
  if (outputs.length < 2) throw new TorchError('intraMse(): needs at least two outputs');
  return torch.tidy(() => {
    const avg = mean(outputs);
    return mean(outputs.map((o) => o.sub(avg).square().mean()));
  });
}

/**
 * The paper's adaptive weight: α·(p·t/N)^γ for t < N/p, with γ = ln(1/α) / ln(p/q), and α afterwards;
 * it rises from 0 through 1 at t = N/q to α at t = N/p. No schedule (α itself) when α ≤ 1.
 */
export function adaptiveAlpha(step: number, totalSteps: number, options: { alpha: number; p: number; q: number }): number {
  const { alpha, p, q } = options;
  if (alpha <= 1) return alpha;
  if (!(p > 0 && q > p)) throw new TorchError(`adaptiveAlpha(): expects 0 < p < q, got p = ${p}, q = ${q}`);
  if (step >= totalSteps / p) return alpha;
  const gamma = Math.log(1 / alpha) / Math.log(p / q);
  return alpha * ((p * step) / totalSteps) ** gamma;
}

/** |θ ⊙ ∂L/∂θ| for each named parameter: the first-order change of L when θ is zeroed. */
export function parameterSensitivity(
  model: { namedParameters(): [string, Tensor][] },
  lossFn: () => Tensor,
): Map<string, Tensor> {
  const named = model.namedParameters().filter(([, p]) => p.requiresGrad);
  // The loss and its intermediates are freed; only the gradients leave the scope.
  const grads = torch.tidy(() => torch.autograd.grad([lossFn()], named.map(([, p]) => p), { allowUnused: true }));
  const out = new Map<string, Tensor>();
  named.forEach(([name, p], k) => {
    const g = grads[k];
    out.set(name, torch.keep(torch.tidy(() => (g ? p.detach().mul(g).abs() : torch.zerosLike(p)))));
    g?.dispose();
  });
  return out;
}

/** The spread of the sensitivities (their standard deviation over all parameters, with correction 1). */
export function sensitivityBalance(sensitivities: Map<string, Tensor>): number {
  return torch.tidy(() => torch.cat([...sensitivities.values()].map((s) => s.flatten())).std().item());
}

export interface IntraDistillationOptions {
  /** K forward passes with dropout active (default 3). */
  passes?: number;
  /** Weight of the intra-distillation term (default 1; see adaptiveAlpha for the paper's schedule). */
  alpha?: number;
  /** Task loss of one pass (default cross entropy). */
  taskLoss?: (output: Tensor, target: Tensor) => Tensor;
  /** 'x' (default): X-divergence of the softmax outputs; 'mse': intraMse of the raw outputs (regression). */
  divergence?: 'x' | 'mse';
}

/**
 * Intra-distillation step: K passes of a model in training mode (different dropout masks), the task loss
 * averaged over passes, plus α times the disagreement between the passes. Returns the named terms
 * { loss, task, intra } (loss = task + α · intra).
 */
export function intraDistillationLoss(model: { call(x: Tensor): Tensor }, input: Tensor, target: Tensor,
  options: IntraDistillationOptions = {}): { loss: Tensor; task: Tensor; intra: Tensor } {
  const { passes = 3, alpha = 1, divergence = 'x' } = options;
  const taskLoss = options.taskLoss ?? ((o: Tensor, t: Tensor) => nn.functional.crossEntropy(o, t));
  if (!(passes >= 2)) throw new TorchError(`intraDistillationLoss(): needs at least 2 passes, got ${passes}`);
  return torch.tidy(() => {
    const outputs = Array.from({ length: passes }, () => model.call(input));
    const task = mean(outputs.map((o) => taskLoss(o, target)));
    const intra = divergence === 'x' ? xDivergence(outputs.map((o) => o.softmax(1))) : intraMse(outputs);
    return { loss: task.add(intra.mul(alpha)), task, intra };
  });
}
