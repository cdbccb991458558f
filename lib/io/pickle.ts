// Writing torch.save's format in TypeScript: a pickle (protocol 2) of the value, in which each tensor is a
// torch._utils._rebuild_tensor_v2 call over a storage stored as its own zip entry, the whole a zip archive
// of stored (uncompressed) entries aligned to 64 bytes, as PyTorch writes it. Only globals that
// torch.load(weights_only=True), PyTorch's default since 2.6, accepts are used: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 and the torch.*Storage types.
import { writeSync } from 'node:fs';
import * as zlib from 'node:zlib';
import type { DType } from '../torch/dtype';
import { TorchError } from '../torch/errors';
import { Tensor } from '../torch/tensor';

/** A value torch.save can write: tensors, numbers, bigints, strings, booleans, null, arrays and objects. */
export type Picklable =
  | Tensor | number | bigint | string | boolean | null | Picklable[] | PickleTuple | Map<string | number, Picklable>
  | { [key: string]: Picklable };

/** An array written as a Python tuple (arrays are lists). */
export class PickleTuple {
  constructor(public items: Picklable[]) {}
}

const STORAGE_TYPES: Record<DType, string> = {
  float32: 'FloatStorage', float64: 'DoubleStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage',
  int64: 'LongStorage', int32: 'IntStorage', int16: 'ShortStorage', int8: 'CharStorage', uint8: 'ByteStorage',
  bool: 'BoolStorage', complex64: 'ComplexFloatStorage', complex128: 'ComplexDoubleStorage',
};

class Bytes {
  private chunks: Buffer[] = [];
  byte(...b: number[]): void { this.chunks.push(Buffer.from(b)); }
  raw(b: Buffer): void { this.chunks.push(b); }
  done(): Buffer { return Buffer.concat(this.chunks); }
}

/** The pickle of `value` (data.pkl) and the tensors it references, in storage-key order. */
export function pickleTorchValue(op: string, value: Picklable): { pickle: Buffer; storages: Tensor[] } {
  const out = new Bytes();
  const storages: Tensor[] = [];
  const seen = new Set<object>();
  const global = (module: string, name: string) => out.raw(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    out.byte(0x58);
    out.raw(len);
    out.raw(b);
  };
  const int = (v: bigint) => {
    if (v >= -(2n ** 31n) && v < 2n ** 31n) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(Number(v));
      out.byte(0x4a); // BININT
      out.raw(b);
      return;
    }
    // LONG1: little-endian two's complement, as short as the sign allows.
    const bytes: number[] = [];
    let x = v;
    for (;;) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
      const signBit = (bytes[bytes.length - 1] & 0x80) !== 0;
      if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
    }
    out.byte(0x8a, bytes.length, ...bytes);
  };
  const float = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    out.byte(0x47); // BINFLOAT
    out.raw(b);
  };
  const intTuple = (xs: number[]) => {
    out.byte(0x28); // MARK
    for (const x of xs) int(BigInt(x));
    out.byte(0x74); // TUPLE
  };
  const emptyOrderedDict = () => {
    global('collections', 'OrderedDict');
    out.byte(0x29, 0x52); // EMPTY_TUPLE REDUCE
  };
  const tensor = (t: Tensor) => {
    const key = String(storages.length);
    storages.push(t);
    const shape = t.shape;
    const stride: number[] = [];
    let s = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      stride.unshift(s);
      s *= shape[i];
    }
    global('torch._utils', '_rebuild_tensor_v2');
    out.byte(0x28); // MARK (the arguments)
    out.byte(0x28); // MARK (the persistent id)
    str('storage');
    global('torch', STORAGE_TYPES[t.dtype]);
    str(key);
    str(t.device === 'cuda' ? 'cuda:0' : t.device);
    int(BigInt(t.numel()));
    out.byte(0x74, 0x51); // TUPLE BINPERSID
    int(0n);
    intTuple(shape);
    intTuple(stride);
    out.byte(t.requiresGrad ? 0x88 : 0x89);
    emptyOrderedDict(); // backward hooks
    out.byte(0x74, 0x52); // TUPLE REDUCE
  };
  const dict = (entries: [string | number, Picklable][]) => {
    emptyOrderedDict();
    if (entries.length === 0) return;
    out.byte(0x28); // MARK
    for (const [k, v] of entries) {
      if (typeof k === 'number') int(BigInt(k));
      else str(k);
      write(v);
    }
    out.byte(0x75); // SETITEMS
  };
  const write = (v: Picklable): void => {
    if (v === null) out.byte(0x4e);
    else if (v === true) out.byte(0x88);
    else if (v === false) out.byte(0x89);
    else if (typeof v === 'string') str(v);
    else if (typeof v === 'bigint') int(v);
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) int(BigInt(v));
      else float(v);
    } else if (v instanceof Tensor) tensor(v);
    else if (typeof v === 'object') {
      if (seen.has(v)) throw new TorchError(`${op}(): the value contains a cycle`);
      seen.add(v);
      if (Array.isArray(v)) {
        out.byte(0x5d); // EMPTY_LIST
        if (v.length > 0) {
          out.byte(0x28);
          v.forEach(write);
          out.byte(0x65); // APPENDS
        }
      } else if (v instanceof PickleTuple) {
        out.byte(0x28);
        v.items.forEach(write);
        out.byte(0x74);
      } else if (v instanceof Map) {
        for (const k of v.keys()) {
          if (typeof k !== 'string' && !Number.isSafeInteger(k)) throw new TorchError(`${op}(): Map keys must be strings or integers`);
        }
        dict([...v.entries()]);
      } else {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) {
          throw new TorchError(`${op}(): cannot save a ${proto?.constructor?.name ?? 'object'} (tensors, numbers, strings, booleans, null, arrays and plain objects can be saved)`);
        }
        dict(Object.entries(v));
      }
      seen.delete(v);
    } else {
      throw new TorchError(`${op}(): cannot save a value of type ${typeof v}`);
    }
  };
  out.byte(0x80, 0x02); // PROTO 2
  write(value);
  out.byte(0x2e); // STOP
  return { pickle: out.done(), storages };
}

// --------------------------------------------------------------------------------------------- zip

const ALIGN = 64;

const crc32: (b: Uint8Array, prev?: number) => number =
  (zlib as { crc32?: (b: Uint8Array, prev?: number) => number }).crc32 ?? tableCrc32;

function tableCrc32(b: Uint8Array, prev = 0): number {
  let table = tableCrc32.table;
  if (!table) {
    table = tableCrc32.table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = ~prev;
  for (let i = 0; i < b.length; i++) c = table[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
tableCrc32.table = null as Int32Array | null;

/**
 * Writes a zip archive of stored entries to fd, each entry's data starting on a 64-byte boundary (the
 * padding is an extra field of the local header, as PyTorch's writer does); zip64 records where an offset
 * or a size needs them.
 */
export function writeZip(fd: number, entries: { name: string; data: Uint8Array }[]): void {
  let offset = 0;
  const put = (b: Uint8Array) => {
    let done = 0;
    while (done < b.length) done += writeSync(fd, b, done, b.length - done);
    offset += b.length;
  };
  const central: Buffer[] = [];
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const big = data.length >= 0xffffffff || offset >= 0xffffffff;
    const localStart = offset;
    const zip64Local = big ? 20 : 0;
    const fixed = 30 + nameBytes.length + zip64Local + 4;
    const pad = (ALIGN - ((offset + fixed) % ALIGN)) % ALIGN;
    const local = Buffer.alloc(fixed + pad);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(big ? 45 : 20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(big ? 0xffffffff : data.length, 18);
    local.writeUInt32LE(big ? 0xffffffff : data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(zip64Local + 4 + pad, 28);
    nameBytes.copy(local, 30);
    let e = 30 + nameBytes.length;
    if (big) {
      local.writeUInt16LE(1, e);
      local.writeUInt16LE(16, e + 2);
      local.writeBigUInt64LE(BigInt(data.length), e + 4);
      local.writeBigUInt64LE(BigInt(data.length), e + 12);
      e += 20;
    }
    local.writeUInt16LE(0x4246, e); // 'FB': PyTorch's padding field
    local.writeUInt16LE(pad, e + 2);
    put(local);
    put(data);

    const extra = big ? 28 : 0;
    const cd = Buffer.alloc(46 + nameBytes.length + extra);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(big ? 45 : 20, 4);
    cd.writeUInt16LE(big ? 45 : 20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(big ? 0xffffffff : data.length, 20);
    cd.writeUInt32LE(big ? 0xffffffff : data.length, 24);
    cd.writeUInt16LE(nameBytes.length, 28);
    cd.writeUInt16LE(extra, 30);
    cd.writeUInt32LE(big ? 0xffffffff : localStart, 42);
    nameBytes.copy(cd, 46);
    if (big) {
      const x = 46 + nameBytes.length;
      cd.writeUInt16LE(1, x);
      cd.writeUInt16LE(24, x + 2);
      cd.writeBigUInt64LE(BigInt(data.length), x + 4);
      cd.writeBigUInt64LE(BigInt(data.length), x + 12);
      cd.writeBigUInt64LE(BigInt(localStart), x + 20);
    }
    central.push(cd);
  }
  const cdStart = offset;
  for (const cd of central) put(cd);
  const cdSize = offset - cdStart;
  const zip64 = cdStart >= 0xffffffff || entries.length >= 0xffff;
  if (zip64) {
    const rec = Buffer.alloc(56 + 20);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(entries.length), 24);
    rec.writeBigUInt64LE(BigInt(entries.length), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdStart), 48);
    rec.writeUInt32LE(0x07064b50, 56); // locator
    rec.writeBigUInt64LE(BigInt(offset), 64);
    rec.writeUInt32LE(1, 72);
    put(rec);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(zip64 ? 0xffffffff : cdSize, 12);
  end.writeUInt32LE(zip64 ? 0xffffffff : cdStart, 16);
  put(end);
}
