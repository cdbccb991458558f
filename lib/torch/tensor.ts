// The Tensor class: a handle into the native slot table plus the object work done in JS.
import { inspect } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { checkDevice, dtypeName, optDtypeCode, type Device, type DType } from './dtype';
import { argError, formatValue, kindOf, TorchError } from './errors';
import { constructToken, Owned, release } from './memory';
import { N, type Handle } from './native';

export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array;

/** Nested arrays of numbers, as returned by toArray() (a 0-d tensor gives a bare number). */
export type NestedArray = number | NestedArray[];

export interface ToOptions {
  device?: Device | string;
  dtype?: DType;
  nonBlocking?: boolean;
  copy?: boolean;
}

/** A Python scalar: numbers (integers act as Python ints) and booleans. */
export type Scalar = number | boolean;

/** A trailing options object (a plain object), as opposed to a positional value (a Tensor, a Generator...). */
export function isOptions(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The handle of a tensor argument, or a clear error naming the op and the argument. */
export function handleOf(v: unknown, op: string, name: string): Handle {
  if (v instanceof Tensor) return v.id;
  if (v === undefined) return argError(op, `missing argument '${name}' (a Tensor)`);
  return argError(op, `argument '${name}' must be a Tensor, got ${kindOf(v)}`);
}

export function isScalar(v: unknown): v is Scalar {
  return typeof v === 'number' || typeof v === 'boolean';
}

/** The handles of an array of tensors. */
export function handlesOf(v: unknown, op: string, name: string): Handle[] {
  if (!Array.isArray(v)) return argError(op, `argument '${name}' must be an array of Tensors, got ${kindOf(v)}`);
  // Index by index: map would walk every hole of a sparse array (2^32 - 1 of them hang).
  const out: Handle[] = [];
  for (let i = 0; i < v.length; i++) out.push(handleOf(v[i], op, `${name}[${i}]`));
  return out;
}

/**
 * Turns a call with a trailing options object into positional arguments, for the first overload (a list
 * of parameter names) that has every given name after the positional ones.
 */
export function named(op: string, overloads: string[][], args: unknown[]): unknown[] {
  let last = args.length - 1;
  while (last >= 0 && args[last] === undefined) last--;
  const options = args[last] as Record<string, unknown>;
  const positional = args.slice(0, last);
  if (!isOptions(options) || positional.some(isOptions)) {
    return argError(op, 'an options object may only be the last argument');
  }
  const keys = Object.keys(options).filter((k) => options[k] !== undefined);
  for (const params of overloads) {
    if (positional.length > params.length) continue;
    if (!keys.every((k) => params.indexOf(k) >= positional.length)) continue;
    const out = positional.concat(params.slice(positional.length).map((p) => options[p]));
    while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
    return out;
  }
  const accepted = [...new Set(overloads.flat())].join(', ');
  return argError(op, `unexpected option(s) ${keys.map((k) => `'${k}'`).join(', ')} after ${positional.length} positional argument(s); ${op} accepts ${accepted}`);
}

/** The error for arguments that fit none of an op's overloads. */
export function noOverload(op: string, alternatives: string[], args: unknown[]): never {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  const got = args.slice(0, n).map(kindOf).join(', ');
  return argError(op, `no overload takes (${got}); expected ${alternatives.join(' or ')}`);
}

const TOKEN = constructToken();

export function wrap(h: Handle): Tensor {
  return new Tensor(h, TOKEN);
}

/** Bytes per element of what dataSync() hands out (half precision widens to float32). */
const READ_SIZE: Record<DType, number> = {
  float32: 4, float16: 4, bfloat16: 4, float64: 8, complex64: 8, complex128: 16, int8: 1, int16: 2, int32: 4,
  int64: 8, uint8: 1, bool: 1,
};

/**
 * A new ArrayBuffer for native code to fill. Allocated here because a failed allocation is a RangeError in
 * JS (a TorchError below) but a fatal out-of-memory abort of the whole process when made natively.
 */
export function newBuffer(op: string, bytes: number): ArrayBuffer {
  try {
    return new ArrayBuffer(bytes);
  } catch (e) {
    throw new TorchError(`${op}(): cannot allocate ${bytes} bytes for the data (${(e as Error).message})`,
      { op, code: 'ERR_OUT_OF_MEMORY', cause: e });
  }
}

function arrayFor(dtype: DType, buffer: ArrayBuffer): TypedArray {
  switch (dtype) {
    case 'float32': case 'float16': case 'bfloat16': case 'complex64': return new Float32Array(buffer);
    case 'float64': case 'complex128': return new Float64Array(buffer);
    case 'int8': return new Int8Array(buffer);
    case 'int16': return new Int16Array(buffer);
    case 'int32': return new Int32Array(buffer);
    case 'int64': return new BigInt64Array(buffer);
    case 'uint8': case 'bool': return new Uint8Array(buffer);
  }
}

function nest(flat: ArrayLike<number | bigint>, shape: number[], complex: boolean): NestedArray {
  const build = (dim: number, offset: number): NestedArray => {
    if (dim === shape.length) {
      if (complex) return [Number(flat[offset * 2]), Number(flat[offset * 2 + 1])];
      return Number(flat[offset]);
    }
    let stride = 1;
    for (let d = dim + 1; d < shape.length; d++) stride *= shape[d];
    const out: NestedArray[] = new Array(shape[dim]);
    for (let i = 0; i < shape[dim]; i++) out[i] = build(dim + 1, offset + i * stride);
    return out;
  };
  return build(0, 0);
}

/**
 * A tensor. Created by torch.tensor, torch.zeros, ops... Owns native (CPU or GPU) memory: free it with
 * dispose(), `using`, or torch.tidy; a finalizer frees forgotten ones eventually.
 */
export class Tensor extends Owned {

  // ------------------------------------------------------------------------------------------- metadata

  get shape(): number[] {
    return N.shape(this.id);
  }
  /** t.size() is the shape; t.size(d) one dimension's length (negative d counts from the end). */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number[] | number {
    const shape = N.shape(this.id);
    if (dim === undefined) return shape;
    if (typeof dim !== 'number' || !Number.isInteger(dim)) argError('size', `dim must be an integer, got ${formatValue(dim)}`);
    const d = dim < 0 ? dim + shape.length : dim;
    if (d < 0 || d >= shape.length) {
      argError('size', `Dimension out of range (expected to be in range of [${-shape.length}, ${shape.length - 1}], but got ${dim})`);
    }
    return shape[d];
  }
  stride(): number[] {
    return N.stride(this.id);
  }
  get dtype(): DType {
    return dtypeName(N.dtype(this.id));
  }
  get device(): Device {
    return N.device(this.id) as Device;
  }
  get isCuda(): boolean {
    return N.device(this.id).startsWith('cuda');
  }
  get ndim(): number {
    return N.dim(this.id);
  }
  dim(): number {
    return N.dim(this.id);
  }
  numel(): number {
    return N.numel(this.id);
  }
  isContiguous(): boolean {
    return N.isContiguous(this.id);
  }
  get requiresGrad(): boolean {
    return N.requiresGrad(this.id);
  }
  set requiresGrad(flag: boolean) {
    N.setRequiresGrad(this.id, flag);
  }
  /** Sets requiresGrad in place and returns this tensor. */
  requiresGrad_(requiresGrad: boolean | { requiresGrad?: boolean } = true): this {
    const flag = isOptions(requiresGrad) ? requiresGrad.requiresGrad ?? true : requiresGrad;
    N.setRequiresGrad(this.id, flag);
    return this;
  }
  /** True once dispose() (or an enclosing tidy) has freed this tensor. */
  get isDisposed(): boolean {
    return this.id === -1 || !N.isLive(this.id);
  }

  // ---------------------------------------------------------------------------------------- lifetimes

  /** Frees the native memory now. Idempotent; any later use throws. */
  dispose(): void {
    release(this);
  }
  [Symbol.dispose](): void {
    release(this);
  }

  // --------------------------------------------------------------------------------------- conversion

  /**
   * Converts device and/or dtype: t.to('cuda'), t.to('float64'), t.to(other), t.to('cuda', 'float16'),
   * t.to({ device, dtype, nonBlocking, copy }). Returns a new tensor (sharing memory when nothing changes,
   * as PyTorch does, unless copy is set).
   */
  to(target: Device | DType | Tensor | ToOptions | string, dtypeOrOptions?: DType | ToOptions): Tensor {
    let device: string | undefined;
    let dtype: DType | undefined;
    let options: ToOptions = {};
    if (target instanceof Tensor) {
      device = target.device;
      dtype = target.dtype;
    } else if (isOptions(target)) {
      options = target as ToOptions;
      device = options.device;
      dtype = options.dtype;
    } else if (typeof target === 'string' && /^(cpu|cuda)/.test(target)) {
      device = target;
    } else if (typeof target === 'string') {
      dtype = target as DType;
    } else {
      argError('to', `expected a device, dtype, Tensor or options object, got ${kindOf(target)}`);
    }
    if (typeof dtypeOrOptions === 'string') dtype = dtypeOrOptions;
    else if (isOptions(dtypeOrOptions)) {
      options = { ...options, ...dtypeOrOptions };
      dtype = options.dtype ?? dtype;
    }
    return wrap(N.to(
      this.id,
      device === undefined ? undefined : checkDevice(device),
      optDtypeCode(dtype, 'to'),
      options.nonBlocking,
      options.copy,
    ));
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  cuda(device: number | Device = 'cuda'): Tensor {
    return this.to(typeof device === 'number' ? `cuda:${device}` : device);
  }
  float(): Tensor { return this.to('float32'); }
  double(): Tensor { return this.to('float64'); }
  half(): Tensor { return this.to('float16'); }
  bfloat16(): Tensor { return this.to('bfloat16'); }
  int(): Tensor { return this.to('int32'); }
  long(): Tensor { return this.to('int64'); }
  bool(): Tensor { return this.to('bool'); }

  // ---------------------------------------------------------------------------------------- read-back

  /** The value of a one-element tensor as a number (bool gives 0 or 1; int64 beyond 2^53 loses digits). */
  item(): number {
    return N.item(this.id);
  }

  /**
   * PyTorch's `t.data`: the same storage without autograd history, so `m.weight.data.normal_(0, 0.01)`
   * and `p.data.copy_(q)` change the parameter without being recorded. Assigning (`t.data = other`)
   * makes t use other's storage, shape and dtype while keeping t itself (its grad, its requiresGrad).
   * The elements as a TypedArray are `dataSync()`.
   */
  get data(): Tensor {
    return wrap(N.variableData(this.id));
  }
  set data(other: Tensor) {
    if (!(other instanceof Tensor)) argError('data', `assigned value must be a Tensor, got ${kindOf(other)}`);
    N.setData(this.id, other.id);
  }

  /**
   * A copy of the elements in row-major order: Float32Array for float32/float16/bfloat16, Float64Array,
   * Int8/16/32Array, BigInt64Array for int64, Uint8Array for uint8 and bool; complex as interleaved
   * [re, im] pairs in a Float32Array (complex64) or Float64Array (complex128).
   */
  dataSync(): TypedArray {
    const dtype = this.dtype;
    const buffer = newBuffer('Tensor.dataSync', N.numel(this.id) * READ_SIZE[dtype]);
    N.dataSync(this.id, buffer);
    return arrayFor(dtype, buffer);
  }

  /** dataSync() with the device-to-host copy done off the main thread. */
  async dataAsync(): Promise<TypedArray> {
    const dtype = this.dtype;
    const buffer = newBuffer('Tensor.dataAsync', N.numel(this.id) * READ_SIZE[dtype]);
    await N.dataAsync(this.id, buffer);
    return arrayFor(dtype, buffer);
  }

  /**
   * Nested arrays of numbers (PyTorch's tolist()); int64 as numbers; complex elements as [re, im]. A tensor
   * whose arrays would not fit in the JS heap is a TorchError (V8 would end the process): use dataSync().
   */
  toArray(): NestedArray {
    const dtype = this.dtype;
    const n = N.numel(this.id);
    const shape = N.shape(this.id);
    // A packed array of doubles takes 8 bytes a number, an array some 32 bytes (a [2^31, 0] tensor is 2^31
    // empty arrays); leave V8 half of what it has left.
    let arrays = 1;
    for (let d = 0, rows = 1; d + 1 < shape.length; d++) arrays += (rows *= shape[d]);
    if (n * 16 + arrays * 64 > getHeapStatistics().total_available_size) {
      throw new TorchError(`Tensor.toArray(): ${n} elements in ${arrays} arrays do not fit in the JS heap; use dataSync()`,
        { op: 'Tensor.toArray', code: 'ERR_OUT_OF_MEMORY' });
    }
    return nest(this.dataSync(), shape, dtype === 'complex64' || dtype === 'complex128');
  }

  override toString(): string {
    if (this.id === -1) return 'Tensor(disposed)';
    const shape = this.shape;
    const head = `Tensor(shape=[${shape.join(', ')}], dtype=${this.dtype}, device=${this.device}` +
      (this.requiresGrad ? ', requiresGrad=true' : '');
    // The values of small tensors (not of empty ones with many rows, such as a [2^31, 0] tensor).
    const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    return this.numel() <= 64 && rows <= 64 ? `${head},\n  ${JSON.stringify(this.toArray())})` : `${head})`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
  // The ops are generated from native/ops.table into ops.generated.ts.
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

/**
 * The tensors of a Tensor, an array (read element by element: a sparse array fails at its first hole, where
 * spreading it would exhaust the heap) or another iterable, with a TorchError naming `what` otherwise.
 */
export function tensorsOf(op: string, what: string, value: unknown): Tensor[] {
  if (value instanceof Tensor) return [value];
  let list: unknown[];
  if (Array.isArray(value)) list = value;
  else if (value !== null && typeof value === 'object' && Symbol.iterator in value) list = [...(value as Iterable<unknown>)];
  else throw new TorchError(`${op}(): ${what} must be a Tensor or an iterable of Tensors, got ${kindOf(value)}`, { op });
  const out: Tensor[] = [];
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (!(t instanceof Tensor)) throw new TorchError(`${op}(): ${what}[${i}] is not a Tensor (got ${kindOf(t)})`, { op });
    out.push(t);
  }
  return out;
}

/** Narrows an argument that must be a tensor, with a clear error. */
export function asTensor(v: unknown, op: string, name = 'input'): Tensor {
  if (v instanceof Tensor) return v;
  throw new TorchError(`${op}(): argument '${name}' must be a Tensor, got ${kindOf(v)}`);
}

/** Checks tensor arguments by name, `optional` ones only when given (not null): `checkTensors('kdLoss', { s, t }, { mask })`. */
export function checkTensors(op: string, required: Record<string, unknown>, optional: Record<string, unknown> = {}): void {
  for (const name of Object.keys(required)) asTensor(required[name], op, name);
  for (const name of Object.keys(optional)) if (optional[name] != null) asTensor(optional[name], op, name);
}
