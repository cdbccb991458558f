// torch.nn.utils' gradient and parameter helpers (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
// vector_to_parameters), with PyTorch 1.13's arithmetic.
import { cat, Tensor, TorchError } from '../torch';
import { tensorsOf, wrap } from '../torch/tensor';
import { ON } from './native';

function tensors(parameters: Tensor | Iterable<Tensor>, op: string): Tensor[] {
  return tensorsOf(op, 'parameters', parameters);
}

export interface ClipGradNormOptions {
  /** Throw when the total norm is nan or ±inf (default false). */
  errorIfNonfinite?: boolean;
}

/**
 * Scales the grads of `parameters` in place so that their total norm is at most maxNorm:
 * total = ‖(‖g₁‖ₚ, …, ‖gₙ‖ₚ)‖ₚ (max |g| for p = Infinity), g = g · min(1, maxNorm / (total + 1e-6)).
 * Returns the total norm (before clipping) as a 0-d tensor. normType default 2.
 */
export function clipGradNorm_(parameters: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2,
  options: ClipGradNormOptions = {}): Tensor {
  const ps = tensors(parameters, 'clipGradNorm_');
  return wrap(ON.clipGradNorm_(ps.map((p) => p.id), maxNorm, normType, options.errorIfNonfinite ?? false));
}

/** Clamps every grad of `parameters` in place to [−clipValue, clipValue]. */
export function clipGradValue_(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  const ps = tensors(parameters, 'clipGradValue_');
  ON.clipGradValue_(ps.map((p) => p.id), clipValue);
}

/** The parameters flattened and concatenated into one vector (torch.nn.utils.parameters_to_vector). */
export function parametersToVector(parameters: Iterable<Tensor>): Tensor {
  const ps = tensors(parameters, 'parametersToVector');
  if (ps.length === 0) throw new TorchError('parametersToVector(): no parameters');
  const device = ps[0].device;
  for (const p of ps) {
    if (p.device !== device) throw new TorchError('parametersToVector(): Found two parameters on different devices, this is currently not supported.');
  }
  const flat = ps.map((p) => p.reshape([-1]));
  const out = cat(flat);
  flat.forEach((f) => f.dispose());
  return out;
}

/** Copies consecutive slices of the 1-d vec into the parameters, without recording autograd history. */
export function vectorToParameters(vec: Tensor, parameters: Iterable<Tensor>): void {
  if (!(vec instanceof Tensor)) throw new TorchError('vectorToParameters(): expected vec to be a Tensor');
  const ps = tensors(parameters, 'vectorToParameters');
  ON.vectorToParameters(vec.id, ps.map((p) => p.id));
}
