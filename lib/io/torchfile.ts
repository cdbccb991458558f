// Reading torch.save's zip format in TypeScript: a zip reader (stored entries, zip64) and a restricted
// unpickler that knows only the globals a state_dict needs (OrderedDict, tensor rebuilding, storage
// types). Any other global is refused, so no code from the file ever runs. (libtorch 1.13's
// torch::pickle_load turns collections.OrderedDict into None, so it cannot read a saved state_dict.)
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';
import { TorchError } from '../torch/errors';
import type { DType } from '../torch/dtype';

export function fileError(message: string): never {
  throw new TorchError(`io.loadStateDict(): ${message}`, { op: 'io.loadStateDict', code: 'ERR_IO' });
}

// ------------------------------------------------------------------------------------------------- zip

/** A zip entry as the central directory describes it, with where its data starts. */
export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's data (after its local header). */
  start: number;
}

/**
 * The entries of a zip archive of `length` bytes, read through `read(position, length)` (which must
 * return exactly that many bytes); zip64 included. fail(message) reports a malformed archive.
 */
export function zipEntries(length: number, read: (position: number, length: number) => Buffer,
  fail: (message: string) => never): ZipEntry[] {
  const tailStart = Math.max(0, length - 22 - 65535);
  const tail = read(tailStart, length - tailStart);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) fail('not a zip archive');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  // zip64: the locator sits just before the end-of-central-directory record.
  if (eocd >= 20 && tail.readUInt32LE(eocd - 20) === 0x07064b50) {
    const rec = Number(tail.readBigUInt64LE(eocd - 12));
    if (!(rec >= 0 && rec + 56 <= length)) fail('corrupt zip64 directory');
    const r = read(rec, 56);
    if (r.readUInt32LE(0) !== 0x06064b50) fail('corrupt zip64 directory');
    count = Number(r.readBigUInt64LE(32));
    cdSize = Number(r.readBigUInt64LE(40));
    cdOffset = Number(r.readBigUInt64LE(48));
  }
  if (!(cdOffset >= 0 && cdSize >= 0 && cdOffset + cdSize <= length) || count > cdSize / 46) fail('corrupt zip central directory');
  const cd = read(cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) fail('corrupt zip central directory');
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28), extraLen = cd.readUInt16LE(p + 30), commentLen = cd.readUInt16LE(p + 32);
    let local = cd.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) fail('corrupt zip central directory');
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    // zip64 extra field: the 64-bit values of the fields that are 0xFFFFFFFF, in order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e), len = cd.readUInt16LE(e + 2);
      if (id === 1) {
        let q = e + 4;
        const next = (): number => {
          if (q + 8 > e + 4 + len) fail(`corrupt zip64 field of entry ${name}`);
          const v = Number(cd.readBigUInt64LE(q));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (local === 0xffffffff) local = next();
      }
      e += 4 + len;
    }
    if (!(local >= 0 && local + 30 <= length)) fail(`corrupt zip entry ${name}`);
    const header = read(local, 30);
    if (header.readUInt32LE(0) !== 0x04034b50) fail(`corrupt zip entry ${name}`);
    const start = local + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    if (!(start + compressedSize <= length)) fail(`zip entry ${name} reaches beyond the file (truncated?)`);
    if (method === 0 && compressedSize !== size) fail(`zip entry ${name} is stored with two different sizes`);
    entries.push({ name, method, crc, compressedSize, size, start });
    p = extraEnd + commentLen;
  }
  return entries;
}

/** Entries of a torch.save archive (stored, uncompressed): name → [start, end) of their bytes in buf. */
export function readZip(buf: Buffer): Map<string, [number, number]> {
  const fail = (m: string): never => fileError(m === 'not a zip archive' ? `${m} (torch.save files since PyTorch 1.6 are zip archives)` : m);
  const read = (position: number, length: number): Buffer => buf.subarray(position, position + length);
  const entries = new Map<string, [number, number]>();
  for (const e of zipEntries(buf.length, read, fail)) {
    if (e.method !== 0) fail(`zip entry ${e.name} is compressed (method ${e.method}); torch.save stores entries uncompressed`);
    entries.set(e.name, [e.start, e.start + e.size]);
  }
  return entries;
}

/**
 * n bytes of open file fd from position, read until complete; an error of the read (EISDIR for a folder)
 * or a file that ends early goes to fail.
 */
export function readFully(fd: number, path: string, position: number, n: number, fail: (message: string) => never): Buffer {
  const buf = Buffer.allocUnsafe(n);
  let done = 0;
  while (done < n) {
    let got: number;
    try {
      got = readSync(fd, buf, done, n - done, position + done);
    } catch (e) {
      return fail(`cannot read ${JSON.stringify(path)}: ${(e as Error).message}`);
    }
    if (got === 0) fail(`${JSON.stringify(path)} ended early (truncated while reading?)`);
    done += got;
  }
  return buf;
}

/**
 * Checks every entry of the zip archive at `path` against its CRC-32, reading it in pieces (deflated
 * entries are inflated, no further than their declared size). libtorch's zip reader skips these checks
 * (miniz is built with MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS), and its TorchScript parser and unpickler
 * can crash the process on corrupted bytes; checked here, a damaged file is a TorchError instead.
 */
export function checkZipCrcs(path: string, fail: (message: string) => never): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return fail(`cannot open ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  try {
    const length = fstatSync(fd).size;
    const read = (position: number, n: number): Buffer => readFully(fd, path, position, n, fail);
    const CHUNK = 16 << 20;
    for (const e of zipEntries(length, read, fail)) {
      let crc = 0;
      if (e.method === 0) {
        for (let done = 0; done < e.size; done += CHUNK) crc = crc32(read(e.start + done, Math.min(CHUNK, e.size - done)), crc);
      } else if (e.method === 8) {
        let data: Buffer;
        try {
          data = inflateRawSync(read(e.start, e.compressedSize), { maxOutputLength: Math.max(1, e.size) });
        } catch (err) {
          return fail(`zip entry ${e.name} does not inflate (${(err as Error).message})`);
        }
        if (data.length !== e.size) fail(`zip entry ${e.name} inflates to ${data.length} bytes, not ${e.size}`);
        crc = crc32(data);
      } else {
        fail(`zip entry ${e.name} uses compression method ${e.method}`);
      }
      if (crc !== e.crc) fail(`zip entry ${e.name} is corrupt (CRC-32 ${crc.toString(16)}, expected ${e.crc.toString(16)})`);
    }
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------- pickle

/** A pickled dict (OrderedDict or dict), keys in insertion order. */
export class PDict {
  map = new Map<unknown, unknown>();
}
/** A storage reference: persistent id ('storage', type, key, location, numel). */
export class PStorage {
  constructor(public dtype: DType, public key: string, public location: string, public numel: number) {}
}
/** What _rebuild_tensor_v2 describes: a strided view of a storage. */
export class PTensor {
  constructor(public storage: PStorage, public offset: number, public size: number[], public stride: number[],
    public requiresGrad: boolean) {}
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128',
};

class Global {
  constructor(public name: string, public call: (args: unknown[]) => unknown) {}
}
class StorageType {
  constructor(public dtype: DType) {}
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const intTuple = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);

function findGlobal(module: string, name: string): Global | StorageType {
  const full = `${module}.${name}`;
  if (full === 'collections.OrderedDict') return new Global(full, () => new PDict());
  if (module === 'torch' && Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, name)) return new StorageType(STORAGE_DTYPES[name]);
  if (full === 'torch._utils._rebuild_tensor_v2') {
    return new Global(full, (a) => {
      const [storage, offset, size, stride, requiresGrad] = a;
      if (!(storage instanceof PStorage) || !isInt(offset) || !intTuple(size) || !intTuple(stride) || size.length !== stride.length) {
        fileError('malformed _rebuild_tensor_v2 arguments');
      }
      return new PTensor(storage, offset, size, stride, requiresGrad === true);
    });
  }
  // libtorch's pickler tags typed containers: restore_type_tag(value, 'Dict[str, Tensor]') is the value.
  if (full === 'torch.jit._pickle.restore_type_tag') return new Global(full, (a) => a[0]);
  if (full === 'torch._utils._rebuild_parameter') {
    return new Global(full, (a) => {
      if (!(a[0] instanceof PTensor)) fileError('malformed _rebuild_parameter arguments');
      a[0].requiresGrad = a[1] === true;
      return a[0];
    });
  }
  if (full === 'torch.Size') return new Global(full, (a) => a[0]);
  return fileError(`the file references ${full}, which torch.load(weights_only=True) would not allow either (refused: loading it could run code)`);
}

/** Runs the pickle program in data (protocol 2-5 opcodes used by torch.save) and returns its value. */
export function unpickle(data: Buffer): unknown {
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const need = (n: number): void => { if (p + n > data.length) fileError('the pickle data ends early'); };
  const u8 = (): number => { need(1); return data[p++]; };
  const u16 = (): number => { need(2); const v = data.readUInt16LE(p); p += 2; return v; };
  const u32 = (): number => { need(4); const v = data.readUInt32LE(p); p += 4; return v; };
  const u64 = (): number => { need(8); const v = Number(data.readBigUInt64LE(p)); p += 8; return v; };
  const str = (n: number): string => { need(n); const s = data.toString('utf8', p, p + n); p += n; return s; };
  const line = (): string => { const end = data.indexOf(10, p); if (end < 0) fileError('the pickle data ends early'); const s = data.toString('latin1', p, end); p = end + 1; return s; };
  const pop = (): unknown => { if (stack.length === 0) fileError('pickle stack underflow'); return stack.pop(); };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fileError('pickle MARK missing');
    return stack.splice(m);
  };
  const top = (): unknown => { if (stack.length === 0) fileError('pickle stack underflow'); return stack[stack.length - 1]; };
  const setItems = (d: unknown, items: unknown[]): void => {
    if (!(d instanceof PDict)) fileError('SETITEM(S) on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2) d.map.set(items[i], items[i + 1]);
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME
      case 0x2e: return pop(); // STOP
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x63: { const m = line(); const n = line(); stack.push(findGlobal(m, n)); break; } // GLOBAL
      case 0x93: { const n = pop(), m = pop(); stack.push(findGlobal(String(m), String(n))); break; } // STACK_GLOBAL
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { const k = op === 0x68 ? u8() : u32(); if (!memo.has(k)) fileError(`pickle memo ${k} missing`); stack.push(memo.get(k)); break; } // BINGET, LONG_BINGET
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) fileError('APPEND to a non-list'); l.push(v); break; }
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) fileError('APPENDS to a non-list'); l.push(...items); break; }
      case 0x7d: stack.push(new PDict()); break; // EMPTY_DICT
      case 0x64: { const d = new PDict(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x58: stack.push(str(u32())); break; // BINUNICODE
      case 0x8c: stack.push(str(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(str(u64())); break; // BINUNICODE8
      case 0x4a: need(4); stack.push(data.readInt32LE(p)); p += 4; break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { // LONG1
        const n = u8(); need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]);
        if (n > 0 && data[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8); stack.push(data.readDoubleBE(p)); p += 8; break; // BINFLOAT
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4e: stack.push(null); break; // NONE
      case 0x30: pop(); break; // POP
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        if (!(fn instanceof Global) || !Array.isArray(args)) fileError('REDUCE of something that is not a known function');
        stack.push(fn.call(args));
        break;
      }
      case 0x62: pop(); break; // BUILD: the only state in a state_dict is OrderedDict's _metadata, ignored
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof StorageType) || typeof pid[2] !== 'string' ||
          typeof pid[3] !== 'string' || !isInt(pid[4]) || pid[4] < 0) {
          fileError('malformed storage reference');
        }
        stack.push(new PStorage(pid[1].dtype, pid[2], pid[3], pid[4]));
        break;
      }
      default:
        fileError(`unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}
