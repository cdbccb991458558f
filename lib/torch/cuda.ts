// torch.cuda: what PyTorch's module of the same name offers for devices and the caching allocator.
import { N } from './native';

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
