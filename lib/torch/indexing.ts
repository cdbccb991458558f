// PyTorch's indexing, t[0, 1:5:2, None, ..., mask] as t.index([0, torch.slice(1, 5, 2), null, '...', mask]),
// its assignment as t.indexPut_([...], values), and torch.unique.
import { argError, kindOf } from './errors';
import { N as native, type Handle } from './native';
import { asTensor, isOptions, Tensor, wrap } from './tensor';

/** A slice start:stop:step; null (or omitted) parts take Python's defaults. */
export class Slice {
  constructor(readonly start: number | null = null, readonly stop: number | null = null, readonly step: number | null = null) {}
}

/** torch.slice(start, stop, step): the JS spelling of start:stop:step. */
export function slice(start: number | null = null, stop: number | null = null, step: number | null = null): Slice {
  return new Slice(start, stop, step);
}

/** One index: an integer, a slice, null (new axis), '...' (ellipsis), a boolean, or a bool/int64 tensor. */
export type Index = number | Slice | null | '...' | boolean | Tensor;

interface IndexingNative {
  index(self: Handle, indices: unknown[]): Handle;
  indexPut_(self: Handle, indices: unknown[], values: Handle | null, value?: number | boolean): void;
  unique(self: Handle, sorted: boolean, returnInverse: boolean, returnCounts: boolean, dim: number | null): Handle[];
}
const N = native as unknown as IndexingNative;

function encode(indices: Index[] | Index, op: string): unknown[] {
  const list = Array.isArray(indices) ? indices : [indices];
  // Element by element (map() would walk all 2^32 - 1 holes of a sparse array): a hole is undefined.
  const out: unknown[] = [];
  for (let k = 0; k < list.length; k++) {
    const ix: unknown = list[k];
    if (ix instanceof Tensor) out.push({ h: ix.id });
    else if (ix instanceof Slice) out.push([ix.start, ix.stop, ix.step]);
    else if (ix === '...' || ix === null || typeof ix === 'number' || typeof ix === 'boolean') out.push(ix);
    else argError(op, `index ${k} must be an integer, torch.slice(...), null, '...', a boolean or a Tensor, got ${kindOf(ix)}`);
  }
  return out;
}

declare module './tensor' {
  interface Tensor {
    /**
     * PyTorch's t[...]: t.index([0, torch.slice(1, null, 2), null, '...', mask]). Basic indexing
     * (integers, slices, null, '...') returns a view; tensor and boolean-mask indices return a copy.
     */
    index(indices: Index[] | Index): Tensor;
    /** PyTorch's t[...] = values, in place; values is a tensor (broadcast) or a number. Returns this. */
    indexPut_(indices: Index[] | Index, values: Tensor | number | boolean): this;
    /** torch.unique as a method. */
    unique(options?: UniqueOptions): Tensor | Tensor[];
  }
}

Tensor.prototype.index = function (this: Tensor, indices: Index[] | Index): Tensor {
  return wrap(N.index(this.id, encode(indices, 'index')));
};

Tensor.prototype.indexPut_ = function <T extends Tensor>(this: T, indices: Index[] | Index, values: Tensor | number | boolean): T {
  if (values instanceof Tensor) N.indexPut_(this.id, encode(indices, 'indexPut_'), values.id);
  else N.indexPut_(this.id, encode(indices, 'indexPut_'), null, values);
  return this;
};

export interface UniqueOptions {
  sorted?: boolean;
  returnInverse?: boolean;
  returnCounts?: boolean;
  dim?: number | null;
}

/**
 * The unique elements (or slices along dim). With returnInverse and/or returnCounts, returns
 * [output, inverseIndices?, counts?] in that order, as PyTorch's tuple does.
 */
export function unique(input: Tensor, options: UniqueOptions = {}): Tensor | Tensor[] {
  asTensor(input, 'unique');
  if (!isOptions(options as unknown)) argError('unique', `options must be an object, got ${kindOf(options)}`);
  const { sorted = true, returnInverse = false, returnCounts = false, dim = null } = options;
  const [output, inverse, counts] = N.unique(input.id, sorted, returnInverse, returnCounts, dim).map(wrap);
  if (!returnInverse && !returnCounts) {
    inverse.dispose();
    counts.dispose();
    return output;
  }
  const out = [output];
  if (returnInverse) out.push(inverse);
  else inverse.dispose();
  if (returnCounts) out.push(counts);
  else counts.dispose();
  return out;
}

Tensor.prototype.unique = function (this: Tensor, options?: UniqueOptions): Tensor | Tensor[] {
  return unique(this, options);
};
