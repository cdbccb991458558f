// The native addon, loaded once per JS environment (each worker thread gets its own instance).
// Handles are plain numbers; everything object-shaped is built on the JS side.
import bindings from 'bindings';

/** A tensor handle in the native slot table (generation · 2^24 + slot); -1 once disposed. */
export type Handle = number;
type Opt<T> = T | null | undefined;
/** A native at::Generator (an opaque, type-tagged external). */
export interface GeneratorHandle { readonly __torchkdGenerator: never }

export interface NativeBuildInfo {
  torchVersion: string;
  napiVersion: number;
  cudaBuild: boolean;
  hasMKL: boolean;
  hasOpenMP: boolean;
  hasLAPACK: boolean;
  numThreads: number;
  parallelInfo: string;
}

export interface Native {
  free(h: Handle): boolean;
  freeMany(handles: Float64Array): void;
  isLive(h: Handle): boolean;
  reportToGc(handles: Float64Array): void;
  memory(): { tensors: number; bytes: number };
  setErrorClass(ctor: new (message: string) => Error): void;

  shape(h: Handle): number[];
  stride(h: Handle): number[];
  dtype(h: Handle): number;
  device(h: Handle): string;
  numel(h: Handle): number;
  dim(h: Handle): number;
  requiresGrad(h: Handle): boolean;
  isContiguous(h: Handle): boolean;
  setRequiresGrad(h: Handle, flag: boolean): void;

  fromTypedArray(data: ArrayBufferView, shape: number[], srcDtype: number, dtype: number, device: Opt<string>,
    requiresGrad: Opt<boolean>): Handle;
  empty(size: number[], dtype: Opt<number>, device: Opt<string>, requiresGrad: Opt<boolean>): Handle;
  zeros(size: number[], dtype: Opt<number>, device: Opt<string>, requiresGrad: Opt<boolean>): Handle;
  ones(size: number[], dtype: Opt<number>, device: Opt<string>, requiresGrad: Opt<boolean>): Handle;
  rand(size: number[], dtype: Opt<number>, device: Opt<string>, requiresGrad: Opt<boolean>, generator?: Opt<GeneratorHandle>): Handle;
  randn(size: number[], dtype: Opt<number>, device: Opt<string>, requiresGrad: Opt<boolean>, generator?: Opt<GeneratorHandle>): Handle;
  full(size: number[], value: number | boolean, dtype: Opt<number>, device: Opt<string>,
    requiresGrad: Opt<boolean>): Handle;
  eye(n: number, m: Opt<number>, dtype: Opt<number>, device: Opt<string>, requiresGrad: Opt<boolean>): Handle;
  arange(start: number, end: number, step: number, dtype: Opt<number>, device: Opt<string>,
    requiresGrad: Opt<boolean>): Handle;
  linspace(start: number, end: number, steps: number, dtype: Opt<number>, device: Opt<string>,
    requiresGrad: Opt<boolean>): Handle;
  randint(low: number | bigint, high: number | bigint, size: number[], dtype: Opt<number>, device: Opt<string>,
    requiresGrad: Opt<boolean>, generator?: Opt<GeneratorHandle>): Handle;
  randperm(n: number, dtype: Opt<number>, device: Opt<string>, requiresGrad: Opt<boolean>, generator?: Opt<GeneratorHandle>): Handle;
  manualSeed(seed: number | bigint): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setNumInteropThreads(n: number): void;
  getNumInteropThreads(): number;
  generatorNew(device: Opt<string>): GeneratorHandle;
  generatorDefault(device: Opt<string>): GeneratorHandle;
  generatorManualSeed(g: GeneratorHandle, seed: number | bigint): void;
  generatorSeed(g: GeneratorHandle): bigint;
  generatorInitialSeed(g: GeneratorHandle): bigint;
  generatorGetState(g: GeneratorHandle): Handle;
  generatorSetState(g: GeneratorHandle, state: Handle): void;
  generatorDevice(g: GeneratorHandle): string;
  getRngState(device: Opt<string>): Handle;
  setRngState(state: Handle, device: Opt<string>): void;

  to(h: Handle, device: Opt<string>, dtype: Opt<number>, nonBlocking: Opt<boolean>, copy: Opt<boolean>): Handle;
  dataSync(h: Handle): ArrayBuffer;
  variableData(h: Handle): Handle;
  setData(h: Handle, other: Handle): void;
  dataAsync(h: Handle): Promise<ArrayBuffer>;
  item(h: Handle): number;
  buildInfo(): NativeBuildInfo;

  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(device: Opt<number>): void;
  cudaMemoryAllocated(device: Opt<number>): number;
  cudaMemoryReserved(device: Opt<number>): number;
  cudaEmptyCache(): void;
  cudaDeviceName(device: Opt<number>): string;
}

function load(): Native {
  try {
    return bindings({ bindings: 'torchkd', module_root: bindings.getRoot(__dirname) }) as Native;
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
    // Installed as a dependency (e.g. with --ignore-scripts, or before libtorch was there): npm rebuilds it;
    // in a checkout of torchkd itself, the build script does.
    const installed = /[\\/]node_modules[\\/]/.test(__dirname);
    throw new Error(
      `torchkd: the native addon could not be loaded (${reason}).\n` +
        (installed
          ? 'Build it with `npm rebuild torchkd` (its install script builds the addon; it needs libtorch: see the README).'
          : 'Build it with `npm run build` (it needs libtorch: see `npx torchkd doctor` and the README).'),
    );
  }
}

export const N: Native = load();
