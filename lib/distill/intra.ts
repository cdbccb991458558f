// Xu et al. 2022, "The Importance of Being Parameters: An Intra-Distillation Method for Serious Gains".
import * as nn from '../nn';
import * as torch from '../torch';
import { argError, functionArg, kindOf, objectArg, optionsArg, TorchError } from '../torch/errors';
import { checkTensors, tensorsOf, type Tensor } from '../torch/tensor';

function mean(tensors: Tensor[]): Tensor {
  return tensors.reduce((a, b) => a.add(b)).div(tensors.length);
}

/** How the intra term is reduced over rows (samples, or tokens of [B, L, V] outputs). */
export type IntraReduction = 'mean' | 'sum';

export interface XDivergenceOptions {
  /**
   * Which rows count, shaped like the distributions without their last (class) dim ([B], or [B, L] for
   * sequences): 1 / true for a real sample or token, 0 / false for padding (the official MT code's pad mask).
   */
  mask?: Tensor;
  /** 'mean' (default): averaged over the counted rows; 'sum': summed over them (the official code's X_loss). */
  reduction?: IntraReduction;
}

/** Row weights [rows] (1 = counted) for distributions whose last dim is the class dim. */
function rowMask(like: Tensor, mask: Tensor | undefined, op: string): Tensor | null {
  if (!mask) return null;
  checkTensors(op, { mask });
  const rows = like.shape.slice(0, -1);
  if (mask.shape.length !== rows.length || mask.shape.some((d, i) => d !== rows[i])) {
    throw new TorchError(`${op}(): mask must have shape [${rows.join(', ')}] (the outputs without their last dim), got [${mask.shape.join(', ')}]`);
  }
  return mask.to(like.dtype);
}

/** Σ or mean of per-row values over the counted rows. */
function reduceRows(values: Tensor, weights: Tensor | null, reduction: IntraReduction, op: string): Tensor {
  if (reduction !== 'mean' && reduction !== 'sum') throw new TorchError(`${op}(): unknown reduction ${JSON.stringify(reduction)} (mean | sum)`);
  if (weights === null) return reduction === 'sum' ? values.sum() : values.mean();
  const total = values.mul(weights).sum();
  return reduction === 'sum' ? total : total.div(weights.sum().clamp(1));
}

/**
 * X-divergence of K distributions [..., C] (probabilities over the last dim; [B, C] or [B, L, V]):
 * (1/K) Σ_i Σ_c (p_i − p̄)(log p_i − log p̄) per row, averaged over the rows ('mean', default) or summed
 * ('sum', the official code's X_loss), padding rows excluded with `mask`. Each term equals
 * KL(p_i ‖ p̄) + KL(p̄ ‖ p_i), so this is the mean symmetric KL to the mean; 0 when all agree.
 */
export function xDivergence(distributions: Tensor[], options?: XDivergenceOptions): Tensor {
  const { mask, reduction = 'mean' } = optionsArg('xDivergence', options);
  const probs = tensorsOf('xDivergence', 'distributions', distributions);
  if (probs.length < 2) throw new TorchError('xDivergence(): needs at least two distributions');
  return torch.tidy(() => {
    const weights = rowMask(probs[0], mask, 'xDivergence');
    const avg = mean(probs);
    const logAvg = avg.clamp(1e-30).log();
    const perRow = mean(probs.map((p) => p.sub(avg).mul(p.clamp(1e-30).log().sub(logAvg)).sum(-1)));
    return reduceRows(perRow, weights, reduction, 'xDivergence');
  });
}

/**
 * For regression outputs: (1/K) Σ_i mean((o_i − ō)²) over all elements ('mean', the official code's); 'sum'
 * sums them; `mask` (shaped like the outputs without their last dim) excludes padding rows.
 */
export function intraMse(regressions: Tensor[], options?: XDivergenceOptions): Tensor {
  const { mask, reduction = 'mean' } = optionsArg('intraMse', options);
  const outputs = tensorsOf('intraMse', 'outputs', regressions);
  if (outputs.length < 2) throw new TorchError('intraMse(): needs at least two outputs');
  return torch.tidy(() => {
    const weights = rowMask(outputs[0], mask, 'intraMse');
    const avg = mean(outputs);
    const perRow = mean(outputs.map((o) => o.sub(avg).square().sum(-1)));
    const width = outputs[0].size(-1);
    const total = reduceRows(perRow, weights, reduction, 'intraMse');
    return reduction === 'mean' ? total.div(width) : total;
  });
}

/**
 * The paper's adaptive weight: α·(p·t/N)^γ for t < N/p, with γ = ln(1/α) / ln(p/q), and α afterwards;
 * it rises from 0 through 1 at t = N/q to α at t = N/p. No schedule (α itself) when α ≤ 1. t counts
 * optimizer updates from 0, as the official code's num_updates (fairseq) and completed_steps (GLUE), so the
 * first update has weight 0 there too.
 */
export function adaptiveAlpha(step: number, totalSteps: number, options: { alpha: number; p: number; q: number }): number {
  const { alpha, p, q } = objectArg('adaptiveAlpha', 'options', options);
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
  if (typeof model?.namedParameters !== 'function') argError('parameterSensitivity', `model must be an nn.Module, got ${kindOf(model)}`);
  functionArg('parameterSensitivity', 'lossFn', lossFn);
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
  if (!(sensitivities instanceof Map)) argError('sensitivityBalance', `sensitivities must be a Map of parameter name to Tensor, got ${kindOf(sensitivities)}`);
  const values = tensorsOf('sensitivityBalance', 'sensitivities', [...sensitivities.values()]);
  return torch.tidy(() => torch.cat(values.map((s) => s.flatten())).std().item());
}

export interface IntraDistillationOptions extends XDivergenceOptions {
  /** K forward passes with dropout active (default 3). */
  passes?: number;
  /** Weight of the intra-distillation term (default 1; see adaptiveAlpha for the paper's schedule). */
  alpha?: number;
  /**
   * Task loss of one pass (default: cross entropy over the rows, class dim last, averaged over the rows
   * that `mask` counts).
   */
  taskLoss?: (output: Tensor, target: Tensor) => Tensor;
  /** 'x' (default): X-divergence of the softmax outputs; 'mse': intraMse of the raw outputs (regression). */
  divergence?: 'x' | 'mse';
}

/**
 * Intra-distillation step: K passes of a model in training mode (different dropout masks), the task loss
 * averaged over passes, plus α times the disagreement between the passes (xDivergence of the softmax over
 * the last dim, or intraMse), reduced over rows as `reduction` says (the task loss is always a mean).
 * Outputs may be [B, C] or [B, L, V] with `mask` [B, L] marking the real tokens. Returns the named terms
 * { loss, task, intra } (loss = task + α · intra).
 */
export function intraDistillationLoss(model: { call(x: Tensor): Tensor }, input: Tensor, target: Tensor,
  options?: IntraDistillationOptions): { loss: Tensor; task: Tensor; intra: Tensor } {
  const op = 'intraDistillationLoss';
  if (typeof model?.call !== 'function') argError(op, `model must be an nn.Module, got ${kindOf(model)}`);
  checkTensors(op, { input, target });
  options = optionsArg(op, options);
  if (options.taskLoss !== undefined) functionArg(op, 'options.taskLoss', options.taskLoss);
  const { passes = 3, alpha = 1, divergence = 'x', mask, reduction } = options;
  if (!(passes >= 2)) throw new TorchError(`intraDistillationLoss(): needs at least 2 passes, got ${passes}`);
  if (divergence !== 'x' && divergence !== 'mse') throw new TorchError(`intraDistillationLoss(): unknown divergence ${JSON.stringify(divergence)} (x | mse)`);
  const taskLoss = options.taskLoss ?? ((o: Tensor, t: Tensor) => {
    const rows = nn.functional.crossEntropy(o.reshape([-1, o.size(-1)]), t.reshape([-1]), { reduction: 'none' });
    return reduceRows(rows, mask ? mask.reshape([-1]).to(rows.dtype) : null, 'mean', 'intraDistillationLoss');
  });
  return torch.tidy(() => {
    const outputs = Array.from({ length: passes }, () => model.call(input));
    const task = mean(outputs.map((o) => taskLoss(o, target)));
    const intra = divergence === 'x'
      ? xDivergence(outputs.map((o) => o.softmax(-1)), { mask, reduction })
      : intraMse(outputs, { mask, reduction });
    return { loss: task.add(intra.mul(alpha)), task, intra };
  });
}
