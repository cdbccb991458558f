// The offline teacher cache: cached outputs equal the teacher's, reads in any order across shards,
// resumable runs, fingerprints, damaged files, bounded memory and reduced-precision storage.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data, distill, nn, torch, type Tensor } from '../dist/index.js';
import { expectClose, testDevices } from './helpers';

const root = mkdtempSync(join(tmpdir(), 'torchkd-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(root, `c${dirs++}`);

/** A small teacher whose hidden state (after the ReLU) is read by a forward hook, and its call counter. */
function makeTeacher(seed = 0) {
  torch.manualSeed(seed);
  const net = new nn.Sequential(new nn.Linear(6, 16), new nn.ReLU(), new nn.Linear(16, 4));
  let hidden: Tensor | null = null;
  net.at(1).registerForwardHook((_m, _inputs, output) => { hidden = output as Tensor; });
  const counter = { calls: 0 };
  const teacher = (x: Tensor) => {
    counter.calls++;
    const logits = net.call(x) as Tensor;
    return { logits, features: { hidden: hidden as Tensor, input: x.mul(2) } };
  };
  /** The reference: the teacher on all inputs at once. */
  const reference = (x: Tensor) => torch.noGrad(() => {
    const out = teacher(x);
    counter.calls--;
    return out;
  });
  return { teacher, reference, counter };
}

function dataset(n: number, seed = 1) {
  torch.manualSeed(seed);
  const x = torch.randn([n, 6]);
  const y = torch.randint(0, 4, [n]);
  return { x, ds: new data.TensorDataset(x, y) };
}

describe('cacheTeacher / TeacherCache', () => {
  it('stores the teacher\'s logits and hooked hidden states; get() returns them for any indices', () => {
    const { teacher, reference } = makeTeacher();
    const { x, ds } = dataset(500);
    const dir = newDir();
    const progress: number[] = [];
    const cache = distill.cacheTeacher(teacher, ds, { dir, batchSize: 50, shardSize: 128, fingerprint: 'teacher-v1', onProgress: (d, t) => { expect(t).toBe(500); progress.push(d); } });
    expect(progress[progress.length - 1]).toBe(500);
    expect(progress.every((d, i) => i === 0 || d > progress[i - 1])).toBe(true);
    expect(cache.length).toBe(500);
    expect(cache.featureNames).toEqual(['hidden', 'input']);
    expect(cache.fingerprint).toBe('teacher-v1');
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    expect(index).toMatchObject({
      version: 1, length: 500, shardSize: 128, dtype: 'float32', fingerprint: 'teacher-v1',
      names: ['logits', 'feature.hidden', 'feature.input'], shapes: { logits: [4], 'feature.hidden': [16], 'feature.input': [6] },
      shards: ['shard-00000.safetensors', 'shard-00001.safetensors', 'shard-00002.safetensors', 'shard-00003.safetensors'],
    });
    const ref = reference(x);
    // Every row, in a shuffled order across all four shards, with repeats and a negative index.
    torch.manualSeed(2);
    const perm = [...(torch.randperm(500).dataSync() as BigInt64Array)].map(Number);
    const indices = [...perm, 3, 3, 499, -1];
    const expectedRows = indices.map((i) => (i < 0 ? i + 500 : i));
    const rowIndex = torch.tensor(expectedRows, { dtype: 'int64' });
    for (let start = 0; start < indices.length; start += 97) {
      const chunk = indices.slice(start, start + 97);
      const got = cache.get(chunk);
      const rows = rowIndex.narrow(0, start, chunk.length);
      expect(got.logits.dtype).toBe('float32');
      expectClose(got.logits.toArray(), ref.logits.indexSelect(0, rows).toArray(), 1e-6, 1e-6);
      expectClose(got.features?.hidden.toArray(), ref.features.hidden.indexSelect(0, rows).toArray(), 1e-6, 1e-6);
      expect(got.features?.input.equal(x.mul(2).indexSelect(0, rows))).toBe(true);
    }
    const empty = cache.get([]);
    expect(empty.logits.shape).toEqual([0, 4]);
    expect(empty.features?.hidden.shape).toEqual([0, 16]);
    cache.dispose();
    expect(() => cache.get([0])).toThrow(/disposed/);
  });

  it('reads datasets without getBatch (items collated), and items that are bare tensors', () => {
    const { teacher, reference } = makeTeacher();
    const { x } = dataset(70);
    const pairs: data.Dataset<Tensor[]> = { length: 70, getItem: (i: number) => [x.select(0, i), torch.tensor(i)] };
    const bare = { length: 70, getItem: (i: number) => x.select(0, i) } as unknown as data.Dataset<Tensor[]>;
    const ref = reference(x);
    for (const ds of [pairs, bare]) {
      const before = torch.memory().tensors;
      const cache = distill.cacheTeacher(teacher, ds, { dir: newDir(), batchSize: 16, shardSize: 32 });
      expect(cache.fingerprint).toBeUndefined();
      const all = cache.get([...Array(70).keys()]);
      expectClose(all.logits.toArray(), ref.logits.toArray(), 1e-6, 1e-6);
      torch.dispose(all);
      cache.dispose();
      expect(torch.memory().tensors).toBe(before);
    }
  });

  it('resumes: kept shards are not recomputed, a deleted shard is, an interrupted run leaves no index', () => {
    const { teacher, reference, counter } = makeTeacher();
    const { x, ds } = dataset(300);
    const dir = newDir();
    const options = { dir, batchSize: 32, shardSize: 100, fingerprint: 'fp' };
    distill.cacheTeacher(teacher, ds, options).dispose();
    expect(counter.calls).toBe(3 * 4); // 3 shards of 100 samples, 4 batches each (32+32+32+4)
    counter.calls = 0;
    distill.cacheTeacher(teacher, ds, options).dispose();
    expect(counter.calls).toBe(0);
    const mtime0 = statSync(join(dir, 'shard-00000.safetensors')).mtimeMs;
    unlinkSync(join(dir, 'shard-00001.safetensors'));
    expect(() => distill.TeacherCache.open(dir)).toThrow(/shard .*shard-00001.safetensors.* is missing/);
    const cache = distill.cacheTeacher(teacher, ds, options);
    expect(counter.calls).toBe(4);
    expect(statSync(join(dir, 'shard-00000.safetensors')).mtimeMs).toBe(mtime0);
    expectClose(cache.get([...Array(300).keys()]).logits.toArray(), reference(x).logits.toArray(), 1e-6, 1e-6);
    cache.dispose();

    // Another fingerprint: every shard is recomputed.
    counter.calls = 0;
    distill.cacheTeacher(teacher, ds, { ...options, fingerprint: 'fp2' }).dispose();
    expect(counter.calls).toBe(12);
    // Another shard size: the shard boundaries differ, so nothing is reused.
    counter.calls = 0;
    distill.cacheTeacher(teacher, ds, { ...options, fingerprint: 'fp2', shardSize: 150 }).dispose();
    expect(counter.calls).toBe(2 * 5);

    // A run that fails in its third shard: shards 0 and 1 are written, index.json is not.
    const dir2 = newDir();
    counter.calls = 0;
    const failing = (input: Tensor) => {
      if (counter.calls === 9) throw new Error('out of memory (simulated)');
      return teacher(input);
    };
    const before = torch.memory().tensors;
    expect(() => distill.cacheTeacher(failing, ds, { ...options, dir: dir2 })).toThrow(/simulated/);
    expect(torch.memory().tensors).toBe(before);
    expect(existsSync(join(dir2, 'shard-00001.safetensors'))).toBe(true);
    expect(existsSync(join(dir2, 'shard-00002.safetensors'))).toBe(false);
    expect(() => distill.TeacherCache.open(dir2)).toThrow(/has no index.json: not a teacher cache, or cacheTeacher\(\) did not finish/);
    counter.calls = 0;
    const resumed = distill.cacheTeacher(teacher, ds, { ...options, dir: dir2 });
    expect(counter.calls).toBe(4);
    expectClose(resumed.get([299, 0, 150]).logits.toArray(), reference(x).logits.indexSelect(0, torch.tensor([299, 0, 150])).toArray(), 1e-6, 1e-6);
    resumed.dispose();
  });

  it('refuses a cache built for another fingerprint, and a missing directory or index', () => {
    const { teacher } = makeTeacher();
    const { ds } = dataset(40);
    const dir = newDir();
    distill.cacheTeacher(teacher, ds, { dir, batchSize: 16, fingerprint: 'resnet50@abc+cifar10' }).dispose();
    expect(distill.TeacherCache.open(dir, { fingerprint: 'resnet50@abc+cifar10' }).length).toBe(40);
    expect(() => distill.TeacherCache.open(dir, { fingerprint: 'resnet50@def+cifar10' }))
      .toThrow(/fingerprint mismatch: the cache in .* was built for "resnet50@abc\+cifar10", expected "resnet50@def\+cifar10"/);
    expect(() => distill.TeacherCache.open(join(root, 'nowhere'))).toThrow(/TeacherCache.open\(\): the cache directory .* does not exist/);
    const broken = newDir();
    distill.cacheTeacher(teacher, ds, { dir: broken, batchSize: 16 }).dispose();
    writeFileSync(join(broken, 'index.json'), '{"version": 1, "length": ');
    expect(() => distill.TeacherCache.open(broken)).toThrow(/index.json" is not valid JSON/);
    writeFileSync(join(broken, 'index.json'), JSON.stringify({ version: 1, length: 40, shardSize: 8192, dtype: 'float32', fingerprint: null, names: ['logits'], shapes: { logits: [4] }, shards: ['../../etc/passwd'] }));
    expect(() => distill.TeacherCache.open(broken)).toThrow(/not a valid teacher-cache index: shard 0 must be shard-00000.safetensors/);
    expect(() => distill.TeacherCache.open(dir, { maxShardsInMemory: 0 })).toThrow(/maxShardsInMemory must be a positive integer/);
  });

  it('reports corrupt, truncated and foreign shards when they are read, and indices out of range', () => {
    const { teacher } = makeTeacher();
    const { ds } = dataset(90);
    const dir = newDir();
    const cache = distill.cacheTeacher(teacher, ds, { dir, batchSize: 16, shardSize: 30 });
    cache.dispose();
    const shard1 = join(dir, 'shard-00001.safetensors');
    const bytes = readFileSync(shard1);
    writeFileSync(shard1, bytes.subarray(0, bytes.length - 10));
    const c1 = distill.TeacherCache.open(dir);
    expect(c1.get([0, 89]).logits.shape).toEqual([2, 4]);
    expect(() => c1.get([0, 45])).toThrow(/TeacherCache.get\(\): shard .*shard-00001.safetensors" is corrupt: .*/);
    const garbage = Buffer.from(bytes);
    garbage.write('{"logits":', 8, 'utf8'); // breaks the header JSON
    writeFileSync(shard1, garbage.subarray(0, 40));
    expect(() => c1.get([31])).toThrow(/is corrupt/);
    // A complete shard, but another one's: its metadata says rows 0..29.
    copyFileSync(join(dir, 'shard-00000.safetensors'), shard1);
    expect(() => c1.get([31])).toThrow(/shard-00001.safetensors" does not match index.json: its shard is "0", expected "1"/);
    unlinkSync(shard1);
    expect(() => c1.get([31])).toThrow(/shard-00001.safetensors" is missing/);
    expect(() => c1.get([90])).toThrow(/TeacherCache.get\(\): index 90 is out of range for a dataset of length 90/);
    expect(() => c1.get([-91])).toThrow(/out of range/);
    expect(() => c1.get([1.5])).toThrow(/out of range/);
    expect(() => c1.get(5 as unknown as number[])).toThrow(/indices must be an array/);
    c1.dispose();
    // A corrupt shard on disk is recomputed by the next cacheTeacher run.
    writeFileSync(join(dir, 'shard-00002.safetensors'), 'not a safetensors file');
    const { teacher: t2, counter } = makeTeacher();
    const repaired = distill.cacheTeacher(t2, ds, { dir, batchSize: 16, shardSize: 30 });
    expect(counter.calls).toBe(2 * 2); // shards 1 (deleted) and 2 (corrupt), two batches each
    expect(repaired.get([45, 75]).logits.shape).toEqual([2, 4]);
    repaired.dispose();
  });

  it('refuses teachers whose outputs change shape or names between batches, or lack one row per sample', () => {
    const { ds } = dataset(50);
    const run = (teacher: (x: Tensor) => distill.TeacherOutputs) => () => distill.cacheTeacher(teacher, ds, { dir: newDir(), batchSize: 20 });
    const before = torch.memory().tensors;
    let calls = 0;
    expect(run((x) => ({ logits: torch.zeros([x.shape[0], calls++ === 0 ? 3 : 4]) })))
      .toThrow(/cacheTeacher\(\): the teacher's logits has per-sample shape \[4\] for samples 20..39, but \[3\] before/);
    calls = 0;
    expect(run((x) => ({ logits: torch.zeros([x.shape[0], 3]), features: (calls++ === 0 ? { a: x } : { b: x }) as Record<string, Tensor> })))
      .toThrow(/returned outputs \[logits, feature.b\] for samples 20..39, but \[logits, feature.a\] before/);
    expect(run((x) => ({ logits: torch.zeros([x.shape[0] + 1, 3]) }))).toThrow(/logits has shape \[21, 3\] for a batch of 20 samples \(samples 0..19\)/);
    expect(run((x) => ({ logits: torch.zeros([x.shape[0], 3]), features: { h: torch.zeros([]) } }))).toThrow(/feature.h has shape \[\]/);
    expect(run((x) => ({ logits: x.argmax(1) }))).toThrow(/dtype int64; only floating-point outputs/);
    expect(run(() => ({ logits: [1, 2] as unknown as Tensor }))).toThrow(/logits must be a Tensor, got Array/);
    expect(run(() => null as unknown as distill.TeacherOutputs)).toThrow(/must return \{ logits, features\? \}/);
    expect(torch.memory().tensors).toBe(before);
    const ok = (x: Tensor) => ({ logits: x });
    expect(() => distill.cacheTeacher(ok, ds, { dir: newDir(), shardSize: 0 })).toThrow(/shardSize must be a positive integer/);
    expect(() => distill.cacheTeacher(ok, ds, { dir: newDir(), dtype: 'float64' as 'float32' })).toThrow(/dtype must be one of float32, float16, bfloat16/);
    expect(() => distill.cacheTeacher(ok, ds, {} as distill.CacheTeacherOptions)).toThrow(/options.dir/);
  });

  it('keeps at most maxShardsInMemory shards resident, across many reads and inside tidy scopes', () => {
    const { teacher } = makeTeacher();
    const { ds } = dataset(2000);
    const cache = distill.cacheTeacher(teacher, ds, { dir: newDir(), batchSize: 100, shardSize: 100 }); // 20 shards
    const base = torch.memory();
    const shardBytes = 100 * (4 + 16 + 6) * 4;
    const gen = new data.Generator(3);
    let peak = 0;
    for (let k = 0; k < 200; k++) {
      const idx = Array.from({ length: 64 }, () => gen.nextInt(2000));
      if (k % 2 === 0) torch.dispose(cache.get(idx));
      else torch.tidy(() => { cache.get(idx); });
      peak = Math.max(peak, torch.memory().bytes - base.bytes);
    }
    // Exactly two shards of three tensors stay resident.
    const after = torch.memory();
    expect(after.tensors - base.tensors).toBe(2 * 3);
    expect(after.bytes - base.bytes).toBe(2 * shardBytes);
    // Shards loaded inside a tidy scope survive it.
    torch.tidy(() => { cache.get([0]); });
    const row = cache.get([1]);
    expect(row.logits.shape).toEqual([1, 4]);
    torch.dispose(row);
    expect(torch.memory().tensors).toBe(after.tensors);
    const wide = distill.TeacherCache.open(cache.dir, { maxShardsInMemory: 5 });
    torch.dispose(wide.get([...Array(2000).keys()].filter((i) => i % 50 === 0)));
    expect(torch.memory().bytes - after.bytes).toBe(5 * shardBytes);
    wide.dispose();
    cache.dispose();
    expect(torch.memory().tensors).toBe(base.tensors);
    expect(peak).toBeLessThan(4 * shardBytes);
  });

  it('stores float16 and bfloat16, returned as float32 within their precision, in smaller files', () => {
    const { teacher, reference } = makeTeacher();
    const { x, ds } = dataset(200);
    const ref = reference(x);
    const all = [...Array(200).keys()];
    const size = (dir: string) => statSync(join(dir, 'shard-00000.safetensors')).size;
    const d32 = newDir();
    distill.cacheTeacher(teacher, ds, { dir: d32 }).dispose();
    for (const [dtype, rtol] of [['float16', 2 ** -11], ['bfloat16', 2 ** -8]] as const) {
      const dir = newDir();
      const cache = distill.cacheTeacher(teacher, ds, { dir, dtype });
      expect(cache.dtype).toBe(dtype);
      const got = cache.get(all);
      expect(got.logits.dtype).toBe('float32');
      expectClose(got.logits.toArray(), ref.logits.toArray(), rtol, 1e-6);
      expectClose(got.features?.hidden.toArray(), ref.features.hidden.toArray(), rtol, 1e-6);
      expect(got.logits.equal(ref.logits.to(dtype).float())).toBe(true);
      expect(size(dir)).toBeLessThan(0.6 * size(d32));
      cache.dispose();
    }
  });

  it('returns its rows on the requested device', () => {
    const { teacher, reference } = makeTeacher();
    const { x, ds } = dataset(64);
    const dir = newDir();
    distill.cacheTeacher(teacher, ds, { dir, shardSize: 20 }).dispose();
    for (const device of testDevices()) {
      const cache = distill.TeacherCache.open(dir, { device });
      const got = cache.get([63, 0, 21]);
      expect(got.logits.device.startsWith(device)).toBe(true);
      expectClose(got.logits.to('cpu').toArray(), reference(x).logits.indexSelect(0, torch.tensor([63, 0, 21])).toArray(), 1e-6, 1e-6);
      cache.dispose();
    }
  });
});
