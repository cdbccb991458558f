// Datasets: the Dataset interface, TensorDataset, Subset and randomSplit.
import { TorchError } from '../torch/errors';
import { tensor } from '../torch/creation';
import type { Tensor } from '../torch/tensor';
import { Generator, seedFromTorch } from './random';
import type { Collated } from './collate';

/** A map-style dataset: `length` items, read by index (PyTorch's __len__ / __getitem__). */
export interface Dataset<T> {
  readonly length: number;
  getItem(index: number): T;
  /**
   * Optional fast path: the default-collated batch for these indices in one go (TensorDataset uses one
   * indexSelect per tensor). Must equal collating getItem(i) for each index.
   */
  getBatch?(indices: readonly number[]): Collated<T>;
}

export function checkIndex(op: string, index: number, length: number): number {
  if (!Number.isInteger(index) || index < -length || index >= length) {
    throw new TorchError(`${op}: index ${index} is out of range for a dataset of length ${length}`);
  }
  return index < 0 ? index + length : index;
}

/** The int64 index tensor for a batch. */
export function indexTensor(indices: readonly number[]): Tensor {
  return tensor(Int32Array.from(indices), { dtype: 'int64' });
}

/** Rows of tensors sharing their first dimension: item i is `[t0[i], t1[i], ...]` (views). */
export class TensorDataset implements Dataset<Tensor[]> {
  readonly tensors: Tensor[];

  constructor(...tensors: Tensor[]) {
    if (tensors.length === 0) throw new TorchError('TensorDataset(): expected at least one tensor');
    const n = tensors.map((t) => (t.ndim === 0 ? -1 : t.shape[0]));
    if (n.some((x) => x !== n[0]) || n[0] < 0) {
      throw new TorchError(`TensorDataset(): Size mismatch between tensors: first dimensions are [${n.map((x) => (x < 0 ? '0-d' : x)).join(', ')}]`);
    }
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  getItem(index: number): Tensor[] {
    const i = checkIndex('TensorDataset.getItem()', index, this.length);
    return this.tensors.map((t) => t.select(0, i));
  }

  /** One indexSelect per tensor; the result equals stacking the rows. */
  getBatch(indices: readonly number[]): Tensor[] {
    const n = this.length;
    for (const i of indices) checkIndex('TensorDataset.getBatch()', i, n);
    const idx = indexTensor(indices.map((i) => (i < 0 ? i + n : i)));
    try {
      return this.tensors.map((t) => {
        const dev = t.device;
        if (dev === 'cpu') return t.indexSelect(0, idx);
        const onDev = idx.to(dev);
        try {
          return t.indexSelect(0, onDev);
        } finally {
          onDev.dispose();
        }
      });
    } finally {
      idx.dispose();
    }
  }
}

/** The items of `dataset` at `indices`, in that order. */
export class Subset<T> implements Dataset<T> {
  readonly dataset: Dataset<T>;
  readonly indices: number[];

  constructor(dataset: Dataset<T>, indices: readonly number[]) {
    for (const i of indices) checkIndex('Subset()', i, dataset.length);
    this.dataset = dataset;
    this.indices = [...indices];
    const inner = dataset.getBatch;
    if (inner !== undefined) {
      this.getBatch = (ix: readonly number[]) =>
        inner.call(dataset, ix.map((i) => this.indices[checkIndex('Subset.getBatch()', i, this.indices.length)]));
    }
  }

  get length(): number {
    return this.indices.length;
  }

  getItem(index: number): T {
    return this.dataset.getItem(this.indices[checkIndex('Subset.getItem()', index, this.indices.length)]);
  }

  getBatch?: (indices: readonly number[]) => Collated<T>;
}

export interface RandomSplitOptions {
  /** Seed of the permutation. Without seed or generator, a seed is drawn from torch's global generator. */
  seed?: number;
  generator?: Generator;
}

/**
 * Splits a dataset into non-overlapping random subsets (torch.utils.data.random_split). `lengths` are
 * counts summing to the dataset's length, or fractions summing to 1 (floors, then the remainder is
 * handed out one by one from the first subset, as PyTorch does).
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], options: RandomSplitOptions = {}): Subset<T>[] {
  const n = dataset.length;
  let counts: number[];
  const sum = lengths.reduce((a, b) => a + b, 0);
  if (lengths.some((x) => !(x >= 0))) throw new TorchError(`randomSplit(): lengths must be non-negative, got [${lengths.join(', ')}]`);
  if (Math.abs(sum - 1) < 1e-9 && sum <= 1 + 1e-9) {
    counts = lengths.map((f) => Math.floor(n * f));
    const remainder = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) counts[i % counts.length] += 1;
  } else {
    if (!lengths.every(Number.isInteger)) {
      throw new TorchError(`randomSplit(): lengths must be integers or fractions summing to 1, got [${lengths.join(', ')}]`);
    }
    counts = [...lengths];
  }
  if (counts.reduce((a, b) => a + b, 0) !== n) {
    throw new TorchError(`randomSplit(): sum of input lengths (${sum}) does not equal the length of the input dataset (${n})`);
  }
  const gen = options.generator ?? new Generator(options.seed ?? seedFromTorch());
  const perm = gen.permutation(n);
  const out: Subset<T>[] = [];
  let offset = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, perm.slice(offset, offset + c)));
    offset += c;
  }
  return out;
}
