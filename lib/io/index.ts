/**
 * io: reading and writing tensors and models.
 *
 * - safetensors (`saveSafetensors` / `loadSafetensors`): the Hugging Face format, a JSON header plus raw
 *   little-endian bytes. **Safe to load from untrusted sources**: loading only parses JSON and copies
 *   bytes; every header field is checked against the file before anything is allocated.
 * - PyTorch state_dict files (`saveStateDict` / `loadStateDict`): torch.save's zip format, read and written
 *   with libtorch's pickle support, so files round-trip with Python's torch.save / torch.load.
 * - TorchScript modules (`loadTorchScript`): files written by `torch.jit.save`, e.g. a teacher network
 *   scripted in Python, run here with autograd.
 *
 * **Security.** As in PyTorch, `.pt` / `.pth` files are pickles and TorchScript files contain code: never
 * load either from an untrusted source (a crafted file can run arbitrary code or corrupt memory). Prefer
 * safetensors for weights you did not produce yourself.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { endianness, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { checkDevice, dtypeCode, type Device, type DType } from '../torch/dtype';
import { formatValue, optionsArg, TorchError } from '../torch/errors';
import { checkPath } from './paths';
import { N, type Handle } from '../torch/native';
import { newBuffer, Tensor, wrap } from '../torch/tensor';
import { pickleTorchValue, PickleTuple, writeZip, type Picklable } from './pickle';

export { PickleTuple as Tuple, type Picklable };
import { checkZipCrcs, PDict, PTensor, readFully, readZip, unpickle } from './torchfile';

/** The native functions of native/io.cc. */
interface IoNative {
  rawBytes(h: Handle, buffer: ArrayBuffer): void;
  asStrided(h: Handle, size: number[], stride: number[], offset: number): Handle;
  jitLoad(path: string, device: string | null): number;
  jitDispose(m: number): boolean;
  jitForward(m: number, inputs: Handle[]): unknown;
  jitNamedTensors(m: number, kind: 0 | 1, recurse: boolean): [string, Handle][];
  jitTrain(m: number, mode: boolean): void;
  jitIsTraining(m: number): boolean;
  jitTo(m: number, device: string): void;
}
const IO = N as unknown as IoNative;

function ioError(op: string, message: string): never {
  throw new TorchError(`${op}(): ${message}`, { op, code: 'ERR_IO' });
}

/** A tensor's elements in its own dtype, row-major, as bytes. */
function tensorBytes(op: string, t: Tensor): Uint8Array {
  const buffer = newBuffer(op, t.numel() * ITEM_SIZE[t.dtype]);
  IO.rawBytes(t.id, buffer);
  return new Uint8Array(buffer);
}

/** obj[key] = value as an own property, whatever the key (a tensor named "__proto__" included). */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

function checkLittleEndian(op: string): void {
  if (endianness() !== 'LE') ioError(op, 'only little-endian hosts are supported');
}

/** Writes a file through a temporary file in the same directory and a rename, so readers never see half. */
function writeAtomic(op: string, path: string, write: (fd: number) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    return ioError(op, `cannot write ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  try {
    write(fd);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* not created */ }
    if (e instanceof TorchError) throw e;
    return ioError(op, `cannot write ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
}

/**
 * Removes the temporary files that writes of `path` left behind when their process died mid-write (killed,
 * out of power): those named by writeAtomic for a process id that no longer runs. Returns their names.
 */
export function removeStaleTemps(path: string): string[] {
  checkPath('io.removeStaleTemps', path);
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || processRuns(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch { /* removed meanwhile */ }
  }
  return removed;
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

// ------------------------------------------------------------------------------------------- safetensors

/** safetensors dtype codes and the dtypes they map to. */
const ST_DTYPES: Record<string, { dtype: DType; size: number }> = {
  F64: { dtype: 'float64', size: 8 }, F32: { dtype: 'float32', size: 4 }, F16: { dtype: 'float16', size: 2 },
  BF16: { dtype: 'bfloat16', size: 2 }, I64: { dtype: 'int64', size: 8 }, I32: { dtype: 'int32', size: 4 },
  I16: { dtype: 'int16', size: 2 }, I8: { dtype: 'int8', size: 1 }, U8: { dtype: 'uint8', size: 1 },
  BOOL: { dtype: 'bool', size: 1 },
};
const ST_CODE: Partial<Record<DType, string>> = Object.fromEntries(
  Object.entries(ST_DTYPES).map(([code, { dtype }]) => [dtype, code]));

const EMPTY = Buffer.alloc(0);

/** The reference implementation refuses headers above 100 MB. */
const MAX_HEADER = 100_000_000;

export interface SaveSafetensorsOptions {
  /** Free-form string metadata, stored under `__metadata__`. */
  metadata?: Record<string, string>;
}

export interface LoadSafetensorsOptions {
  /** Where to create the tensors (default 'cpu'). */
  device?: Device | string;
}

/** What loadSafetensors returns: the tensors, in file order, and the `__metadata__` map (empty if none). */
export interface Safetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * Writes tensors in the safetensors format: an 8-byte little-endian header length, a JSON header (padded
 * with spaces to a multiple of 8 bytes) giving each tensor's dtype, shape and data_offsets, then the
 * tensors' bytes, contiguous and little-endian. As the reference implementation, tensors are laid out
 * by decreasing element size then name, so each one is aligned to its element size. Complex tensors are
 * refused (the format has no complex dtype). The file is written atomically (temporary file + rename).
 */
export function saveSafetensors(path: string, tensors: Record<string, Tensor>,
  options: SaveSafetensorsOptions = {}): void {
  const op = 'io.saveSafetensors';
  checkPath(op, path);
  checkLittleEndian(op);
  if (tensors === null || typeof tensors !== 'object') ioError(op, 'tensors must be a Record<string, Tensor>');
  const entries = Object.entries(tensors).map(([name, t]) => {
    if (!(t instanceof Tensor)) ioError(op, `tensors[${JSON.stringify(name)}] is not a Tensor`);
    if (name === '__metadata__') ioError(op, "'__metadata__' is reserved and cannot name a tensor");
    const code = ST_CODE[t.dtype];
    if (code === undefined) ioError(op, `tensor ${JSON.stringify(name)} has dtype ${t.dtype}, which safetensors cannot store`);
    return { name, t, code, size: ST_DTYPES[code].size };
  });
  entries.sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== 'string') ioError(op, `metadata[${JSON.stringify(k)}] must be a string, got ${typeof v}`);
    }
    header.__metadata__ = options.metadata;
  }
  let offset = 0;
  const bytes: Uint8Array[] = [];
  for (const { name, t, code } of entries) {
    const data = tensorBytes(op, t);
    header[name] = { dtype: code, shape: t.shape, data_offsets: [offset, offset + data.length] };
    offset += data.length;
    bytes.push(data);
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeAtomic(op, path, (fd) => {
    writeAll(fd, prefix);
    writeAll(fd, json);
    for (const b of bytes) writeAll(fd, b);
  });
}

interface Entry { name: string; dtype: DType; size: number; shape: number[]; begin: number; end: number }

/** Validates a parsed header against the data section's length; entries come back sorted by offset. */
function parseHeader(op: string, header: unknown, dataLength: number): { entries: Entry[]; metadata: Record<string, string> } {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) ioError(op, 'the header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) ioError(op, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') ioError(op, `__metadata__[${JSON.stringify(k)}] is not a string`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (info === null || typeof info !== 'object' || Array.isArray(info)) ioError(op, `${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== 'string') ioError(op, `${where}: dtype is missing`);
    const known = Object.prototype.hasOwnProperty.call(ST_DTYPES, dtype) ? ST_DTYPES[dtype] : undefined;
    if (known === undefined) ioError(op, `${where}: unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      ioError(op, `${where}: shape must be an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      ioError(op, `${where}: data_offsets must be [begin, end] with non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) ioError(op, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) ioError(op, `${where}: data_offsets [${begin}, ${end}] lie beyond the data (${dataLength} bytes)`);
    let numel = 1;
    for (const s of shape as number[]) numel *= s;
    if (numel * known.size !== end - begin) {
      ioError(op, `${where}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${numel * known.size} bytes, but data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype: known.dtype, size: known.size, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      ioError(op, `tensor ${JSON.stringify(e.name)}: data_offsets begin at ${e.begin}, expected ${expected} (tensors overlap or leave a gap)`);
    }
    expected = e.end;
  }
  if (expected !== dataLength) ioError(op, `the tensors cover ${expected} bytes of a ${dataLength}-byte data section`);
  return { entries, metadata };
}

/**
 * Reads a safetensors file. The header is validated against the file's size before any tensor memory is
 * allocated (truncated files, offsets out of range, overlaps and gaps, unknown dtypes and byte counts that
 * do not match the shape are TorchErrors). Each tensor's bytes are read from the file once and copied once
 * into the tensor. The file is deliberately not memory-mapped: a mapped file that another writer
 * truncates in place raises SIGBUS on the next access and kills the process.
 */
export function loadSafetensors(path: string, options: LoadSafetensorsOptions = {}): Safetensors {
  const op = 'io.loadSafetensors';
  checkPath(op, path);
  checkLittleEndian(op);
  const device = options.device === undefined ? 'cpu' : checkDevice(options.device);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return ioError(op, `cannot open ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  const created: Tensor[] = [];
  try {
    const fileSize = fstatSync(fd).size;
    const readAt = (position: number, length: number): Buffer => readFully(fd, path, position, length, (m) => ioError(op, m));
    if (fileSize < 8) ioError(op, `${JSON.stringify(path)} is too short (${fileSize} bytes) to be a safetensors file`);
    const n = readAt(0, 8).readBigUInt64LE(0);
    if (n > BigInt(fileSize - 8)) ioError(op, `header length ${n} exceeds the file (${fileSize} bytes): truncated or not a safetensors file`);
    if (n > BigInt(MAX_HEADER)) ioError(op, `header length ${n} exceeds the 100 MB limit`);
    const headerLength = Number(n);
    let header: unknown;
    try {
      header = JSON.parse(readAt(8, headerLength).toString('utf8'));
    } catch (e) {
      return ioError(op, `the header is not valid JSON (${(e as Error).message})`);
    }
    const dataStart = 8 + headerLength;
    const { entries, metadata } = parseHeader(op, header, fileSize - dataStart);
    const tensors: Record<string, Tensor> = {};
    for (const e of entries) {
      const bytes = e.end > e.begin ? readAt(dataStart + e.begin, e.end - e.begin) : EMPTY;
      if (e.dtype === 'bool' && bytes.some((b) => b > 1)) ioError(op, `tensor ${JSON.stringify(e.name)}: BOOL bytes must be 0 or 1`);
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      const t = wrap(N.fromTypedArray(view, e.shape, dtypeCode(e.dtype), dtypeCode(e.dtype), device, false));
      created.push(t);
      setOwn(tensors, e.name, t);
    }
    return { tensors, metadata };
  } catch (e) {
    for (const t of created) t.dispose();
    throw e;
  } finally {
    closeSync(fd);
  }
}

// --------------------------------------------------------------------------------- PyTorch state_dicts

export interface LoadStateDictOptions {
  /** Where to put the tensors (default: where they were saved, which must exist here). */
  device?: Device | string;
}

/**
 * Reads a state_dict written by Python's `torch.save(model.state_dict(), path)` (the zip format of
 * PyTorch >= 1.6): a dict of tensors, which loads directly into `nn.Module.loadStateDict`. Read by the
 * restricted unpickler of io.load (torch.load with weights_only=True).
 */
export function loadStateDict(path: string, opts?: LoadStateDictOptions): Record<string, Tensor> {
  const op = 'io.loadStateDict';
  const options = optionsArg(op, opts);
  const value = readTorchFile(op, path, options.device);
  const fail = (message: string): never => {
    torchDispose(value as ScriptValue);
    return ioError(op, message);
  };
  if (value === null || typeof value !== 'object' || value instanceof Tensor || Array.isArray(value) || value instanceof Map) {
    return fail('the file does not hold a dict (a state_dict)');
  }
  for (const [name, t] of Object.entries(value)) {
    if (!(t instanceof Tensor)) fail(`state_dict entry ${JSON.stringify(name)} is not a tensor`);
  }
  return value as Record<string, Tensor>;
}

/** What io.load returns: Python's values as JS values (see load). */
export type Loaded = Tensor | number | bigint | string | boolean | null | Loaded[] | Map<unknown, Loaded> | { [key: string]: Loaded };

export interface LoadOptions {
  /** Where to put the tensors (PyTorch's map_location as a device; default: where they were saved). */
  mapLocation?: Device | string;
  /** Only true: torchkd always loads with a restricted unpickler (PyTorch's default since 2.6). */
  weightsOnly?: true;
}

/**
 * torch.load(f): reads a torch.save file (the zip format of PyTorch >= 1.6) of nested dicts, lists,
 * tuples, tensors (views sharing a storage stay views of one storage), numbers, strings, booleans and None,
 * e.g. `{ model_state_dict, optimizer_state_dict, epoch }`. dicts become plain objects (a Map when some key
 * is not a string, as in an optimizer's `state`), lists and tuples arrays, None null, integers beyond 2^53
 * BigInts. The unpickler only knows those types and refuses any other global, as
 * `torch.load(weights_only=True)` does: no code in the file runs. Dispose the tensors (torch.dispose(value)).
 */
export function load(path: string, options: LoadOptions = {}): Loaded {
  if (options === null || typeof options !== 'object') throw new TorchError(`io.load(): options must be an object, got ${formatValue(options)}`, { op: 'io.load' });
  if (options.weightsOnly !== undefined && options.weightsOnly !== true) {
    ioError('io.load', 'weightsOnly: false is not available: torchkd never runs the code a pickle may hold');
  }
  return readTorchFile('io.load', path, options.mapLocation) as Loaded;
}

function readTorchFile(op: string, path: string, device: Device | string | undefined): unknown {
  checkPath(op, path);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    return ioError(op, `cannot read ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  const dev = device === undefined ? undefined : checkDevice(device);
  try {
    return readTorchSave(op, buf, dev);
  } catch (e) {
    // Reads past the end of a corrupt archive surface as RangeErrors from Buffer.
    if (e instanceof TorchError) throw e;
    return ioError(op, `${JSON.stringify(path)} is corrupt or truncated (${(e as Error).message})`);
  }
}

function readTorchSave(op: string, buf: Buffer, device: Device | undefined): unknown {
  const zip = readZip(buf);
  const order = [...zip.keys()].find((k) => k === 'byteorder' || k.endsWith('/byteorder'));
  if (order !== undefined) {
    const [bs, be] = zip.get(order) as [number, number];
    if (buf.toString('latin1', bs, be) !== 'little') ioError(op, 'big-endian torch.save files are not supported');
  }
  const pkl = [...zip.keys()].find((k) => k === 'data.pkl' || k.endsWith('/data.pkl'));
  if (pkl === undefined) ioError(op, 'the archive has no data.pkl (not a torch.save file?)');
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const [ps, pe] = zip.get(pkl) as [number, number];
  const root = unpickle(buf.subarray(ps, pe));
  const storages = new Map<string, Tensor>();
  const made: Tensor[] = [];
  const converted = new Map<unknown, unknown>();
  const toTensor = (value: PTensor): Tensor => {
    const s = value.storage;
    let base = storages.get(s.key);
    if (base === undefined) {
      const range = zip.get(`${prefix}data/${s.key}`);
      const itemSize = ITEM_SIZE[s.dtype];
      if (range === undefined) ioError(op, `storage ${s.key} is missing from the archive`);
      if (range[1] - range[0] < s.numel * itemSize) ioError(op, `storage ${s.key} is shorter than its ${s.numel} elements`);
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset + range[0], s.numel * itemSize);
      if (s.dtype === 'bool') {
        const bad = bytes.findIndex((b) => b > 1);
        if (bad >= 0) ioError(op, `storage ${s.key}: bool element ${bad} is byte ${bytes[bad]}; bool bytes must be 0 or 1`);
      }
      const code = dtypeCode(s.dtype);
      base = wrap(N.fromTypedArray(bytes, [s.numel], code, code, device ?? savedDevice(op, s.key, s.location), false));
      storages.set(s.key, base);
    }
    checkView(op, value);
    const t = wrap(IO.asStrided(base.id, value.size, value.stride, value.offset));
    made.push(t);
    if (value.requiresGrad) t.requiresGrad_(true);
    return t;
  };
  // Shared pickle objects (memo references) stay shared; a structure referring to itself is refused.
  const visiting = new Set<unknown>();
  const convert = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (converted.has(v)) return converted.get(v);
    if (visiting.has(v)) ioError(op, 'the pickle holds a structure that contains itself');
    visiting.add(v);
    let out: unknown;
    if (v instanceof PTensor) out = toTensor(v);
    else if (Array.isArray(v)) out = v.map(convert);
    else if (v instanceof PDict) {
      const entries = [...v.map].map(([k, x]) => [convert(k), convert(x)] as const);
      out = entries.every(([k]) => typeof k === 'string') ? Object.fromEntries(entries) : new Map(entries);
    } else ioError(op, `the pickle holds a ${v.constructor?.name ?? 'value'} outside a tensor`);
    visiting.delete(v);
    converted.set(v, out);
    return out;
  };
  try {
    return convert(root);
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  } finally {
    for (const t of storages.values()) t.dispose();
  }
}

/** Where a storage was saved, when loading it there: 'cpu', 'cuda' or 'cuda:N' (not 'meta', 'cpu:1', ...). */
function savedDevice(op: string, key: string, location: string): Device {
  try {
    return checkDevice(location);
  } catch {
    return ioError(op, `storage ${key} has the location ${formatValue(location)}; expected 'cpu', 'cuda' or 'cuda:N' (pass { device } to load elsewhere)`);
  }
}

/**
 * Refuses a view that claims more elements than its storage holds bytes for and more than this machine has
 * memory for (a zero-stride view of 2^40 elements over 64 bytes, say): nothing could ever compute on it.
 * Expanded tensors within those limits (stride 0 over a small storage) load as they were saved.
 */
function checkView(op: string, t: PTensor): void {
  const numel = t.size.reduce((a, b) => a * b, 1);
  const bytes = numel * ITEM_SIZE[t.storage.dtype];
  if (numel > t.storage.numel && bytes > totalmem()) {
    ioError(op, `a tensor is a view of ${numel} elements (${bytes} bytes) over a storage of ${t.storage.numel}; that is more than this machine's memory`);
  }
}

const ITEM_SIZE: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
  complex64: 8, complex128: 16,
};

/**
 * Writes a state_dict (e.g. `model.stateDict()`) in torch.save's zip format, so Python's `torch.load`
 * reads it as a dict of tensors, with `weights_only=True` (PyTorch's default since 2.6) too. Written
 * atomically (temporary file + rename).
 */
export function saveStateDict(path: string, stateDict: Record<string, Tensor>): void {
  const op = 'io.saveStateDict';
  checkPath(op, path);
  if (stateDict === null || typeof stateDict !== 'object') ioError(op, 'stateDict must be a Record<string, Tensor>');
  for (const [name, t] of Object.entries(stateDict)) {
    if (!(t instanceof Tensor)) ioError(op, `stateDict[${JSON.stringify(name)}] is not a Tensor`);
  }
  writeTorchSave(op, path, stateDict);
}

/**
 * torch.save(obj, f): writes tensors, numbers (integers as Python ints, others as floats), bigints,
 * strings, booleans, null (None), arrays (lists), `io.Tuple`s, plain objects and Maps (dicts) in
 * torch.save's zip format, atomically; Python's `torch.load(f, weights_only=True)` reads it.
 */
export function save(obj: Picklable, path: string): void {
  checkPath('io.save', path);
  writeTorchSave('io.save', path, obj);
}

/** Writes `value` as torch.save does (see lib/io/pickle.ts), atomically. */
function writeTorchSave(op: string, path: string, value: Picklable): void {
  const { pickle, storages } = pickleTorchValue(op, value);
  writeAtomic(op, path, (fd) => {
    // One storage at a time, so that only one tensor's bytes are copied out of libtorch at once.
    const entries = [
      { name: 'archive/data.pkl', data: pickle },
      { name: 'archive/byteorder', data: Buffer.from(endianness() === 'LE' ? 'little' : 'big') },
      ...storages.map((t, k) => ({
        name: `archive/data/${k}`,
        get data() { return tensorBytes(op, t); },
      })),
      { name: 'archive/version', data: Buffer.from('3\n') },
    ];
    writeZip(fd, entries);
  });
}

// --------------------------------------------------------------------------------------- TorchScript

/** What a TorchScript forward may return: tensors, numbers, tuples/lists (arrays) and string-keyed dicts. */
export type ScriptValue = Tensor | number | boolean | string | null | ScriptValue[] | { [key: string]: ScriptValue };

function fromNative(v: unknown): ScriptValue {
  if (typeof v === 'number') return wrap(v);
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(fromNative);
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1 && keys[0] === '__scalar__' && typeof obj.__scalar__ === 'number') return obj.__scalar__;
  const out: { [key: string]: ScriptValue } = {};
  for (const k of keys) setOwn(out, k, fromNative(obj[k]));
  return out;
}

const finalizer = new FinalizationRegistry<number>((id) => {
  try { IO.jitDispose(id); } catch { /* environment shutting down */ }
});

const MADE_BY_LOADER: unique symbol = Symbol('io.loadTorchScript');

/**
 * A TorchScript module loaded by `io.loadTorchScript`. Autograd flows through forward(): gradients reach
 * inputs that require grad and the module's parameters.
 */
export class ScriptModule {
  private handle: number;

  /** @internal made by io.loadTorchScript */
  constructor(id: number, made?: typeof MADE_BY_LOADER) {
    if (made !== MADE_BY_LOADER) throw new TorchError('ScriptModule: modules are made by io.loadTorchScript, not constructed');
    this.handle = id;
    finalizer.register(this, id, this);
  }

  private get id(): number {
    if (this.handle < 0) throw new TorchError('ScriptModule: the module was disposed');
    return this.handle;
  }

  /** Runs the module's forward on tensor inputs; returns its result (a Tensor, an array, an object...). */
  forward(...inputs: Tensor[]): ScriptValue {
    for (const [i, t] of inputs.entries()) {
      if (!(t instanceof Tensor)) ioError('ScriptModule.forward', `input ${i} is not a Tensor`);
    }
    return fromNative(IO.jitForward(this.id, inputs.map((t) => t.id)));
  }

  /** forward() for modules that return one tensor: anything else is a TorchError. */
  forwardTensor(...inputs: Tensor[]): Tensor {
    const out = this.forward(...inputs);
    if (!(out instanceof Tensor)) {
      torchDispose(out);
      return ioError('ScriptModule.forwardTensor', 'forward() did not return a single Tensor');
    }
    return out;
  }

  /** [name, parameter] pairs with PyTorch's dotted names; the tensors alias the module's parameters. */
  namedParameters(options: { recurse?: boolean } = {}): [string, Tensor][] {
    return IO.jitNamedTensors(this.id, 0, options.recurse ?? true).map(([n, h]) => [n, wrap(h)]);
  }
  parameters(options: { recurse?: boolean } = {}): Tensor[] {
    return this.namedParameters(options).map(([, p]) => p);
  }
  namedBuffers(options: { recurse?: boolean } = {}): [string, Tensor][] {
    return IO.jitNamedTensors(this.id, 1, options.recurse ?? true).map(([n, h]) => [n, wrap(h)]);
  }
  /** Parameters and buffers by name, as PyTorch's state_dict(). */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  get training(): boolean {
    return IO.jitIsTraining(this.id);
  }
  train(mode = true): this {
    IO.jitTrain(this.id, mode);
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Moves parameters and buffers in place (as nn.Module.to) and returns this module. */
  to(device: Device | string): this {
    IO.jitTo(this.id, checkDevice(device));
    return this;
  }

  /** Frees the native module now. Idempotent; any later use throws. */
  dispose(): void {
    if (this.handle < 0) return;
    IO.jitDispose(this.handle);
    finalizer.unregister(this);
    this.handle = -1;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function torchDispose(v: ScriptValue): void {
  if (v instanceof Tensor) v.dispose();
  else if (Array.isArray(v)) v.forEach(torchDispose);
  else if (v !== null && typeof v === 'object') Object.values(v).forEach(torchDispose);
}

export interface LoadTorchScriptOptions {
  /** Where to load the parameters (default: where they were saved). */
  device?: Device | string;
}

/**
 * Loads a TorchScript module saved by `torch.jit.save` (e.g. `torch.jit.script(teacher)`). Every entry of
 * the archive is first checked against its CRC-32, so a damaged file (bit flips, truncation) is a
 * TorchError: libtorch does not check them, and some damaged files crash its parser. **Unsafe for
 * untrusted files** all the same: a TorchScript file is a program, and a deliberately crafted one (with
 * matching checksums) can still crash or misuse libtorch.
 */
export function loadTorchScript(path: string, options: LoadTorchScriptOptions = {}): ScriptModule {
  const op = 'io.loadTorchScript';
  checkPath(op, path);
  const device = options.device === undefined ? null : checkDevice(options.device);
  checkZipCrcs(path, (message) => ioError(op, `${JSON.stringify(path)}: ${message}`));
  return new ScriptModule(IO.jitLoad(path, device), MADE_BY_LOADER);
}
