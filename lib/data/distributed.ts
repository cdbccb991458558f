// data.DistributedSampler: each rank's share of a dataset, as torch.utils.data.DistributedSampler draws it.
import { TorchError } from '../torch/errors';
import { getRank, getWorldSize, isInitialized } from '../torch/distributed';
import { randperm } from '../torch/creation';
import { Generator } from '../torch/random';
import { drain, type Sampler, type Sized } from './sampler';

export interface DistributedSamplerOptions {
  /** Number of ranks sharing the dataset (default: the default group's world size). */
  numReplicas?: number;
  /** This rank (default: its rank in the default group). */
  rank?: number;
  /** Shuffle every epoch (default true), with the permutation torch.randperm draws from seed + epoch. */
  shuffle?: boolean;
  /** Same on every rank (default 0). */
  seed?: number;
  /** Drop the tail so every rank gets the same number of samples (default false: pad by repeating the start). */
  dropLast?: boolean;
}

/** Samples per rank: ceil(n / numReplicas), or with dropLast the whole multiples only. */
function samplesPerRank(n: number, numReplicas: number, dropLast: boolean): number {
  // max: Python's math.ceil of a small negative number is 0 (JavaScript's is -0).
  return Math.max(0, dropLast && n % numReplicas !== 0 ? Math.ceil((n - numReplicas) / numReplicas) : Math.ceil(n / numReplicas));
}

/**
 * The samples of rank `rank` out of `numReplicas` from an epoch's order: padded (repeating the order's
 * start) or truncated to a multiple of numReplicas, then every numReplicas-th from `rank`
 * (torch/utils/data/distributed.py).
 */
export function shardIndices(order: readonly number[], rank: number, numReplicas: number, dropLast: boolean): number[] {
  const n = order.length;
  const totalSize = samplesPerRank(n, numReplicas, dropLast) * numReplicas;
  let indices: number[];
  if (!dropLast) {
    indices = [...order];
    const padding = totalSize - n;
    if (padding <= n) indices.push(...order.slice(0, padding));
    else for (let k = 0; k < padding; k++) indices.push(order[k % n]);
  } else {
    indices = order.slice(0, totalSize);
  }
  const out: number[] = [];
  for (let k = rank; k < totalSize; k += numReplicas) out.push(indices[k]);
  return out;
}

/**
 * torch.utils.data.DistributedSampler: pass it as the DataLoader's `sampler` and call setEpoch(epoch) at
 * the start of each epoch (else every epoch repeats the first order), as in PyTorch. The shuffled order is
 * PyTorch's own: torch.randperm(len(dataset), generator=Generator().manual_seed(seed + epoch)).
 */
export class DistributedSampler implements Sampler<number> {
  readonly numReplicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  /** Samples this rank draws per epoch. */
  readonly numSamples: number;
  readonly totalSize: number;
  epoch = 0;
  private readonly dataset: Sized;

  constructor(dataset: Sized, options: DistributedSamplerOptions = {}) {
    const needGroup = options.numReplicas === undefined || options.rank === undefined;
    if (needGroup && !isInitialized()) throw new TorchError('DistributedSampler(): Requires distributed package to be available (call torch.distributed.initProcessGroup, or pass numReplicas and rank)');
    const numReplicas = options.numReplicas ?? getWorldSize();
    const rank = options.rank ?? getRank();
    if (!(Number.isInteger(numReplicas) && numReplicas > 0)) throw new TorchError(`DistributedSampler(): numReplicas must be a positive integer, got ${numReplicas}`);
    if (!(Number.isInteger(rank) && rank >= 0 && rank < numReplicas)) {
      throw new TorchError(`DistributedSampler(): Invalid rank ${rank}, rank should be in the interval [0, ${numReplicas - 1}]`);
    }
    if (!dataset || !Number.isInteger(dataset.length)) throw new TorchError('DistributedSampler(): dataset must have an integer length');
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new TorchError(`DistributedSampler(): seed must be an integer, got ${seed}`);
    this.dataset = dataset;
    this.numReplicas = numReplicas;
    this.rank = rank;
    this.shuffle = options.shuffle ?? true;
    this.seed = seed;
    this.dropLast = options.dropLast ?? false;
    this.numSamples = samplesPerRank(dataset.length, numReplicas, this.dropLast);
    this.totalSize = this.numSamples * numReplicas;
  }

  /** The epoch whose order the next iteration draws (every rank must set the same one). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new TorchError(`DistributedSampler.setEpoch(): expected a non-negative integer, got ${epoch}`);
    this.epoch = epoch;
  }

  get length(): number {
    return this.numSamples;
  }

  /** This rank's indices for the current epoch. */
  indices(): number[] {
    const n = this.dataset.length;
    const order = this.shuffle ? drain(randperm(n, { generator: new Generator().manualSeed(this.seed + this.epoch) }))
      : Array.from({ length: n }, (_, i) => i);
    return shardIndices(order, this.rank, this.numReplicas, this.dropLast);
  }

  [Symbol.iterator](): Iterator<number> {
    return this.indices()[Symbol.iterator]();
  }
}
