// Datasets: the Dataset interface, TensorDataset, Subset and randomSplit.
import { arrayArg, formatValue, TorchError } from '../torch/errors';
import { tensor } from '../torch/creation';
import { isTensor, tensorsOf, type Tensor } from '../torch/tensor';
import { Generator } from './random';
import { randperm } from '../torch/creation';
import { Generator as TorchGenerator } from '../torch/random';
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
    tensorsOf('TensorDataset', 'tensors', tensors);
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
    arrayArg('TensorDataset.getBatch', 'indices', indices);
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

/** Indices for Subset: an array, a TypedArray, any iterable (a generator standing for Python's range), or a 1-d integer tensor. */
export type Indices = Iterable<number> | ArrayLike<number> | Tensor;

/**
 * Numbers from an array, array-like or iterable, as a number[]. Arrays and array-likes are read element by
 * element and must hold numbers (integers where asked): a sparse array fails at its first hole, where
 * spreading it would exhaust the heap. Other iterables are drained. undefined when values is none of these.
 */
export function numberList(op: string, values: unknown, integers: boolean): number[] | undefined {
  if (values === null || typeof values !== 'object') return undefined;
  const like = values as ArrayLike<unknown>;
  if (Array.isArray(values) || ArrayBuffer.isView(values) || (!(Symbol.iterator in values) && typeof like.length === 'number')) {
    const out: number[] = [];
    for (let i = 0; i < like.length; i++) {
      const v = like[i];
      if (typeof v !== 'number' || (integers && !Number.isInteger(v))) {
        throw new TorchError(`${op}: expected ${integers ? 'integers' : 'numbers'}, got ${formatValue(v)} at ${i}`);
      }
      out.push(v);
    }
    return out;
  }
  return Symbol.iterator in values ? [...(values as Iterable<number>)] : undefined;
}

function indexList(op: string, indices: Indices): number[] {
  if (isTensor(indices)) {
    if (indices.ndim !== 1 || !['int64', 'int32', 'int16', 'int8', 'uint8'].includes(indices.dtype)) {
      throw new TorchError(`${op}: an index tensor must be 1-d with an integer dtype, got ${indices.dtype}[${indices.shape.join(', ')}]`);
    }
    return Array.from(indices.dataSync() as ArrayLike<number | bigint>, Number);
  }
  const list = numberList(op, indices, true);
  if (list !== undefined) return list;
  throw new TorchError(`${op}: indices must be an array, an iterable or an index tensor`);
}

/**
 * Python's range(start, stop, step) as an iterable: `new data.Subset(ds, data.range(1000))`.
 * range(stop) counts from 0.
 */
export function* range(start: number, stop?: number, step = 1): IterableIterator<number> {
  if (stop === undefined) [start, stop] = [0, start];
  if (![start, stop, step].every(Number.isInteger) || step === 0) throw new TorchError('range(): start, stop and step must be integers, step nonzero');
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) yield i;
}

/** The items of `dataset` at `indices`, in that order (a list, a range(), a TypedArray or an index tensor). */
export class Subset<T> implements Dataset<T> {
  readonly dataset: Dataset<T>;
  readonly indices: number[];

  constructor(dataset: Dataset<T>, indices: Indices) {
    const list = indexList('Subset()', indices);
    for (const i of list) checkIndex('Subset()', i, dataset.length);
    this.dataset = dataset;
    this.indices = list;
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
  /** torchkd's seeded permutation (data.Generator(seed)), independent of torch's generators. */
  seed?: number;
  /** A torch.Generator (PyTorch's randperm, as random_split) or a data.Generator. Default: torch.defaultGenerator. */
  generator?: TorchGenerator | Generator;
}

/**
 * Splits a dataset into non-overlapping random subsets (torch.utils.data.random_split): with a
 * torch.Generator or none, exactly PyTorch's split (randperm from that generator or torch.defaultGenerator). `lengths` are
 * counts summing to the dataset's length, or fractions summing to 1 (floors, then the remainder is
 * handed out one by one from the first subset, as PyTorch does).
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], options: RandomSplitOptions = {}): Subset<T>[] {
  const n = (dataset as Partial<Dataset<T>> | null)?.length as number;
  if (!Number.isSafeInteger(n) || n < 0) throw new TorchError(`randomSplit(): dataset must be a Dataset (with a length), got ${formatValue(dataset)}`);
  // Checked element by element: a sparse array of 2^32 - 1 holes fails at its first one.
  if (!Array.isArray(lengths)) throw new TorchError(`randomSplit(): lengths must be an array of numbers, got ${formatValue(lengths)}`);
  for (let i = 0; i < lengths.length; i++) {
    if (typeof lengths[i] !== 'number' || !(lengths[i] >= 0) || !Number.isFinite(lengths[i])) {
      throw new TorchError(`randomSplit(): lengths must be non-negative numbers, got ${formatValue(lengths)}`);
    }
  }
  let counts: number[];
  const sum = lengths.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) < 1e-9 && sum <= 1 + 1e-9) {
    counts = lengths.map((f) => Math.floor(n * f));
    const remainder = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) counts[i % counts.length] += 1;
  } else {
    if (!lengths.every(Number.isInteger)) {
      throw new TorchError(`randomSplit(): lengths must be integers or fractions summing to 1, got ${formatValue(lengths)}`);
    }
    counts = [...lengths];
  }
  if (counts.reduce((a, b) => a + b, 0) !== n) {
    throw new TorchError(`randomSplit(): sum of input lengths (${sum}) does not equal the length of the input dataset (${n})`);
  }
  if (options.seed !== undefined && options.generator !== undefined) throw new TorchError('randomSplit(): give seed or generator, not both');
  const g = options.generator;
  let perm: number[];
  if (g instanceof Generator) perm = g.permutation(n);
  else if (options.seed !== undefined) perm = new Generator(options.seed).permutation(n);
  else {
    // PyTorch: randperm(sum(lengths), generator=generator).tolist(), default_generator by default.
    const t = randperm(n, g ? { generator: g } : undefined);
    try {
      perm = indexList('randomSplit()', t);
    } finally {
      t.dispose();
    }
  }
  const out: Subset<T>[] = [];
  let offset = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, perm.slice(offset, offset + c)));
    offset += c;
  }
  return out;
}
