// The `torch` namespace.
import { N } from './native';
import { formatValue, TorchError } from './errors';
import { keep as keepTensor, memory, ownedIn, tidy } from './memory';
import { isOptions as isOptionsObject, isTensor, Tensor, wrap } from './tensor';
import { warnOnce } from './warnings';
import { nnFunctional } from './ops.generated';

N.setErrorClass(TorchError);

export { Tensor, isTensor, TorchError, memory, tidy };
export type { TypedArray, NestedArray, ToOptions } from './tensor';
export type { DType, Device } from './dtype';
export { dtypeConstants as dtype } from './dtype';
export {
  float32, float, float64, double, float16, half, bfloat16, int8, int16, short, int32, int, int64, long,
  uint8, bool, complex64, cfloat, complex128, cdouble,
} from './dtypes';
export * from './creation';
export { Generator, defaultGenerator, type Seed } from './random';
import { defaultGenerator } from './random';
export * from './ops.generated';
export { slice, Slice, unique, type Index, type UniqueOptions } from './indexing';
import './properties';
export { autocast, type AutocastOptions } from './amp';
export * as amp from './amp';
export * as cuda from './cuda';
export * as autograd from './autograd';
export * as distributed from './distributed';
export { __version__ } from './version';
export { noGrad, enableGrad, inferenceMode, isGradEnabled, setGradEnabled, type GradModeScope } from './autograd';
/** torch.save(obj, path) and torch.load(path): io.save / io.load (torch.save's zip format, restricted unpickler). */
export { save, load } from '../io';

/** Exempts t from every enclosing tidy scope. */
export function keep(t: Tensor): Tensor {
  if (!(t instanceof Tensor)) throw new TorchError('keep(t): t must be a Tensor');
  return keepTensor(t);
}

/** Disposes every tensor found in a value (a tensor, or arrays, plain objects, Maps and Sets of them). */
export function dispose(value: unknown): void {
  for (const t of ownedIn(value)) (t as Tensor).dispose();
}

/**
 * Seeds every default generator; on CPU the numbers equal PyTorch's after torch.manual_seed(seed). seed: an
 * integer in [−2^63, 2^64), a number or a BigInt.
 */
export function manualSeed(seed: number | bigint): void {
  if (typeof seed !== 'bigint' && !Number.isSafeInteger(seed)) throw new TorchError(`manualSeed(): seed must be an integer (a safe integer or a BigInt), got ${formatValue(seed)}`);
  N.manualSeed(seed);
}

/** The number of threads of libtorch's intra-op pool (process-wide, as torch.set_num_threads). */
export function setNumThreads(n: number): void {
  N.setNumThreads(n);
}
/** The threads of the intra-op pool (torch.get_num_threads). */
export function getNumThreads(): number {
  return N.getNumThreads();
}
/** The threads of the inter-op pool; only before any inter-op work, once (torch.set_num_interop_threads). */
export function setNumInteropThreads(n: number): void {
  N.setNumInteropThreads(n);
}
/** The threads of the inter-op pool (torch.get_num_interop_threads). */
export function getNumInteropThreads(): number {
  return N.getNumInteropThreads();
}

/** Reseeds the default CPU generator from a non-deterministic source and returns the seed (torch.seed). */
export function seed(): bigint {
  return defaultGenerator.seed();
}

/** The default CPU generator's seed (torch.initial_seed). */
export function initialSeed(): bigint {
  return defaultGenerator.initialSeed();
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

const KL_DIV_MEAN = "reduction: 'mean' divides the total loss by both the batch size and the support size." +
  "'batchmean' divides only by the batch size, and aligns with the KL div math definition." +
  "'mean' will be changed to behave the same as 'batchmean' in the next major release.";

/** F.klDiv, with PyTorch's warning for reduction 'mean' (the default): 'batchmean' is the KL divergence. */
const klDiv = ((...args: Parameters<typeof nnFunctional.klDiv>) => {
  const last = args[args.length - 1];
  const reduction = args.length > 2 && typeof args[2] === 'string' ? args[2]
    : isOptionsObject(last) ? (last as { reduction?: string }).reduction ?? 'mean' : 'mean';
  if (reduction === 'mean') warnOnce(KL_DIV_MEAN);
  return nnFunctional.klDiv(...args);
}) as typeof nnFunctional.klDiv;

/** torch.nn.functional (also exported as nn.functional). */
export const nn = { functional: { ...nnFunctional, klDiv } };
