// Offline distillation: the teacher's outputs (logits and chosen hidden states) are computed once over a
// dataset, stored as safetensors shards, and streamed back while the student trains, so that the teacher
// never has to be loaded during student training.
//
// Layout of a cache directory:
//   index.json                 { version, length, shardSize, dtype, fingerprint, names, shapes, shards }
//   shard-00000.safetensors    rows [0, shardSize): tensors `logits` and `feature.<name>`, each [rows, ...]
//   shard-00001.safetensors    rows [shardSize, 2·shardSize) ...
// Each shard also carries its own description in the safetensors metadata, so that an interrupted run
// can tell which shards on disk are complete and belong to the same teacher and data. index.json is
// written last: a directory with an index is a finished cache.
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors } from '../io';
import { atomicWrite } from '../data/idx';
import { checkIndex, indexTensor, type Dataset } from '../data/dataset';
import { defaultCollate } from '../data/collate';
import { cat } from '../torch/ops.generated';
import { zeros } from '../torch/creation';
import { keep, noGrad, tidy } from '../torch/index';
import { TorchError, kindOf } from '../torch/errors';
import { checkDevice, type Device } from '../torch/dtype';
import { Tensor } from '../torch/tensor';

/** What a teacher returns for a batch: logits [B, ...] and optional named hidden states, each [B, ...]. */
export interface TeacherOutputs {
  logits: Tensor;
  features?: Record<string, Tensor>;
}

export type CacheDType = 'float32' | 'float16' | 'bfloat16';

export interface CacheTeacherOptions {
  /** The cache directory (created if missing). */
  dir: string;
  /** Samples per teacher call (default 256). */
  batchSize?: number;
  /** Samples per shard file (default 8192; need not be a multiple of batchSize). */
  shardSize?: number;
  /** Storage dtype (default 'float32'); TeacherCache.get() returns float32 whatever the storage. */
  dtype?: CacheDType;
  /**
   * The caller's identifier of teacher + data (e.g. a hash of the checkpoint and dataset version). Stored
   * in the index and every shard: shards of another fingerprint are recomputed, and TeacherCache.open can
   * refuse a cache built for something else.
   */
  fingerprint?: string;
  /** Called after each batch (and each shard found complete on disk) with samples done and the total. */
  onProgress?: (done: number, total: number) => void;
}

const FORMAT = 'torchkd.teacherCache';
const VERSION = 1;
const DTYPES: readonly CacheDType[] = ['float32', 'float16', 'bfloat16'];
const INDEX = 'index.json';
const shardFile = (k: number) => `shard-${String(k).padStart(5, '0')}.safetensors`;

/** The contents of index.json. */
interface CacheIndex {
  version: number;
  length: number;
  shardSize: number;
  dtype: CacheDType;
  fingerprint: string | null;
  /** Tensor names in every shard: 'logits', then 'feature.<name>'. */
  names: string[];
  /** Per-sample shape of each named tensor (its shape in a shard without the leading row count). */
  shapes: Record<string, number[]>;
  shards: string[];
}

/** The per-shard description stored in its safetensors metadata (all strings, as the format requires). */
function shardMetadata(index: Omit<CacheIndex, 'names' | 'shapes' | 'shards' | 'version'>, k: number): Record<string, string> {
  const start = k * index.shardSize;
  const meta: Record<string, string> = {
    format: FORMAT, version: String(VERSION), length: String(index.length), shardSize: String(index.shardSize),
    dtype: index.dtype, shard: String(k), start: String(start), rows: String(Math.min(index.shardSize, index.length - start)),
  };
  if (index.fingerprint !== null) meta.fingerprint = index.fingerprint;
  return meta;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The tensor names of a cache and each one's per-sample shape; names are 'logits', then the features sorted. */
interface Layout { names: string[]; shapes: Record<string, number[]> }

function layoutOf(tensors: Record<string, Tensor>): Layout {
  const names = ['logits', ...Object.keys(tensors).filter((n) => n !== 'logits').sort()];
  return { names, shapes: Object.fromEntries(names.map((n) => [n, tensors[n].shape.slice(1)])) };
}

function sameLayout(a: Layout, b: Layout): boolean {
  return a.names.length === b.names.length && a.names.every((n, i) => n === b.names[i] && sameShape(a.shapes[n], b.shapes[n]));
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** The rows of the teacher's outputs as named tensors: logits, then feature.<name> in the teacher's order. */
function namedOutputs(op: string, out: unknown, rows: number, first: number): Record<string, Tensor> {
  const where = `samples ${first}..${first + rows - 1}`;
  if (out === null || typeof out !== 'object') throw new TorchError(`${op}: the teacher must return { logits, features? }, got ${kindOf(out)} for ${where}`);
  const { logits, features } = out as TeacherOutputs;
  if (!(logits instanceof Tensor)) throw new TorchError(`${op}: the teacher's logits must be a Tensor, got ${kindOf(logits)} for ${where}`);
  const named: Record<string, Tensor> = { logits };
  if (features !== undefined) {
    if (features === null || typeof features !== 'object') throw new TorchError(`${op}: the teacher's features must be a Record<string, Tensor>, got ${kindOf(features)}`);
    for (const [name, t] of Object.entries(features)) {
      if (!(t instanceof Tensor)) throw new TorchError(`${op}: feature ${JSON.stringify(name)} must be a Tensor, got ${kindOf(t)} for ${where}`);
      named[`feature.${name}`] = t;
    }
  }
  for (const [name, t] of Object.entries(named)) {
    if (t.ndim === 0 || t.shape[0] !== rows) {
      throw new TorchError(`${op}: the teacher's ${name} has shape ${fmt(t.shape)} for a batch of ${rows} samples (${where}); every output needs one row per sample`);
    }
    if (!t.dtype.startsWith('float') && t.dtype !== 'bfloat16') {
      throw new TorchError(`${op}: the teacher's ${name} has dtype ${t.dtype}; only floating-point outputs can be cached`);
    }
  }
  return named;
}

/** The layout of this batch's outputs, checked against the one seen before (if any). */
function checkLayout(op: string, named: Record<string, Tensor>, before: Layout | null, first: number): Layout {
  const layout = layoutOf(named);
  if (before === null) return layout;
  const where = `samples ${first}..${first + named.logits.shape[0] - 1}`;
  if (layout.names.length !== before.names.length || layout.names.some((n, i) => n !== before.names[i])) {
    throw new TorchError(`${op}: the teacher returned outputs [${layout.names.join(', ')}] for ${where}, but [${before.names.join(', ')}] before; it must return the same outputs for every batch`);
  }
  for (const n of layout.names) {
    if (!sameShape(layout.shapes[n], before.shapes[n])) {
      throw new TorchError(`${op}: the teacher's ${n} has per-sample shape ${fmt(layout.shapes[n])} for ${where}, but ${fmt(before.shapes[n])} before; cached outputs need one shape throughout`);
    }
  }
  return before;
}

/** The batch's input: the first tensor of the collated items (or the batch itself when items are tensors). */
function batchInput(op: string, dataset: Dataset<Tensor[]>, indices: number[]): Tensor {
  const batch: unknown = dataset.getBatch !== undefined ? dataset.getBatch(indices) : defaultCollate(indices.map((i) => dataset.getItem(i)));
  const input = batch instanceof Tensor ? batch : Array.isArray(batch) ? batch[0] : undefined;
  if (!(input instanceof Tensor)) throw new TorchError(`${op}: the dataset's items must be tensors or arrays whose first element is the input tensor`);
  return input;
}

/**
 * A shard on disk that an earlier run wrote for the same dataset length, shard boundaries, dtype and
 * fingerprint: its named tensors' per-sample layout, or null if it must be (re)computed.
 */
function completeShard(path: string, expected: Record<string, string>): Layout | null {
  if (!existsSync(path)) return null;
  let loaded;
  try {
    loaded = loadSafetensors(path);
  } catch {
    return null;
  }
  try {
    const { tensors, metadata } = loaded;
    const keys = new Set([...Object.keys(metadata), ...Object.keys(expected)]);
    for (const k of keys) if (metadata[k] !== expected[k]) return null;
    const names = Object.keys(tensors);
    const rows = Number(expected.rows);
    if (!names.includes('logits') || names.some((n) => n !== 'logits' && !n.startsWith('feature.'))) return null;
    if (names.some((n) => tensors[n].ndim === 0 || tensors[n].shape[0] !== rows || tensors[n].dtype !== expected.dtype)) return null;
    return layoutOf(tensors);
  } finally {
    for (const t of Object.values(loaded.tensors)) t.dispose();
  }
}

/**
 * Runs teacher(input) under noGrad on each batch of `dataset` (the first tensor of each item is the input;
 * put a module teacher in eval mode first) and writes its outputs, cast to options.dtype, as safetensors shards of shardSize samples in
 * options.dir, then index.json. Resumable: a shard already on disk that is complete and was written for
 * the same length, shardSize, dtype and fingerprint is kept (the teacher does not run on its samples;
 * each shard is read once to check it); the others are recomputed. Returns the opened cache.
 */
export function cacheTeacher(teacher: (input: Tensor) => TeacherOutputs, dataset: Dataset<Tensor[]>, options: CacheTeacherOptions): TeacherCache {
  const op = 'cacheTeacher()';
  if (typeof teacher !== 'function') throw new TorchError(`${op}: teacher must be a function of the input batch, got ${kindOf(teacher)}`);
  if (dataset === null || typeof dataset !== 'object' || typeof dataset.getItem !== 'function') {
    throw new TorchError(`${op}: dataset must be a Dataset (length and getItem), got ${kindOf(dataset)}`);
  }
  if (options === null || typeof options !== 'object' || typeof options.dir !== 'string' || options.dir === '') {
    throw new TorchError(`${op}: options.dir (the cache directory) is required`);
  }
  const { dir, batchSize = 256, shardSize = 8192, dtype = 'float32', fingerprint, onProgress } = options;
  for (const [name, v] of [['batchSize', batchSize], ['shardSize', shardSize]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new TorchError(`${op}: ${name} must be a positive integer, got ${v}`);
  }
  if (!DTYPES.includes(dtype)) throw new TorchError(`${op}: dtype must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
  if (fingerprint !== undefined && typeof fingerprint !== 'string') throw new TorchError(`${op}: fingerprint must be a string, got ${kindOf(fingerprint)}`);
  const length = dataset.length;
  if (!Number.isSafeInteger(length) || length < 1) throw new TorchError(`${op}: the dataset is empty (length ${length})`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TorchError(`${op}: cannot create the cache directory ${JSON.stringify(dir)}: ${(e as Error).message}`);
  }

  const base = { length, shardSize, dtype, fingerprint: fingerprint ?? null };
  const numShards = Math.ceil(length / shardSize);
  let layout: Layout | null = null;
  const todo: number[] = [];
  let done = 0;
  for (let k = 0; k < numShards; k++) {
    const found = completeShard(join(dir, shardFile(k)), shardMetadata(base, k));
    if (found === null) {
      todo.push(k);
      continue;
    }
    if (layout !== null && !sameLayout(found, layout)) {
      todo.push(k); // written by another teacher under the same fingerprint: recompute
      continue;
    }
    layout ??= found;
    done += Number(shardMetadata(base, k).rows);
    onProgress?.(done, length);
  }
  if (todo.length > 0) {
    // The index describes a finished cache; remove it while shards change.
    if (existsSync(join(dir, INDEX))) unlinkSync(join(dir, INDEX));
  }
  for (const k of todo) {
    const start = k * shardSize;
    const rows = Math.min(shardSize, length - start);
    const parts: Record<string, Tensor>[] = [];
    try {
      for (let first = start; first < start + rows; first += batchSize) {
        const n = Math.min(batchSize, start + rows - first);
        const indices = Array.from({ length: n }, (_, i) => first + i);
        const before = layout;
        const batch = tidy(() => {
          const named = noGrad(() => namedOutputs(op, teacher(batchInput(op, dataset, indices)), n, first));
          const seen = checkLayout(op, named, before, first);
          const stored = Object.fromEntries(Object.entries(named).map(([name, t]) => [name, t.detach().to({ device: 'cpu', dtype })]));
          return { seen, stored };
        });
        layout = batch.seen;
        parts.push(batch.stored);
        done += n;
        onProgress?.(done, length);
      }
      const { names } = layout as Layout;
      tidy(() => {
        const shard = Object.fromEntries(names.map((name) => [name, cat(parts.map((p) => p[name]))]));
        saveSafetensors(join(dir, shardFile(k)), shard, { metadata: shardMetadata(base, k) });
      });
    } finally {
      for (const p of parts) for (const t of Object.values(p)) t.dispose();
    }
  }
  const { names, shapes } = layout as Layout;
  const index: CacheIndex = {
    version: VERSION, ...base, names, shapes,
    shards: Array.from({ length: numShards }, (_, k) => shardFile(k)),
  };
  atomicWrite(join(dir, INDEX), `${JSON.stringify(index, null, 1)}\n`);
  return TeacherCache.open(dir, fingerprint === undefined ? {} : { fingerprint });
}

export interface TeacherCacheOpenOptions {
  /** When given, open() refuses a cache whose stored fingerprint differs. */
  fingerprint?: string;
  /** Shards kept in memory at once, least recently used evicted first (default 2). */
  maxShardsInMemory?: number;
  /** Where get() puts its results (default 'cpu'). Shards stay in host memory. */
  device?: Device | string;
}

/**
 * A teacher cache written by cacheTeacher, read back by dataset index. Shards are loaded on demand and at
 * most maxShardsInMemory of them stay resident (LRU), so memory stays bounded whatever the dataset size.
 * A batch drawn uniformly from the whole dataset touches most shards: when the outputs fit in memory, set
 * maxShardsInMemory to the shard count; otherwise visit the data shard by shard (rows
 * [k·shardSize, (k+1)·shardSize)), shuffling within and across shards, or every batch rereads shards.
 */
const OPENED: unique symbol = Symbol('TeacherCache.open');

export class TeacherCache {
  readonly dir: string;
  readonly length: number;
  /** Samples per shard. */
  readonly shardSize: number;
  /** The hidden states stored besides the logits, sorted by name. */
  readonly featureNames: string[];
  readonly fingerprint?: string;
  /** The storage dtype. */
  readonly dtype: CacheDType;
  readonly device: Device;
  private readonly index: CacheIndex;
  private readonly maxShards: number;
  /** Resident shards, least recently used first (Map keeps insertion order). */
  private readonly resident = new Map<number, Record<string, Tensor>>();
  private disposed = false;

  /** @internal made by TeacherCache.open and cacheTeacher */
  constructor(dir: string, index: CacheIndex, maxShards: number, device: Device, made?: typeof OPENED) {
    if (made !== OPENED) throw new TorchError('TeacherCache: caches are made by cacheTeacher or TeacherCache.open, not constructed');
    this.dir = dir;
    this.index = index;
    this.length = index.length;
    this.shardSize = index.shardSize;
    this.dtype = index.dtype;
    this.featureNames = index.names.filter((n) => n !== 'logits').map((n) => n.slice('feature.'.length));
    if (index.fingerprint !== null) this.fingerprint = index.fingerprint;
    this.maxShards = maxShards;
    this.device = device;
  }

  /** Opens a cache directory: reads and checks index.json, and that every shard file is present. */
  static open(dir: string, options: TeacherCacheOpenOptions = {}): TeacherCache {
    const op = 'TeacherCache.open()';
    if (typeof dir !== 'string' || dir === '') throw new TorchError(`${op}: dir must be a directory path, got ${kindOf(dir)}`);
    const { fingerprint, maxShardsInMemory = 2 } = options;
    if (!Number.isSafeInteger(maxShardsInMemory) || maxShardsInMemory < 1) {
      throw new TorchError(`${op}: maxShardsInMemory must be a positive integer, got ${maxShardsInMemory}`);
    }
    const device = checkDevice(options.device ?? 'cpu');
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new TorchError(`${op}: the cache directory ${JSON.stringify(dir)} does not exist`);
    const indexPath = join(dir, INDEX);
    if (!existsSync(indexPath)) {
      throw new TorchError(`${op}: ${JSON.stringify(dir)} has no ${INDEX}: not a teacher cache, or cacheTeacher() did not finish (run it again to resume)`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new TorchError(`${op}: ${JSON.stringify(indexPath)} is not valid JSON (${(e as Error).message})`);
    }
    const index = checkIndexJson(op, indexPath, parsed);
    if (fingerprint !== undefined && fingerprint !== index.fingerprint) {
      throw new TorchError(`${op}: fingerprint mismatch: the cache in ${JSON.stringify(dir)} was built for ${JSON.stringify(index.fingerprint)}, expected ${JSON.stringify(fingerprint)} (another teacher or dataset; rebuild it with cacheTeacher())`);
    }
    for (const file of index.shards) {
      if (!existsSync(join(dir, file))) throw new TorchError(`${op}: shard ${JSON.stringify(join(dir, file))} is missing (run cacheTeacher() again to recompute it)`);
    }
    return new TeacherCache(dir, index, maxShardsInMemory, device, OPENED);
  }

  /**
   * The cached outputs for these dataset indices (any order, repeats allowed; negative indices count from
   * the end), as float32 tensors [indices.length, ...] on the cache's device. The caller owns them.
   */
  get(indices: readonly number[]): TeacherOutputs {
    const op = 'TeacherCache.get()';
    if (this.disposed) throw new TorchError(`${op}: the cache has been disposed`);
    if (!Array.isArray(indices)) throw new TorchError(`${op}: indices must be an array of integers, got ${kindOf(indices)}`);
    const rows = indices.map((i) => checkIndex(op, i, this.length));
    const { shardSize, names } = this.index;
    // Group positions by shard, keeping first-seen shard order.
    const groups = new Map<number, number[]>();
    rows.forEach((r, p) => {
      const k = Math.floor(r / shardSize);
      const g = groups.get(k);
      if (g === undefined) groups.set(k, [p]);
      else g.push(p);
    });
    const named = tidy(() => {
      const parts: Record<string, Tensor>[] = [];
      const order: number[] = [];
      for (const [k, positions] of groups) {
        const shard = this.shard(k);
        const local = indexTensor(positions.map((p) => rows[p] - k * shardSize));
        parts.push(Object.fromEntries(names.map((n) => [n, shard[n].indexSelect(0, local)])));
        order.push(...positions);
      }
      // Row j of the concatenation holds position order[j]: gather by the inverse permutation.
      const inverse = new Array<number>(order.length);
      order.forEach((p, j) => { inverse[p] = j; });
      const inOrder = order.every((p, j) => p === j);
      return Object.fromEntries(names.map((n) => {
        if (parts.length === 0) return [n, zeros([0, ...this.index.shapes[n]], { device: this.device })];
        let t = parts.length === 1 ? parts[0][n] : cat(parts.map((p) => p[n]));
        if (!inOrder) t = t.indexSelect(0, indexTensor(inverse));
        return [n, t.to({ device: this.device, dtype: 'float32' })];
      }));
    });
    const out: TeacherOutputs = { logits: named.logits };
    if (this.featureNames.length > 0) out.features = Object.fromEntries(this.featureNames.map((f) => [f, named[`feature.${f}`]]));
    return out;
  }

  /** Frees the resident shards; get() throws afterwards. */
  dispose(): void {
    for (const shard of this.resident.values()) for (const t of Object.values(shard)) t.dispose();
    this.resident.clear();
    this.disposed = true;
  }

  /** Shard k's tensors, loading (and checking) it if it is not resident and evicting the least recently used. */
  private shard(k: number): Record<string, Tensor> {
    const hit = this.resident.get(k);
    if (hit !== undefined) {
      this.resident.delete(k);
      this.resident.set(k, hit);
      return hit;
    }
    while (this.resident.size >= this.maxShards) {
      const [oldest, tensors] = this.resident.entries().next().value as [number, Record<string, Tensor>];
      for (const t of Object.values(tensors)) t.dispose();
      this.resident.delete(oldest);
    }
    const tensors = this.load(k);
    this.resident.set(k, tensors);
    return tensors;
  }

  private load(k: number): Record<string, Tensor> {
    const op = 'TeacherCache.get()';
    const { index } = this;
    const path = join(this.dir, index.shards[k]);
    if (!existsSync(path)) throw new TorchError(`${op}: shard ${JSON.stringify(path)} is missing (run cacheTeacher() again to recompute it)`);
    let loaded;
    try {
      loaded = loadSafetensors(path);
    } catch (e) {
      throw new TorchError(`${op}: shard ${JSON.stringify(path)} is corrupt: ${(e as Error).message}`);
    }
    const { tensors, metadata } = loaded;
    const fail = (why: string): never => {
      for (const t of Object.values(tensors)) t.dispose();
      throw new TorchError(`${op}: shard ${JSON.stringify(path)} does not match ${INDEX}: ${why}`);
    };
    const expected = shardMetadata(index, k);
    for (const key of new Set([...Object.keys(expected), ...Object.keys(metadata)])) {
      if (metadata[key] !== expected[key]) fail(`its ${key} is ${JSON.stringify(metadata[key] ?? null)}, expected ${JSON.stringify(expected[key] ?? null)}`);
    }
    const rows = Number(expected.rows);
    const names = Object.keys(tensors);
    if (names.length !== index.names.length || index.names.some((n) => !(n in tensors))) {
      fail(`it holds [${names.join(', ')}], expected [${index.names.join(', ')}]`);
    }
    for (const n of index.names) {
      const t = tensors[n];
      const want = [rows, ...index.shapes[n]];
      if (!sameShape(t.shape, want) || t.dtype !== index.dtype) fail(`${n} is ${t.dtype}${fmt(t.shape)}, expected ${index.dtype}${fmt(want)}`);
    }
    // Resident shards outlive the caller's tidy scopes; eviction and dispose() free them.
    for (const t of Object.values(tensors)) keep(t);
    return tensors;
  }
}

/** Validates a parsed index.json. */
function checkIndexJson(op: string, path: string, v: unknown): CacheIndex {
  const bad = (why: string): never => {
    throw new TorchError(`${op}: ${JSON.stringify(path)} is not a valid teacher-cache index: ${why}`);
  };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad('not a JSON object');
  const x = v as Record<string, unknown>;
  if (x.version !== VERSION) bad(`version ${JSON.stringify(x.version)}, expected ${VERSION}`);
  const length = x.length as number;
  const shardSize = x.shardSize as number;
  if (!Number.isSafeInteger(length) || length < 1) bad(`length must be a positive integer, got ${JSON.stringify(x.length)}`);
  if (!Number.isSafeInteger(shardSize) || shardSize < 1) bad(`shardSize must be a positive integer, got ${JSON.stringify(x.shardSize)}`);
  if (!DTYPES.includes(x.dtype as CacheDType)) bad(`dtype must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(x.dtype)}`);
  if (x.fingerprint !== null && typeof x.fingerprint !== 'string') bad('fingerprint must be a string or null');
  const names = x.names as string[];
  if (!Array.isArray(names) || names[0] !== 'logits' || !names.every((n, i) => typeof n === 'string' && (i === 0 || n.startsWith('feature.')))) {
    bad("names must be ['logits', 'feature.<name>', ...]");
  }
  const shapes = x.shapes as Record<string, number[]>;
  if (shapes === null || typeof shapes !== 'object' ||
      !names.every((n) => Array.isArray(shapes[n]) && shapes[n].every((s) => Number.isSafeInteger(s) && s >= 0))) {
    bad('shapes must give a per-sample shape (non-negative integers) for every name');
  }
  const shards = x.shards as string[];
  const numShards = Math.ceil(length / shardSize);
  if (!Array.isArray(shards) || shards.length !== numShards) bad(`shards must list ${numShards} files`);
  shards.forEach((s, k) => { if (s !== shardFile(k)) bad(`shard ${k} must be ${shardFile(k)}, got ${JSON.stringify(s)}`); });
  return {
    version: VERSION, length, shardSize, dtype: x.dtype as CacheDType, fingerprint: x.fingerprint as string | null,
    names, shapes: Object.fromEntries(names.map((n) => [n, shapes[n]])), shards,
  };
}
