// DataLoader: batches of a map-style dataset, optionally shuffled and prefetched.
import { argError, kindOf, optionsArg, TorchError } from '../torch/errors';
import { tidy, dispose } from '../torch/index';
import { Generator } from './random';
import { Generator as TorchGenerator } from '../torch/random';
import { warnOnce } from '../torch/warnings';
import { closest } from '../util/validate';
import { BatchSampler, drawInt64, RandomSampler, SequentialSampler, type Sampler } from './sampler';
import { defaultCollate, type Collated } from './collate';
import type { Dataset } from './dataset';

export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /**
   * Reshuffle the order every epoch (default false). As PyTorch's RandomSampler: each epoch draws from
   * `generator` (or, without one, seeds a new generator with one int64 from torch.defaultGenerator) and
   * visits torch.randperm(n), so a script seeded with torch.manualSeed sees PyTorch's order.
   */
  shuffle?: boolean;
  /** Where the indices come from (a data.Sampler, or any iterable of indices with a length); excludes shuffle. */
  sampler?: Sampler<number> | null;
  /** Where whole batches of indices come from (a data.BatchSampler...); excludes batchSize, shuffle, sampler, dropLast. */
  batchSampler?: Sampler<number[]> | null;
  /** The generator of the shuffle and of the per-iteration base seed (default torch.defaultGenerator). */
  generator?: TorchGenerator | null;
  /**
   * torchkd's seeded order instead of PyTorch's: epoch e (0 for the first iteration, then 1, 2...; see
   * setEpoch) visits `new data.Generator(seed, e).permutation(length)`, independent of torch's generators
   * and of every other random op, so a run resumes mid-epoch exactly (the trainer's loaders use it).
   */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Turns a list of samples into a batch (default defaultCollate). PyTorch's collate_fn. */
  collateFn?: (samples: T[]) => B;
  /** Alias of collateFn. */
  collate?: (samples: T[]) => B;
  /**
   * PyTorch's worker processes do not exist here: batches are built on the JS thread, with the same
   * indices in the same order as PyTorch's workers would return them (a warning says so once). What
   * cannot match: random draws made inside a dataset's getItem, which PyTorch's workers make from their
   * own per-worker seeds.
   */
  numWorkers?: number;
  /** Accepted for ported scripts; batches stay in ordinary memory (a warning says so once). */
  pinMemory?: boolean;
  /** Only with workers in PyTorch (accepted, unused). */
  prefetchFactor?: number | null;
  persistentWorkers?: boolean;
  workerInitFn?: ((workerId: number) => void) | null;
  timeout?: number;
  /**
   * Async iteration only: build batch k+1 (in a setImmediate callback) while the consumer works on batch
   * k. libtorch ops here run synchronously on the JS thread, so this overlaps batch building with the
   * consumer's awaits (I/O, GPU syncs, timers), not with its synchronous compute. Ignored by the
   * synchronous iterator, where building early could not overlap with anything.
   */
  prefetch?: boolean;
}

const OPTION_NAMES = ['batchSize', 'shuffle', 'sampler', 'batchSampler', 'generator', 'seed', 'dropLast', 'collateFn', 'collate',
  'numWorkers', 'pinMemory', 'prefetchFactor', 'persistentWorkers', 'workerInitFn', 'timeout', 'prefetch'];

/**
 * Iterates over batches of a dataset: `for (const batch of loader)` or `for await (...)`. Each batch is
 * new tensors owned by the caller: dispose it (torch.dispose(batch)) or create it inside torch.tidy
 * (synchronous iteration). Sample tensors made by dataset.getItem while collating are freed.
 *
 * Randomness follows PyTorch's DataLoader (num_workers=0): starting an iteration draws one int64 base seed
 * from `generator` (or torch.defaultGenerator), and a shuffling sampler draws its own when the first batch
 * is taken, so the data order and every later random number match a PyTorch script with the same seed.
 * With `seed`, the order is torchkd's seeded one instead and nothing is drawn.
 */
export class DataLoader<T, B = Collated<T>> implements Iterable<B>, AsyncIterable<B> {
  readonly dataset: Dataset<T>;
  readonly batchSize: number | null;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: boolean;
  readonly seed: number | null;
  readonly generator: TorchGenerator | null;
  readonly sampler: Sampler<number> | null;
  readonly batchSampler: Sampler<number[]>;
  private readonly collate: ((samples: T[]) => B) | undefined;
  private nextEpoch = 0;
  /** PyTorch-order epochs drawn by batchIndices(), by epoch number. */
  private readonly drawnEpochs = new Map<number, number[][]>();

  constructor(dataset: Dataset<T>, options?: DataLoaderOptions<T, B>) {
    if (typeof (dataset as Partial<Dataset<T>> | null)?.getItem !== 'function') argError('DataLoader', `dataset must be a Dataset (with length and getItem), got ${kindOf(dataset)}`);
    options = optionsArg('DataLoader', options);
    for (const k of Object.keys(options)) {
      if (!OPTION_NAMES.includes(k)) {
        const hint = closest(k, OPTION_NAMES);
        throw new TorchError(`DataLoader(): unknown option '${k}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
      }
    }
    const o = options;
    if (o.batchSampler != null && (o.batchSize !== undefined && o.batchSize !== 1 || o.shuffle || o.sampler != null || o.dropLast)) {
      throw new TorchError('DataLoader(): batchSampler option is mutually exclusive with batchSize, shuffle, sampler, and dropLast');
    }
    if (o.sampler != null && o.shuffle) throw new TorchError('DataLoader(): sampler option is mutually exclusive with shuffle');
    if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw new TorchError(`DataLoader(): seed must be a safe integer, got ${o.seed}`);
    if (o.seed !== undefined && (o.generator != null || o.sampler != null || o.batchSampler != null)) {
      throw new TorchError('DataLoader(): seed (torchkd\'s seeded order) is mutually exclusive with generator, sampler and batchSampler');
    }
    if (o.generator != null && !(o.generator instanceof TorchGenerator)) throw new TorchError('DataLoader(): generator must be a torch.Generator');
    if (o.collate !== undefined && o.collateFn !== undefined) throw new TorchError('DataLoader(): give collateFn or its alias collate, not both');
    const batchSize = o.batchSampler != null ? null : o.batchSize ?? 1;
    if (batchSize !== null && (!Number.isInteger(batchSize) || batchSize <= 0)) {
      throw new TorchError(`DataLoader(): batchSize should be a positive integer, got ${batchSize}`);
    }
    const workers = o.numWorkers ?? 0;
    if (!Number.isInteger(workers) || workers < 0) {
      throw new TorchError('DataLoader(): numWorkers option should be non-negative; use numWorkers=0 to disable multiprocessing.');
    }
    if (workers > 0) {
      warnOnce(`DataLoader: numWorkers=${workers}: torchkd builds batches on the JS thread; the batches and their order are PyTorch's, ` +
        'but random draws inside a dataset do not come from per-worker generators');
    }
    if (workers === 0 && o.prefetchFactor != null) {
      throw new TorchError('DataLoader(): prefetchFactor option could only be specified in multiprocessing. let numWorkers > 0 to enable multiprocessing, otherwise set prefetchFactor to null.');
    }
    if (workers === 0 && o.persistentWorkers) throw new TorchError('DataLoader(): persistentWorkers option needs numWorkers > 0');
    if (o.pinMemory) warnOnce('DataLoader: pinMemory has no effect in torchkd; batches stay in ordinary memory');
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = o.shuffle ?? false;
    this.dropLast = o.dropLast ?? false;
    this.prefetch = o.prefetch ?? false;
    this.collate = o.collateFn ?? o.collate;
    this.seed = o.seed ?? null;
    this.generator = o.generator ?? null;
    this.sampler = o.batchSampler != null ? null
      : o.sampler ?? (this.shuffle && this.seed === null ? new RandomSampler(dataset, { generator: this.generator }) : new SequentialSampler(dataset));
    this.batchSampler = o.batchSampler ?? new BatchSampler(this.sampler as Sampler<number>, batchSize as number, this.dropLast);
  }

  /** Number of batches per epoch. */
  get length(): number {
    return this.batchSampler.length;
  }

  /** The epoch the next iteration will use (its shuffle order); iterations count up from here. */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new TorchError(`DataLoader.setEpoch(): expected a non-negative integer, got ${epoch}`);
    this.nextEpoch = epoch;
  }

  /** With `seed`: torchkd's order of an epoch, a pure function of seed and epoch. */
  private seededBatches(epoch: number): number[][] {
    const n = this.dataset.length;
    const bs = this.batchSize as number;
    let order: number[];
    if (this.shuffle) order = new Generator(this.seed as number, epoch).permutation(n);
    else {
      order = new Array<number>(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    const out: number[][] = [];
    for (let k = 0; k < this.length; k++) out.push(order.slice(k * bs, (k + 1) * bs));
    return out;
  }

  /**
   * The sample indices of each batch of one epoch (for a trainer that builds batches itself). With `seed`,
   * a pure function of the epoch. Otherwise the epoch is drawn as an iteration draws it (base seed, then
   * the sampler's order) on the first call for that epoch number, and the same lists are returned after.
   */
  batchIndices(epoch: number): number[][] {
    if (this.seed !== null) return this.seededBatches(epoch);
    let drawn = this.drawnEpochs.get(epoch);
    if (drawn === undefined) {
      drawInt64(this.generator);
      drawn = [...this.batchSampler].map((b) => [...b]);
      this.drawnEpochs.clear();
      this.drawnEpochs.set(epoch, drawn);
    }
    return drawn;
  }

  /** An epoch's batches of indices, drawn lazily as PyTorch's iterator draws them. */
  private epochIndices(): Iterator<number[]> {
    if (this.seed !== null) return this.seededBatches(this.nextEpoch++)[Symbol.iterator]();
    this.nextEpoch++;
    drawInt64(this.generator); // PyTorch's _base_seed, drawn when the iterator is created
    return this.batchSampler[Symbol.iterator]();
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
    const batches = this.epochIndices();
    return {
      next: (): IteratorResult<B> => {
        const r = batches.next();
        if (r.done) return { done: true, value: undefined };
        return { done: false, value: this.batch(r.value) };
      },
      [Symbol.iterator]() {
        return this;
      },
    } as Iterator<B>;
  }

  [Symbol.asyncIterator](): AsyncIterator<B> {
    const batches = this.epochIndices();
    let pending: Promise<B> | null = null;
    let closed = false;
    const start = (): Promise<B> | null => {
      const r = batches.next();
      if (r.done) return null;
      const indices = r.value;
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
        const r = batches.next();
        if (r.done) return { done: true, value: undefined };
        return { done: false, value: this.batch(r.value) };
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
