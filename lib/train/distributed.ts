// The trainer's distributed mode (TrainerOptions.distributed): the ranks of a torch.distributed group each
// train on their shard of every epoch, with the trainable modules in one DistributedDataParallel, and agree
// on every number that steers the loop (losses, evaluation, stopping) through all-reduces.
import * as nn from '../nn';
import * as torch from '../torch';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import type { ProcessGroup } from '../torch/distributed';
import { DistributedSampler, shardIndices } from '../data/distributed';
import type { DataLoader } from '../data/loader';
import type { Sampler } from '../data/sampler';

const dist = torch.distributed;

export interface DistributedTrainingOptions {
  /** Default: the default group (initialized from env:// when no group exists yet, as a launcher sets it up). */
  group?: ProcessGroup;
  /** DistributedDataParallel's options for the trainable modules. */
  findUnusedParameters?: boolean;
  bucketCapMb?: number;
  broadcastBuffers?: boolean;
}

/** The trainable modules as one module, so that one Reducer averages all their gradients. */
class Trainables extends nn.Module {
  constructor(modules: Record<string, nn.Module>) {
    super();
    for (const [name, m] of Object.entries(modules)) this.registerModule(name.replace(/\./g, '_'), m);
  }
  forward(): never {
    throw new TorchError('the trainer runs its modules through DistributedDataParallel.runForward');
  }
}

/**
 * One rank's view of a distributed training: its shard of each epoch (PyTorch's DistributedSampler over the
 * loader's order: padded to a multiple of the world size, then every worldSize-th sample from the rank),
 * reductions, and the DDP wrapper of the trainable modules.
 */
export class TrainingGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly group: ProcessGroup | undefined;
  /** Whether this object initialized the default group (and so destroys it in close()). */
  private readonly created: boolean;
  private ddp: nn.parallel.DistributedDataParallel | null = null;

  private constructor(group: ProcessGroup | undefined, created: boolean) {
    this.group = group;
    this.created = created;
    this.rank = dist.getRank(group);
    this.worldSize = dist.getWorldSize(group);
  }

  static join(option: boolean | DistributedTrainingOptions | undefined): TrainingGroup | null {
    if (!option) return null;
    const o = option === true ? {} : option;
    let created = false;
    if (!dist.isInitialized()) {
      if (o.group) throw new TorchError('Trainer: distributed.group was given but the default group is not initialized');
      dist.initProcessGroup();
      created = true;
    }
    return new TrainingGroup(o.group, created);
  }

  /**
   * This rank's batches of an epoch of the loader: with a data.DistributedSampler as its sampler, the
   * loader's own batches (the trainer sets the sampler's epoch first); otherwise the loader's epoch order (its batches
   * laid end to end) dealt as DistributedSampler deals it, then batched per rank.
   */
  epochBatches(loader: DataLoader<Tensor[], Tensor[]>, epoch: number): number[][] {
    if (loader.sampler instanceof DistributedSampler) return loader.batchIndices(epoch);
    const size = this.batchSize(loader);
    return this.batch(shardIndices(loader.batchIndices(epoch).flat(), this.rank, this.worldSize, false), size, loader.dropLast);
  }

  /** Batches per epoch and rank. */
  stepsPerEpoch(loader: DataLoader<Tensor[], Tensor[]>): number {
    if (loader.sampler instanceof DistributedSampler) return loader.length;
    const size = this.batchSize(loader);
    const n = (loader.sampler as Sampler<number>).length;
    const perRank = Math.ceil((loader.dropLast ? Math.floor(n / size) * size : n) / this.worldSize);
    return loader.dropLast ? Math.floor(perRank / size) : Math.ceil(perRank / size);
  }

  /** An evaluation's batches on this rank: every worldSize-th sample, unpadded, so that sums over ranks count each sample once. */
  evalBatches(loader: DataLoader<Tensor[], Tensor[]>): number[][] {
    if (loader.sampler instanceof DistributedSampler) return loader.batchIndices(0);
    const mine = loader.batchIndices(0).flat().filter((_, i) => i % this.worldSize === this.rank);
    return this.batch(mine, this.batchSize(loader), false);
  }

  /** The per-rank batch size of a loader the trainer shards (one with a sampler and batchSize). */
  private batchSize(loader: DataLoader<Tensor[], Tensor[]>): number {
    if (loader.batchSize === null) {
      throw new TorchError('Trainer: distributed training shards a loader by its sampler; give it batchSize (and a sampler, e.g. a data.DistributedSampler) instead of a batchSampler');
    }
    return loader.batchSize;
  }

  private batch(indices: number[], size: number, dropLast: boolean): number[][] {
    const out: number[][] = [];
    for (let k = 0; k + (dropLast ? size : 1) <= indices.length; k += size) out.push(indices.slice(k, k + size));
    return out;
  }

  /** Element-wise sums over the ranks (float64). */
  sum(values: number[]): number[] {
    if (values.length === 0) return values;
    return torch.tidy(() => {
      const t = torch.tensor(Float64Array.from(values), { dtype: 'float64' });
      dist.allReduce(t, { group: this.group });
      return Array.from(t.dataSync() as Float64Array);
    });
  }

  /** Wraps the trainable modules in one DistributedDataParallel (rank 0's weights are broadcast). */
  wrap(modules: Record<string, nn.Module>, o: DistributedTrainingOptions): nn.parallel.DistributedDataParallel {
    this.ddp = new nn.parallel.DistributedDataParallel(new Trainables(modules), {
      processGroup: this.group, findUnusedParameters: o.findUnusedParameters, bucketCapMb: o.bucketCapMb,
      broadcastBuffers: o.broadcastBuffers,
    });
    return this.ddp;
  }

  /** Removes the gradient hooks (the modules stay) and leaves the group if this object joined it. */
  close(): void {
    this.ddp?.unwrap();
    this.ddp = null;
    if (this.created && dist.isInitialized()) dist.destroyProcessGroup();
  }
}
