// The `torch` namespace.
import { N } from './native';
import { TorchError } from './errors';
import { keep as keepTensor, makeTidy, memory } from './memory';
import { isTensor, Tensor, wrap } from './tensor';
import { nnFunctional } from './ops.generated';

N.setErrorClass(TorchError);

export { Tensor, isTensor, TorchError, memory };
export type { TypedArray, NestedArray, ToOptions } from './tensor';
export type { DType, Device } from './dtype';
export { dtypeConstants as dtype } from './dtype';
export {
  float32, float, float64, double, float16, half, bfloat16, int8, int16, short, int32, int, int64, long,
  uint8, bool, complex64, cfloat, complex128, cdouble,
} from './dtypes';
export * from './creation';
export * from './ops.generated';
export { slice, Slice, unique, type Index, type UniqueOptions } from './indexing';
import './properties';
export { autocast, type AutocastOptions } from './amp';
export * as amp from './amp';
export * as cuda from './cuda';
export * as autograd from './autograd';
export * as distributed from './distributed';
export { __version__ } from './version';
export { noGrad, enableGrad, inferenceMode, isGradEnabled, setGradEnabled } from './autograd';

/**
 * Runs fn and frees every tensor it created except the ones it returns (and those passed to keep).
 * fn must be synchronous. Scopes nest.
 */
export const tidy = makeTidy(isTensor);

/** Exempts t from every enclosing tidy scope. */
export function keep(t: Tensor): Tensor {
  if (!(t instanceof Tensor)) throw new TorchError('keep(t): t must be a Tensor');
  return keepTensor(t);
}

/** Disposes every tensor found in a value (a tensor, or arrays / plain objects of them). */
export function dispose(value: unknown): void {
  if (value instanceof Tensor) value.dispose();
  else if (Array.isArray(value)) value.forEach(dispose);
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    Object.values(value).forEach(dispose);
  }
}

/** Seeds every generator; on CPU the numbers equal PyTorch's after torch.manual_seed(seed). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new TorchError(`manualSeed(): seed must be an integer, got ${seed}`);
  N.manualSeed(seed);
}

/** The CPU generator's state as a uint8 tensor (torch.get_rng_state); setRngState restores it. */
export function getRngState(): Tensor {
  return wrap(N.getRngState(null));
}

/** Restores a state from getRngState(): the draws that follow repeat those that followed it. */
export function setRngState(newState: Tensor): void {
  if (!isTensor(newState)) throw new TorchError('setRngState(): newState must be a Tensor from getRngState()');
  N.setRngState(newState.id, null);
}

/** torch.nn.functional (also exported as nn.functional). */
export const nn = { functional: nnFunctional };
