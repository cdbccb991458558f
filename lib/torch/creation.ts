// Tensor creation: torch.tensor, zeros, ones, full, empty, eye, arange, linspace, rand, randn, randint,
// randperm and the *Like variants. Defaults are PyTorch's (float32, cpu; int64 for randint/randperm and
// for integer data).
import { dtypeCode, isComplex, optDevice, optDtypeCode, type Device, type DType } from './dtype';
import { argError, formatValue, kindOf, optionsArg } from './errors';
import { N } from './native';
import { isOptions, Tensor, wrap, type TypedArray } from './tensor';
import { optGenerator, type Generator } from './random';

export interface CreationOptions {
  dtype?: DType;
  device?: Device | string;
  requiresGrad?: boolean;
}

/** Options of the random creation functions: the generator to draw from (default torch.defaultGenerator). */
export interface RandomOptions extends CreationOptions {
  generator?: Generator | null;
}

export interface TensorOptions extends CreationOptions {
  /** Shape for flat data (a TypedArray or a flat array); defaults to the data's own shape. */
  shape?: number[];
}

/** Nested arrays of numbers, booleans or bigints. */
export type NestedData = number | boolean | bigint | NestedData[];

type SizeArgs<O = CreationOptions> = [number[], O?] | number[] | [...number[], O];

function checkSize(size: unknown, op: string): number[] {
  // Element by element (not some(), which skips holes): a sparse array fails at its first hole.
  let ok = Array.isArray(size);
  for (let i = 0; ok && i < (size as unknown[]).length; i++) {
    const s = (size as unknown[])[i];
    ok = Number.isInteger(s) && (s as number) >= 0;
  }
  if (!ok) argError(op, `size must be an array of non-negative integers, got ${formatValue(size)}`);
  return size as number[];
}

/** Accepts f([2, 3], opts) and f(2, 3, opts), as PyTorch accepts both forms. */
function parseSize(args: unknown[], op: string): { size: number[]; options: RandomOptions } {
  let options: RandomOptions = {};
  let rest = args;
  if (rest.length > 0 && isOptions(rest[rest.length - 1])) {
    options = rest[rest.length - 1] as CreationOptions;
    rest = rest.slice(0, -1);
  }
  const size = rest.length === 1 && Array.isArray(rest[0]) ? rest[0] : rest;
  return { size: checkSize(size, op), options };
}

function opts(o: CreationOptions | undefined, op: string) {
  return { dtype: optDtypeCode(o?.dtype, op), device: optDevice(o?.device), requiresGrad: o?.requiresGrad };
}

type Shaped = typeof N.zeros;
function shaped(native: Shaped, op: string) {
  return (...args: SizeArgs): Tensor => {
    const { size, options } = parseSize(args, op);
    const o = opts(options, op);
    return wrap(native(size, o.dtype, o.device, o.requiresGrad));
  };
}

type RandomShaped = typeof N.rand;
function randomShaped(native: RandomShaped, op: string) {
  return (...args: SizeArgs<RandomOptions>): Tensor => {
    const { size, options } = parseSize(args, op);
    const o = opts(options, op);
    return wrap(native(size, o.dtype, o.device, o.requiresGrad, optGenerator(options.generator, op)));
  };
}

export const zeros = shaped(N.zeros, 'zeros');
export const ones = shaped(N.ones, 'ones');
export const empty = shaped(N.empty, 'empty');
/** Uniform on [0, 1); `{ generator }` draws from a torch.Generator. */
export const rand = randomShaped(N.rand, 'rand');
/** Standard normal; `{ generator }` draws from a torch.Generator. */
export const randn = randomShaped(N.randn, 'randn');

/** A tensor of the given size filled with value; dtype inferred from the value as in PyTorch. */
export function full(size: number[], fillValue: number | boolean, options?: CreationOptions): Tensor {
  const o = opts(options, 'full');
  if (typeof fillValue !== 'number' && typeof fillValue !== 'boolean') {
    argError('full', `fillValue must be a number or boolean, got ${kindOf(fillValue)}`);
  }
  return wrap(N.full(checkSize(size, 'full'), fillValue, o.dtype, o.device, o.requiresGrad));
}

/** The n×m identity (m defaults to n). */
export function eye(n: number, m?: number | CreationOptions, options?: CreationOptions): Tensor {
  if (isOptions(m)) [m, options] = [undefined, m as CreationOptions];
  const o = opts(options, 'eye');
  return wrap(N.eye(n, m as number | undefined, o.dtype, o.device, o.requiresGrad));
}

/**
 * arange(end), arange(start, end), arange(start, end, step), each with trailing options. int64 when all
 * of start, end and step are integers (as for Python ints), else float32.
 */
export function arange(...args: (number | CreationOptions)[]): Tensor {
  const options = isOptions(args[args.length - 1]) ? (args.pop() as CreationOptions) : undefined;
  const nums = args as number[];
  if (nums.length < 1 || nums.length > 3 || nums.some((x) => typeof x !== 'number')) {
    argError('arange', 'expected arange(end), arange(start, end) or arange(start, end, step) with numbers');
  }
  const [start, end, step] = nums.length === 1 ? [0, nums[0], 1] : [nums[0], nums[1], nums[2] ?? 1];
  const o = opts(options, 'arange');
  return wrap(N.arange(start, end, step, o.dtype, o.device, o.requiresGrad));
}

/** steps evenly spaced values from start to end inclusive (float32 by default). */
export function linspace(start: number, end: number, steps: number, options?: CreationOptions): Tensor {
  const o = opts(options, 'linspace');
  return wrap(N.linspace(start, end, steps, o.dtype, o.device, o.requiresGrad));
}

/**
 * Integers uniform on [low, high): randint(high, size) or randint(low, high, size); int64 by default.
 * Bounds are numbers or BigInts (the whole int64 range, e.g. randint(-(2n ** 63n), 2n ** 63n - 1n, [4])).
 */
export function randint(...args: (number | bigint | number[] | RandomOptions)[]): Tensor {
  const options = isOptions(args[args.length - 1]) ? (args.pop() as RandomOptions) : undefined;
  let low: number | bigint = 0;
  let high: number | bigint;
  let size: unknown;
  if (args.length === 2) [high, size] = args as [number, number[]];
  else if (args.length === 3) [low, high, size] = args as [number, number, number[]];
  else return argError('randint', 'expected randint(high, size) or randint(low, high, size)');
  for (const [name, v] of [['low', low], ['high', high]] as const) {
    if (typeof v !== 'bigint' && !Number.isSafeInteger(v)) {
      argError('randint', `${name} must be an integer (a safe integer or a BigInt), got ${typeof v === 'number' ? v : kindOf(v)}`);
    }
  }
  const o = opts(options, 'randint');
  return wrap(N.randint(low, high, checkSize(size, 'randint'), o.dtype, o.device, o.requiresGrad,
    optGenerator(options?.generator, 'randint')));
}

/** A random permutation of 0..n-1 (int64 by default); `{ generator }` draws from a torch.Generator. */
export function randperm(n: number, options?: RandomOptions): Tensor {
  const o = opts(options, 'randperm');
  return wrap(N.randperm(n, o.dtype, o.device, o.requiresGrad, optGenerator(options?.generator, 'randperm')));
}

// --------------------------------------------------------------------------------------- *Like variants

function likeOptions(t: Tensor, options: CreationOptions | undefined, op: string): CreationOptions {
  if (!(t instanceof Tensor)) argError(op, `argument 'input' must be a Tensor, got ${kindOf(t)}`);
  if (options !== undefined && (options === null || typeof options !== 'object')) argError(op, `options must be an object, got ${kindOf(options)}`);
  return { dtype: options?.dtype ?? t.dtype, device: options?.device ?? t.device, requiresGrad: options?.requiresGrad };
}

function like(make: (size: number[], options: CreationOptions) => Tensor, op: string) {
  return (t: Tensor, options?: CreationOptions): Tensor => {
    const o = likeOptions(t, options, op);
    return make(t.shape, o);
  };
}
export const zerosLike = like(zeros, 'zerosLike');
export const onesLike = like(ones, 'onesLike');
export const emptyLike = like(empty, 'emptyLike');
export const randLike = like(rand, 'randLike');
export const randnLike = like(randn, 'randnLike');
export function fullLike(t: Tensor, fillValue: number | boolean, options?: CreationOptions): Tensor {
  const o = likeOptions(t, options, 'fullLike');
  return full(t.shape, fillValue, o);
}
/** randintLike(t, high) or randintLike(t, low, high), with t's dtype unless given. */
export function randintLike(t: Tensor, ...args: (number | CreationOptions)[]): Tensor {
  const options = isOptions(args[args.length - 1]) ? (args.pop() as CreationOptions) : undefined;
  const [low, high] = args.length === 1 ? [0, args[0] as number] : (args as number[]);
  const o = likeOptions(t, options, 'randintLike');
  return randint(low, high, t.shape, o);
}

// --------------------------------------------------------------------------------------------- tensor()

const TYPED_DTYPES: [new (...a: never[]) => TypedArray, DType][] = [
  [Float32Array, 'float32'], [Float64Array, 'float64'], [Int8Array, 'int8'], [Int16Array, 'int16'],
  [Int32Array, 'int32'], [BigInt64Array, 'int64'], [Uint8Array, 'uint8'],
];

function typedArrayDtype(data: ArrayBufferView): DType {
  for (const [ctor, dtype] of TYPED_DTYPES) if (data instanceof ctor) return dtype;
  return argError('tensor', `unsupported TypedArray ${kindOf(data)} (use Float32/Float64/Int8/Int16/Int32/BigInt64/Uint8Array)`);
}

/** PyTorch's limit on the nesting of torch.tensor data (torch/csrc/utils/tensor_new.cpp, MAX_DIMS). */
const MAX_DIMS = 128;

/** Flattens nested arrays, checking they are rectangular; infers the dtype as PyTorch does for lists. */
function flatten(data: NestedData): { flat: (number | boolean | bigint)[]; shape: number[] } {
  const shape: number[] = [];
  for (let d: NestedData = data; Array.isArray(d); d = d[0]) {
    if (shape.length === MAX_DIMS) argError('tensor', `too many dimensions: data nests deeper than ${MAX_DIMS} arrays`);
    shape.push(d.length);
    if (d.length === 0) break;
  }
  const flat: (number | boolean | bigint)[] = [];
  const walk = (v: NestedData, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(v)) argError('tensor', `expected a number at dim ${dim}, got a sequence`);
      const t = typeof v;
      if (t !== 'number' && t !== 'boolean' && t !== 'bigint') argError('tensor', `could not infer dtype of ${kindOf(v)}`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v)) return argError('tensor', `expected sequence of length ${shape[dim]} at dim ${dim} (got ${kindOf(v)})`);
    if (v.length !== shape[dim]) argError('tensor', `expected sequence of length ${shape[dim]} at dim ${dim} (got ${v.length})`);
    for (let i = 0; i < v.length; i++) walk(v[i], dim + 1);
  };
  walk(data, 0);
  return { flat, shape };
}

function inferDtype(flat: (number | boolean | bigint)[]): DType {
  let sawBool = false;
  let sawInt = false;
  for (const v of flat) {
    if (typeof v === 'boolean') sawBool = true;
    else if (typeof v === 'bigint' || Number.isInteger(v)) sawInt = true;
    else return 'float32';
  }
  return sawInt || !sawBool ? (flat.length === 0 ? 'float32' : 'int64') : 'bool';
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The flat elements as the TypedArray handed to the native layer: BigInt64Array when every element is an
 * integer and one is a bigint (int64 beyond 2^53 stays exact), else Float64Array (bigints then convert to
 * numbers, as Python ints do in a list with floats). A bigint outside int64 is PyTorch's overflow error.
 */
function flatArray(flat: (number | boolean | bigint)[]): { array: Float64Array | BigInt64Array; srcDtype: DType } {
  let bigints = false;
  let integral = true;
  for (const v of flat) {
    if (typeof v === 'bigint') {
      if (v < INT64_MIN || v > INT64_MAX) argError('tensor', `Overflow when unpacking long long: ${v}n does not fit in int64`);
      bigints = true;
    } else if (typeof v === 'number' && !Number.isInteger(v)) integral = false;
  }
  if (bigints && integral) return { array: BigInt64Array.from(flat, (v) => BigInt(v)), srcDtype: 'int64' };
  return { array: Float64Array.from(flat, Number), srcDtype: 'float64' };
}

/**
 * A tensor from data: nested arrays (dtype inferred as PyTorch does for Python lists: all integers → int64,
 * any fraction → float32, all booleans → bool; JS cannot tell 1.0 from 1, so pass dtype when it matters),
 * a TypedArray (its own dtype, 1-D unless `shape` is given; a Float32Array/Float64Array with dtype
 * complex64/complex128 holds interleaved [re, im] pairs), a number or boolean (0-d), or a Tensor (copied).
 */
export function tensor(data: NestedData | TypedArray | Tensor, opts?: TensorOptions): Tensor {
  const options = optionsArg('tensor', opts);
  const device = optDevice(options.device);
  if (data instanceof Tensor) {
    const t = wrap(N.to(data.id, device ?? data.device, optDtypeCode(options.dtype, 'tensor'), false, true));
    if (options.requiresGrad) t.requiresGrad_(true);
    return t;
  }
  let array: ArrayBufferView;
  let srcDtype: DType;
  let shape: number[];
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    array = data;
    srcDtype = typedArrayDtype(data);
    dtype = options.dtype ?? srcDtype;
    if (isComplex(dtype) && (srcDtype === 'float32' || srcDtype === 'float64')) {
      srcDtype = srcDtype === 'float32' ? 'complex64' : 'complex128';
    }
    const count = isComplex(srcDtype) ? (data as Float32Array).length / 2 : (data as Float32Array).length;
    shape = options.shape ?? [count];
  } else {
    const { flat, shape: inferred } = flatten(data);
    dtype = options.dtype ?? inferDtype(flat);
    shape = options.shape ?? inferred;
    ({ array, srcDtype } = flatArray(flat));
  }
  if (options.shape !== undefined) checkSize(options.shape, 'tensor');
  return wrap(N.fromTypedArray(array, shape, dtypeCode(srcDtype), dtypeCode(dtype, 'tensor'), device, options.requiresGrad));
}
