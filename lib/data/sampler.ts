// Samplers (torch.utils.data.sampler): which dataset indices an epoch visits, in which order, drawing their
// randomness exactly as PyTorch does (same seed, same generator calls, same permutations).
import { argError, formatValue, optionsArg, TorchError } from '../torch/errors';
import { numberList } from './dataset';
import { empty, randint, randperm, tensor } from '../torch/creation';
import { multinomial } from '../torch/ops.generated';
import { Generator } from '../torch/random';
import type { Tensor } from '../torch/tensor';

/** Anything with a length (a dataset, an index list). */
export interface Sized {
  readonly length: number;
}

/** A sampler: an iterable of indices (or of index lists, for batch samplers) with a length. */
export interface Sampler<T = number> extends Iterable<T> {
  readonly length: number;
}

/** The numbers of an int64 tensor, then the tensor is freed. */
export function drain(t: Tensor): number[] {
  try {
    return Array.from(t.dataSync() as BigInt64Array, Number);
  } finally {
    t.dispose();
  }
}

/**
 * A fresh generator seeded from the default one, as RandomSampler does without a generator:
 * `seed = int(torch.empty((), dtype=torch.int64).random_().item())`, then `Generator().manual_seed(seed)`.
 */
export function generatorFromDefault(): Generator {
  return new Generator().manualSeed(drawInt64());
}

/** One int64 draw `torch.empty((), dtype=torch.int64).random_(generator=generator)` (the DataLoader's base seed). */
export function drawInt64(generator?: Generator | null): bigint {
  const t = empty([], { dtype: 'int64' });
  try {
    t.random_(generator ? { generator } : undefined);
    return (t.dataSync() as BigInt64Array)[0];
  } finally {
    t.dispose();
  }
}

function positiveInt(cls: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new TorchError(`${cls}: ${name} should be a positive integer value, but got ${name}=${String(v)}`);
  }
  return v;
}

function checkGenerator(cls: string, g: unknown): Generator | null {
  if (g == null) return null;
  if (!(g instanceof Generator)) throw new TorchError(`${cls}: generator must be a torch.Generator`);
  return g;
}

/** 0, 1, ..., n − 1. */
export class SequentialSampler implements Sampler<number> {
  constructor(readonly dataSource: Sized) {}
  get length(): number {
    return this.dataSource.length;
  }
  *[Symbol.iterator](): Iterator<number> {
    for (let i = 0; i < this.dataSource.length; i++) yield i;
  }
}

export interface RandomSamplerOptions {
  /** Draw with replacement (default false). */
  replacement?: boolean;
  /** Indices per epoch (default the data's length). */
  numSamples?: number | null;
  /** Default: a new generator per epoch, seeded by one int64 draw from the default generator. */
  generator?: Generator | null;
}

/**
 * Random order (PyTorch's RandomSampler). Each epoch, as PyTorch: without a generator, one int64 drawn from
 * torch.defaultGenerator seeds a new generator; without replacement randperm(n) per n indices, with
 * replacement randint(0, n) in chunks of 32. The draws happen when iteration starts (the first next()).
 */
export class RandomSampler implements Sampler<number> {
  readonly replacement: boolean;
  readonly generator: Generator | null;
  private readonly numSamplesOption: number | null;

  constructor(readonly dataSource: Sized, options?: RandomSamplerOptions) {
    if (typeof (dataSource as Sized | null)?.length !== 'number') argError('RandomSampler', `dataSource must have a length, got ${formatValue(dataSource)}`);
    options = optionsArg('RandomSampler', options);
    this.replacement = options.replacement ?? false;
    if (typeof this.replacement !== 'boolean') {
      throw new TorchError(`RandomSampler: replacement should be a boolean value, but got replacement=${String(this.replacement)}`);
    }
    this.numSamplesOption = options.numSamples ?? null;
    this.generator = checkGenerator('RandomSampler', options.generator);
    positiveInt('RandomSampler', 'num_samples', this.numSamples);
  }

  get numSamples(): number {
    return this.numSamplesOption ?? this.dataSource.length;
  }
  get length(): number {
    return this.numSamples;
  }

  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    const generator = this.generator ?? generatorFromDefault();
    const total = this.numSamples;
    if (this.replacement) {
      for (let k = 0; k < Math.floor(total / 32); k++) yield* drain(randint(0, n, [32], { generator }));
      yield* drain(randint(0, n, [total % 32], { generator }));
    } else {
      for (let k = 0; k < Math.floor(total / n); k++) yield* drain(randperm(n, { generator }));
      yield* drain(randperm(n, { generator })).slice(0, total % n);
    }
  }
}

/** The given indices in a random order: indices[randperm(len)] (PyTorch's SubsetRandomSampler). */
export class SubsetRandomSampler implements Sampler<number> {
  readonly indices: number[];
  readonly generator: Generator | null;
  constructor(indices: Iterable<number>, options: { generator?: Generator | null } = {}) {
    const list = numberList('SubsetRandomSampler', indices, true);
    if (list === undefined) throw new TorchError(`SubsetRandomSampler: indices must be an array or an iterable of integers, got ${formatValue(indices)}`);
    this.indices = list;
    this.generator = checkGenerator('SubsetRandomSampler', options.generator);
  }
  get length(): number {
    return this.indices.length;
  }
  *[Symbol.iterator](): Iterator<number> {
    const order = drain(randperm(this.indices.length, this.generator ? { generator: this.generator } : undefined));
    for (const i of order) yield this.indices[i];
  }
}

/**
 * numSamples indices drawn with probabilities proportional to weights (PyTorch's WeightedRandomSampler:
 * torch.multinomial over float64 weights, with replacement by default).
 */
export class WeightedRandomSampler implements Sampler<number> {
  readonly weights: number[];
  readonly numSamples: number;
  readonly replacement: boolean;
  readonly generator: Generator | null;
  constructor(weights: Iterable<number>, numSamples: number, options: { replacement?: boolean; generator?: Generator | null } = {}) {
    this.numSamples = positiveInt('WeightedRandomSampler', 'num_samples', numSamples);
    this.replacement = options.replacement ?? true;
    if (typeof this.replacement !== 'boolean') {
      throw new TorchError(`WeightedRandomSampler: replacement should be a boolean value, but got replacement=${String(this.replacement)}`);
    }
    const list = numberList('WeightedRandomSampler', weights, false);
    if (list === undefined || list.length === 0 || list.some((w) => typeof w !== 'number')) {
      throw new TorchError('WeightedRandomSampler: weights should be a non-empty sequence of numbers');
    }
    this.weights = list;
    this.generator = checkGenerator('WeightedRandomSampler', options.generator);
  }
  get length(): number {
    return this.numSamples;
  }
  *[Symbol.iterator](): Iterator<number> {
    const w = tensor(Float64Array.from(this.weights), { dtype: 'float64' });
    try {
      yield* drain(multinomial(w, this.numSamples, this.replacement, this.generator ? { generator: this.generator } : undefined));
    } finally {
      w.dispose();
    }
  }
}

/** Groups a sampler's indices into lists of batchSize (the last one shorter unless dropLast). */
export class BatchSampler implements Sampler<number[]> {
  readonly batchSize: number;
  constructor(readonly sampler: Sampler<number> | Iterable<number>, batchSize: number, readonly dropLast = false) {
    this.batchSize = positiveInt('BatchSampler', 'batch_size', batchSize);
    if (typeof dropLast !== 'boolean') throw new TorchError(`BatchSampler: drop_last should be a boolean value, but got drop_last=${String(dropLast)}`);
  }
  get length(): number {
    const n = (this.sampler as Partial<Sized>).length;
    if (typeof n !== 'number') throw new TorchError('BatchSampler: the sampler has no length');
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }
  *[Symbol.iterator](): Iterator<number[]> {
    let batch: number[] = [];
    for (const i of this.sampler) {
      batch.push(i);
      if (batch.length === this.batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield batch;
  }
}
