// DataLoader: batches of a map-style dataset, optionally shuffled and prefetched.
import { TorchError } from '../torch/errors';
import { tidy, dispose } from '../torch/index';
import { Generator, seedFromTorch } from './random';
import { defaultCollate, type Collated } from './collate';
import type { Dataset } from './dataset';

export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reshuffle the order every epoch (default false). */
  shuffle?: boolean;
  /**
   * Seed of the shuffle. Epoch e (0 for the first iteration, then 1, 2...; see setEpoch) visits the
   * permutation `new data.Generator(seed, e).permutation(length)`: the same seed gives the same order,
   * independent of torch.manualSeed and of any other random op. Without a seed, one is drawn from torch's
   * global generator when the loader is created (so torch.manualSeed still makes runs reproducible).
   */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /**
   * The sample indices of an epoch, in order (e.g. a data.DistributedSampler); iterated afresh each epoch,
   * so a sampler with setEpoch must have it called as in PyTorch. Mutually exclusive with shuffle.
   */
  sampler?: Iterable<number> & { readonly length: number };
  /** Turns a list of samples into a batch (default defaultCollate). */
  collate?: (samples: T[]) => B;
  /**
   * Async iteration only: build batch k+1 (in a setImmediate callback) while the consumer works on batch
   * k. libtorch ops here run synchronously on the JS thread, so this overlaps batch building with the
   * consumer's awaits (I/O, GPU syncs, timers), not with its synchronous compute. Ignored by the
   * synchronous iterator, where building early could not overlap with anything.
   */
  prefetch?: boolean;
}

/**
 * Iterates over batches of a dataset: `for (const batch of loader)` or `for await (...)`. Each batch is
 * new tensors owned by the caller: dispose it (torch.dispose(batch)) or create it inside torch.tidy
 * (synchronous iteration). Sample tensors made by dataset.getItem while collating are freed.
 */
export class DataLoader<T, B = Collated<T>> implements Iterable<B>, AsyncIterable<B> {
  readonly dataset: Dataset<T>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: boolean;
  readonly seed: number;
  readonly sampler: (Iterable<number> & { readonly length: number }) | undefined;
  private readonly collate: ((samples: T[]) => B) | undefined;
  private nextEpoch = 0;

  constructor(dataset: Dataset<T>, options: DataLoaderOptions<T, B> = {}) {
    const batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new TorchError(`DataLoader(): batchSize should be a positive integer, got ${batchSize}`);
    }
    if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) {
      throw new TorchError(`DataLoader(): seed must be a safe integer, got ${options.seed}`);
    }
    if (options.sampler !== undefined && options.shuffle) throw new TorchError('DataLoader(): sampler option is mutually exclusive with shuffle');
    this.sampler = options.sampler;
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.prefetch = options.prefetch ?? false;
    this.collate = options.collate;
    this.seed = options.seed ?? (this.shuffle ? seedFromTorch() : 0);
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.sampler?.length ?? this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The epoch the next iteration will use (its shuffle order); iterations count up from here. */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new TorchError(`DataLoader.setEpoch(): expected a non-negative integer, got ${epoch}`);
    this.nextEpoch = epoch;
  }

  /** The sample order of one epoch before batching: the sampler's, the seeded shuffle's, or 0..n-1. */
  sampleOrder(epoch: number): number[] {
    const n = this.dataset.length;
    if (this.sampler !== undefined) return [...this.sampler];
    if (this.shuffle) return new Generator(this.seed, epoch).permutation(n);
    const order = new Array<number>(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order;
  }

  /** The sample indices of each batch of one epoch. */
  batchIndices(epoch: number): number[][] {
    const order = this.sampleOrder(epoch);
    const out: number[][] = [];
    for (let k = 0; k < this.length; k++) out.push(order.slice(k * this.batchSize, (k + 1) * this.batchSize));
    return out;
  }

  /**
   * The batch of these sample indices, built as iteration builds it (batchIndices(epoch)[k] gives
   * iteration's k-th batch of an epoch, so a run can resume mid-epoch); sample temporaries are freed.
   */
  batch(indices: readonly number[]): B {
    return tidy(() => {
      if (this.collate === undefined && this.dataset.getBatch !== undefined) {
        return this.dataset.getBatch(indices) as unknown as B;
      }
      const samples = indices.map((i) => this.dataset.getItem(i));
      return this.collate === undefined ? (defaultCollate(samples) as unknown as B) : this.collate(samples);
    });
  }

  [Symbol.iterator](): Iterator<B> {
    const batches = this.batchIndices(this.nextEpoch++);
    let k = 0;
    return {
      next: (): IteratorResult<B> => {
        if (k >= batches.length) return { done: true, value: undefined };
        return { done: false, value: this.batch(batches[k++]) };
      },
      [Symbol.iterator]() {
        return this;
      },
    } as Iterator<B>;
  }

  [Symbol.asyncIterator](): AsyncIterator<B> {
    const batches = this.batchIndices(this.nextEpoch++);
    let k = 0;
    let pending: Promise<B> | null = null;
    let closed = false;
    const start = (): Promise<B> | null => {
      if (k >= batches.length) return null;
      const indices = batches[k++];
      const p = new Promise<B>((resolve, reject) => {
        setImmediate(() => {
          try {
            resolve(this.batch(indices));
          } catch (e) {
            reject(e);
          }
        });
      });
      p.catch(() => undefined); // an error surfaces on the next next(), not as an unhandled rejection
      return p;
    };
    const step = async (): Promise<IteratorResult<B>> => {
      if (closed) return { done: true, value: undefined };
      if (!this.prefetch) {
        if (k >= batches.length) return { done: true, value: undefined };
        return { done: false, value: this.batch(batches[k++]) };
      }
      const current = pending ?? start();
      pending = null;
      if (current === null) return { done: true, value: undefined };
      const batch = await current;
      pending = start();
      return { done: false, value: batch };
    };
    // Calls made without awaiting the previous one are served one after the other, in order.
    let queue: Promise<unknown> = Promise.resolve();
    return {
      next: (): Promise<IteratorResult<B>> => {
        const result = queue.then(step);
        queue = result.catch(() => undefined);
        return result;
      },
      return: async (): Promise<IteratorResult<B>> => {
        closed = true;
        await queue;
        if (pending !== null) {
          const p = pending;
          pending = null;
          // Nobody will receive the prefetched batch: free it so that no batch outlives the loop.
          const batch = await p.catch(() => undefined);
          if (batch !== undefined) dispose(batch);
        }
        return { done: true, value: undefined };
      },
    };
  }
}
