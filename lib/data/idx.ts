// IDX files (the MNIST format), plain or gzipped, and Fashion-MNIST from the Debian package.
import { existsSync, readFileSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { kindOf, optionsArg, TorchError } from '../torch/errors';
import { tensor } from '../torch/creation';
import { tidy } from '../torch/index';
import type { DType } from '../torch/dtype';
import { asTensor, type Tensor, type TypedArray } from '../torch/tensor';
import { TensorDataset } from './dataset';
import { checkPath } from '../io/paths';

// IDX type byte → dtype and element size (big-endian in the file).
const IDX_TYPES: Record<number, { dtype: DType; size: number }> = {
  0x08: { dtype: 'uint8', size: 1 },
  0x09: { dtype: 'int8', size: 1 },
  0x0b: { dtype: 'int16', size: 2 },
  0x0c: { dtype: 'int32', size: 4 },
  0x0d: { dtype: 'float32', size: 4 },
  0x0e: { dtype: 'float64', size: 8 },
};

export interface IdxOptions {
  /** Largest decompressed size accepted for gzipped input, in bytes (default 2 GiB). */
  maxBytes?: number;
}

/**
 * Parses IDX bytes (gzipped when they start with 1f 8b): magic 00 00 <type> <ndims>, ndims big-endian
 * uint32 dimensions, then the data. Returns a tensor of the file's dtype (uint8 for MNIST) and shape.
 * The header is checked against the actual byte count before anything is allocated for the data.
 */
export function parseIdx(bytes: Uint8Array, name = 'IDX data', options?: IdxOptions): Tensor {
  if (!(bytes instanceof Uint8Array)) throw new TorchError(`parseIdx(): bytes must be a Uint8Array or a Buffer, got ${kindOf(bytes)}`);
  options = optionsArg('parseIdx', options);
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    const maxOutputLength = options.maxBytes ?? 2 ** 31;
    try {
      buf = gunzipSync(buf, { maxOutputLength });
    } catch (e) {
      throw new TorchError(`readIdx(): ${name}: gzip decompression failed (${(e as Error).message})`);
    }
  }
  const fail = (msg: string): never => {
    throw new TorchError(`readIdx(): ${name}: ${msg}`);
  };
  if (buf.length < 4) fail(`truncated header: ${buf.length} bytes, expected at least 4`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    fail(`bad magic number 0x${[buf[0], buf[1], buf[2], buf[3]].map((b) => b.toString(16).padStart(2, '0')).join('')}: an IDX file starts with two zero bytes, a type byte and the number of dimensions`);
  }
  const type = IDX_TYPES[buf[2]];
  if (type === undefined) fail(`unknown data type byte 0x${buf[2].toString(16).padStart(2, '0')} (expected 08, 09, 0b, 0c, 0d or 0e)`);
  const ndims = buf[3];
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) fail(`truncated header: ${ndims} dimensions need ${headerBytes} bytes, the file has ${buf.length}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shape: number[] = [];
  const available = buf.length - headerBytes;
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    count *= n;
    // Stop early on absurd headers, before any product can lose precision.
    if (count * type.size > available) {
      fail(`dimensions [${shape.join(', ')}${d + 1 < ndims ? ', ...' : ''}] of ${type.dtype} need more than the ${available} data bytes present (truncated file or corrupt header)`);
    }
  }
  const dataBytes = count * type.size;
  if (dataBytes !== available) {
    fail(`dimensions [${shape.join(', ')}] of ${type.dtype} need ${dataBytes} data bytes, the file has ${available}`);
  }
  const start = buf.byteOffset + headerBytes;
  let array: TypedArray;
  switch (type.dtype) {
    case 'uint8': array = new Uint8Array(buf.buffer, start, count); break;
    case 'int8': array = new Int8Array(buf.buffer, start, count); break;
    default: {
      const src = new DataView(buf.buffer, start, dataBytes);
      if (type.dtype === 'int16') array = Int16Array.from({ length: count }, (_, i) => src.getInt16(2 * i, false));
      else if (type.dtype === 'int32') array = Int32Array.from({ length: count }, (_, i) => src.getInt32(4 * i, false));
      else if (type.dtype === 'float32') array = Float32Array.from({ length: count }, (_, i) => src.getFloat32(4 * i, false));
      else array = Float64Array.from({ length: count }, (_, i) => src.getFloat64(8 * i, false));
    }
  }
  return tensor(array, { shape });
}

/** Reads an IDX file (plain or gzipped); see parseIdx. */
export function readIdx(path: string, options: IdxOptions = {}): Tensor {
  checkPath('readIdx', path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TorchError(`readIdx(): cannot read ${path}: ${(e as Error).message}`);
  }
  return parseIdx(bytes, path, options);
}

/** The IDX bytes of a uint8, int8, int16, int32, float32 or float64 tensor (gzipped with gzip: true). */
export function encodeIdx(t: Tensor, options?: { gzip?: boolean }): Buffer {
  asTensor(t, 'writeIdx', 't');
  options = optionsArg('writeIdx', options);
  const entry = Object.entries(IDX_TYPES).find(([, v]) => v.dtype === t.dtype);
  if (entry === undefined) throw new TorchError(`writeIdx(): IDX cannot store dtype ${t.dtype}`);
  const shape = t.shape;
  if (shape.length > 255) throw new TorchError(`writeIdx(): IDX stores at most 255 dimensions, got ${shape.length}`);
  const { size } = entry[1];
  const flat = tidy(() => t.cpu().contiguous().dataSync());
  const header = 4 + 4 * shape.length;
  const out = Buffer.alloc(header + flat.length * size);
  out[2] = Number(entry[0]);
  out[3] = shape.length;
  shape.forEach((n, d) => out.writeUInt32BE(n, 4 + 4 * d));
  for (let i = 0; i < flat.length; i++) {
    const v = Number(flat[i]);
    const o = header + i * size;
    switch (t.dtype) {
      case 'uint8': out.writeUInt8(v, o); break;
      case 'int8': out.writeInt8(v, o); break;
      case 'int16': out.writeInt16BE(v, o); break;
      case 'int32': out.writeInt32BE(v, o); break;
      case 'float32': out.writeFloatBE(v, o); break;
      default: out.writeDoubleBE(v, o);
    }
  }
  return options.gzip ? gzipSync(out) : out;
}

/** Writes a tensor as an IDX file (atomically: a temporary file, then rename). */
export function writeIdx(path: string, t: Tensor, options?: { gzip?: boolean }): void {
  checkPath('writeIdx', path);
  atomicWrite(path, encodeIdx(t, options));
}

/** Writes a file through a temporary file in the same folder and a rename, so readers never see half of it. */
export function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* not created */ }
    throw new TorchError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

export interface FashionMnistOptions {
  split?: 'train' | 'test';
  /** Folder of the four IDX files (default: where Debian's dataset-fashion-mnist installs them). */
  root?: string;
}

export const FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST's class names, by label. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

function findFile(root: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const p = join(root, name);
    if (existsSync(p)) return p;
  }
  throw new TorchError(`fashionMnist(): ${join(root, `${base}.gz`)} not found. Install Debian's package with ` +
    `\`apt-get install dataset-fashion-mnist\` (files in ${FASHION_MNIST_ROOT}), or pass root: the folder of the IDX files.`);
}

/**
 * Fashion-MNIST (train: 60000, test: 10000 images) from train-/t10k-{images-idx3,labels-idx1}-ubyte[.gz]
 * in `root`: images uint8 [N, 28, 28], labels int64 [N].
 */
export function fashionMnist(options: FashionMnistOptions = {}): { images: Tensor; labels: Tensor } {
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new TorchError(`fashionMnist(): split must be 'train' or 'test', got ${String(split)}`);
  const root = options.root ?? FASHION_MNIST_ROOT;
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesPath = findFile(root, `${prefix}-images-idx3-ubyte`);
  const labelsPath = findFile(root, `${prefix}-labels-idx1-ubyte`);
  const images = readIdx(imagesPath);
  let labels: Tensor | null = null;
  try {
    const raw = readIdx(labelsPath);
    try {
      if (images.ndim !== 3 || images.dtype !== 'uint8' || raw.ndim !== 1 || raw.dtype !== 'uint8' || raw.shape[0] !== images.shape[0]) {
        throw new TorchError(`fashionMnist(): ${imagesPath} (${images.dtype} [${images.shape.join(', ')}]) and ${labelsPath} (${raw.dtype} [${raw.shape.join(', ')}]) do not match`);
      }
      labels = raw.to('int64');
    } finally {
      raw.dispose();
    }
  } finally {
    if (labels === null) images.dispose();
  }
  return { images, labels };
}

/**
 * Fashion-MNIST as a TensorDataset of (float32 image [1, 28, 28] scaled to [0, 1], int64 label), the
 * samples torchvision's ToTensor gives.
 */
export function fashionMnistDataset(options: FashionMnistOptions = {}): TensorDataset {
  const { images, labels } = fashionMnist(options);
  const scaled = tidy(() => images.to('float32').div(255).unsqueeze(1));
  images.dispose();
  return new TensorDataset(scaled, labels);
}
