// torch.Generator: a libtorch random generator (CPU), passed as `generator` to the random ops, the samplers
// and the DataLoader, with PyTorch's seeding and state; torch.defaultGenerator is libtorch's own.
import { argError, kindOf } from './errors';
import { N, type GeneratorHandle } from './native';
import { isTensor, Tensor, wrap } from './tensor';

/** A seed as PyTorch takes it: an integer in [−2^63, 2^64), a number or (beyond 2^53) a BigInt. */
export type Seed = number | bigint;

function checkSeed(op: string, seed: unknown): Seed {
  if (typeof seed === 'bigint') return seed;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    return argError(op, `seed must be an integer (a safe integer or a BigInt), got ${typeof seed === 'number' ? seed : kindOf(seed)}`);
  }
  return seed;
}

/**
 * torch.Generator: the state of a pseudo-random number generator (PyTorch's CPU Mersenne Twister), so a
 * script can draw from its own stream: `const g = new torch.Generator().manualSeed(0)`, then
 * `torch.randperm(10, { generator: g })`, `t.normal_(0, 1, { generator: g })`,
 * `new data.DataLoader(ds, { shuffle: true, generator: g })`. A new generator starts from PyTorch's default
 * seed (67280421310721), as in PyTorch. CPU only: on CUDA, use the default generator (torch.manualSeed).
 */
export class Generator {
  /** @internal the native generator */
  readonly handle: GeneratorHandle;

  constructor(device: string | { device?: string } = 'cpu', handle?: GeneratorHandle) {
    const d = typeof device === 'string' ? device : device?.device ?? 'cpu';
    this.handle = handle ?? N.generatorNew(d);
  }

  /** Seeds the generator (PyTorch's manual_seed); returns this, as in PyTorch. */
  manualSeed(seed: Seed): this {
    N.generatorManualSeed(this.handle, checkSeed('Generator.manualSeed', seed));
    return this;
  }

  /** Reseeds from a non-deterministic source and returns the seed. */
  seed(): bigint {
    return N.generatorSeed(this.handle);
  }

  /** The seed it was last seeded with (PyTorch's initial_seed). */
  initialSeed(): bigint {
    return N.generatorInitialSeed(this.handle);
  }

  /** The state as a uint8 tensor (a new tensor, owned by the caller). */
  getState(): Tensor {
    return wrap(N.generatorGetState(this.handle));
  }

  /** Restores a state from getState(); returns this. */
  setState(newState: Tensor): this {
    if (!isTensor(newState)) argError('Generator.setState', `newState must be a uint8 Tensor from getState(), got ${kindOf(newState)}`);
    N.generatorSetState(this.handle, newState.id);
    return this;
  }

  /** 'cpu' (or 'cuda:N' for a device's default generator). */
  get device(): string {
    return N.generatorDevice(this.handle);
  }
}

/** torch.default_generator: libtorch's default CPU generator (the one torch.manualSeed seeds). */
export const defaultGenerator = new Generator('cpu', N.generatorDefault('cpu'));

/** The native generator of a `generator` argument, or a clear error naming the op. */
export function generatorHandle(v: unknown, op: string): GeneratorHandle {
  if (v instanceof Generator) return v.handle;
  return argError(op, `argument 'generator' must be a torch.Generator, got ${kindOf(v)}`);
}

/** The optional generator of an options object, as a native handle (undefined when absent). */
export function optGenerator(v: unknown, op: string): GeneratorHandle | undefined {
  return v == null ? undefined : generatorHandle(v, op);
}
