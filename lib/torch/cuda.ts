// torch.cuda: what PyTorch's module of the same name offers for devices and the caching allocator.
import { N } from './native';
import { TorchError } from './errors';
import { isTensor, wrap, type Tensor } from './tensor';

/** True when the libtorch in use has CUDA and a GPU is visible. */
export function isAvailable(): boolean {
  return N.cudaIsAvailable();
}
export function deviceCount(): number {
  return N.cudaDeviceCount();
}
/** Waits for all kernels on the device (default: the current one) to finish. */
export function synchronize(device?: number): void {
  N.cudaSynchronize(device);
}
/** Bytes occupied by tensors on the device. */
export function memoryAllocated(device?: number): number {
  return N.cudaMemoryAllocated(device);
}
/** Bytes held by the caching allocator on the device. */
export function memoryReserved(device?: number): number {
  return N.cudaMemoryReserved(device);
}
/** Returns cached, unoccupied device memory to the driver. */
export function emptyCache(): void {
  N.cudaEmptyCache();
}
export function getDeviceName(device?: number): string {
  return N.cudaDeviceName(device);
}

/** The generator state of a CUDA device (default 0) as a uint8 tensor (torch.cuda.get_rng_state). */
export function getRngState(device = 0): Tensor {
  if (!isAvailable()) throw new TorchError('cuda.getRngState(): CUDA is not available');
  return wrap(N.getRngState(`cuda:${device}`));
}

/** Restores a state from cuda.getRngState(device). */
export function setRngState(newState: Tensor, device = 0): void {
  if (!isTensor(newState)) throw new TorchError('cuda.setRngState(): newState must be a Tensor from cuda.getRngState()');
  if (!isAvailable()) throw new TorchError('cuda.setRngState(): CUDA is not available');
  N.setRngState(newState.id, `cuda:${device}`);
}
