// default_collate: stacks a list of samples into a batch, recursively.
import { arrayArg, TorchError } from '../torch/errors';
import { stack } from '../torch/ops.generated';
import { tensor } from '../torch/creation';
import { Tensor } from '../torch/tensor';

/** The batch type default collation makes of samples of type T. */
export type Collated<T> =
  T extends Tensor ? Tensor
    : T extends number | boolean | bigint ? Tensor
      : T extends string ? string[]
        : T extends readonly unknown[] ? { -readonly [K in keyof T]: Collated<T[K]> }
          : T extends object ? { [K in keyof T]: Collated<T[K]> }
            : never;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

function collateAt(batch: readonly unknown[], path: string): unknown {
  const elem = batch[0];
  const where = path === '' ? '' : ` at ${path}`;
  const same = (pred: (v: unknown) => boolean, kind: string) => {
    const bad = batch.findIndex((v) => !pred(v));
    if (bad >= 0) throw new TorchError(`defaultCollate(): sample ${bad}${where} is ${describe(batch[bad])}, sample 0 is ${kind}`);
  };
  if (elem instanceof Tensor) {
    same((v) => v instanceof Tensor, 'a Tensor');
    const shapes = (batch as Tensor[]).map((t) => t.shape.join(','));
    const bad = shapes.findIndex((s) => s !== shapes[0]);
    if (bad >= 0) {
      throw new TorchError(`defaultCollate(): stack expects each tensor to be equal size, but sample 0${where} has shape [${shapes[0]}] and sample ${bad} has shape [${shapes[bad]}]`);
    }
    return stack(batch as Tensor[]);
  }
  if (typeof elem === 'number') {
    same((v) => typeof v === 'number', 'a number');
    const nums = batch as number[];
    if (nums.every(Number.isSafeInteger)) return tensor(Float64Array.from(nums), { dtype: 'int64' });
    return tensor(Float64Array.from(nums));
  }
  if (typeof elem === 'boolean') {
    same((v) => typeof v === 'boolean', 'a boolean');
    return tensor(Uint8Array.from(batch as boolean[], (b) => (b ? 1 : 0)), { dtype: 'bool' });
  }
  if (typeof elem === 'bigint') {
    same((v) => typeof v === 'bigint', 'a bigint');
    return tensor(BigInt64Array.from(batch as bigint[]));
  }
  if (typeof elem === 'string') {
    same((v) => typeof v === 'string', 'a string');
    return [...batch];
  }
  if (Array.isArray(elem)) {
    same(Array.isArray, 'an Array');
    const len = elem.length;
    const bad = (batch as unknown[][]).findIndex((a) => a.length !== len);
    if (bad >= 0) throw new TorchError(`defaultCollate(): each element in list of batch should be of equal size: sample 0${where} has ${len} elements, sample ${bad} has ${(batch[bad] as unknown[]).length}`);
    return elem.map((_, j) => collateAt((batch as unknown[][]).map((a) => a[j]), `${path}[${j}]`));
  }
  if (isPlainObject(elem)) {
    same(isPlainObject, 'a plain object');
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(elem)) {
      const bad = batch.findIndex((o) => !Object.prototype.hasOwnProperty.call(o, key));
      if (bad >= 0) throw new TorchError(`defaultCollate(): sample ${bad}${where} lacks key '${key}'`);
      out[key] = collateAt((batch as Record<string, unknown>[]).map((o) => o[key]), `${path}.${key}`);
    }
    return out;
  }
  throw new TorchError(`defaultCollate(): batch must contain tensors, numbers, booleans, bigints, strings, arrays or plain objects; found ${describe(elem)}${where}`);
}

/**
 * PyTorch's default_collate: tensors are stacked along a new first dimension; numbers become a tensor
 * (int64 when every one is an integer, else float64: JS cannot tell 1.0 from 1); booleans a bool tensor;
 * bigints int64; strings stay a string array; arrays (tuples) and plain objects are collated per position
 * or key. Input tensors are not disposed.
 */
export function defaultCollate<T>(batch: readonly T[]): Collated<T> {
  if (arrayArg('defaultCollate', 'batch', batch).length === 0) throw new TorchError('defaultCollate(): empty batch');
  return collateAt(batch, '') as Collated<T>;
}
