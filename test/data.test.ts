// The data module: datasets, DataLoader (batching, shuffle, collate, prefetch, leaks), IDX files and
// Fashion-MNIST, CSV/JSONL readers, the tokenizer and vocabularies.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { data, torch, TorchError, type Tensor } from '../dist/index.js';
import { collectGarbage, py } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'torchkd-data-'));

function rows(n: number, width: number): Tensor {
  return torch.arange(n * width).reshape([n, width]);
}

function collectAll<B>(loader: Iterable<B>, read: (b: B) => unknown): unknown[] {
  const out: unknown[] = [];
  for (const b of loader) {
    out.push(read(b));
    torch.dispose(b);
  }
  return out;
}

describe('TensorDataset and DataLoader', () => {
  it('items are rows; batches stack rows in order; the last batch is partial unless dropLast', () => {
    const x = rows(5, 2);
    const y = torch.tensor([10, 11, 12, 13, 14]);
    const ds = new data.TensorDataset(x, y);
    expect(ds.length).toBe(5);
    const [xi, yi] = ds.getItem(3);
    expect(xi.toArray()).toEqual([6, 7]);
    expect(yi.item()).toBe(13);
    expect(ds.getItem(-1)[1].item()).toBe(14);
    expect(() => ds.getItem(5)).toThrow(/index 5 is out of range for a dataset of length 5/);

    const loader = new data.DataLoader(ds, { batchSize: 2 });
    expect(loader.length).toBe(3);
    expect(collectAll(loader, ([a, b]) => [a.toArray(), b.toArray(), a.dtype, b.dtype])).toEqual([
      [[[0, 1], [2, 3]], [10, 11], 'int64', 'int64'],
      [[[4, 5], [6, 7]], [12, 13], 'int64', 'int64'],
      [[[8, 9]], [14], 'int64', 'int64'],
    ]);
    const dropped = new data.DataLoader(ds, { batchSize: 2, dropLast: true });
    expect(dropped.length).toBe(2);
    expect(collectAll(dropped, ([, b]) => b.toArray())).toEqual([[10, 11], [12, 13]]);
    // batchSize defaults to 1: each batch keeps a leading dimension of 1.
    expect(collectAll(new data.DataLoader(ds), ([a]) => a.shape)).toEqual(Array(5).fill([1, 2]));
    expect(() => new data.TensorDataset(x, torch.zeros([4]))).toThrow(/Size mismatch between tensors: first dimensions are \[5, 4\]/);
    expect(() => new data.DataLoader(ds, { batchSize: 0 })).toThrow(TorchError);
  });

  it('the indexSelect fast path equals stacking rows with defaultCollate', () => {
    torch.manualSeed(3);
    const x = torch.randn([7, 3, 2]);
    const y = torch.randint(0, 5, [7]);
    const ds = new data.TensorDataset(x, y);
    const fast = new data.DataLoader(ds, { batchSize: 3, shuffle: true, seed: 11 });
    const slow = new data.DataLoader(ds, { batchSize: 3, shuffle: true, seed: 11, collate: (s) => data.defaultCollate(s) });
    const a = collectAll(fast, ([u, v]) => [u.toArray(), v.toArray()]);
    const b = collectAll(slow, ([u, v]) => [u.toArray(), v.toArray()]);
    expect(a).toEqual(b);
    expect((a[0] as number[][][])[0]).toHaveLength(3);
    // The rows really are x's rows at the shuffled indices.
    const order = new data.Generator(11, 0).permutation(7);
    expect((a[0] as unknown[])[0]).toEqual(order.slice(0, 3).map((i) => x.select(0, i).toArray()));
  });

  it('shuffle: same seed same order, each epoch a different permutation visiting every index once', () => {
    const ds = new data.TensorDataset(torch.arange(50));
    const epochOrders = (seed: number, epochs: number) => {
      const loader = new data.DataLoader(ds, { batchSize: 8, shuffle: true, seed });
      const out: number[][] = [];
      for (let e = 0; e < epochs; e++) out.push((collectAll(loader, ([b]) => b.toArray()) as number[][]).flat());
      return out;
    };
    const a = epochOrders(42, 3);
    const b = epochOrders(42, 3);
    expect(a).toEqual(b);
    for (const order of a) expect([...order].sort((p, q) => p - q)).toEqual([...Array(50).keys()]);
    expect(a[0]).not.toEqual(a[1]);
    expect(a[1]).not.toEqual(a[2]);
    expect(a[0]).not.toEqual([...Array(50).keys()]);
    expect(epochOrders(43, 1)[0]).not.toEqual(a[0]);
    // Independent of the global generator; setEpoch replays an epoch.
    torch.manualSeed(1);
    const loader = new data.DataLoader(ds, { batchSize: 50, shuffle: true, seed: 42 });
    torch.manualSeed(999);
    loader.setEpoch(2);
    expect(collectAll(loader, ([t]) => t.toArray())[0]).toEqual(a[2]);
    // Without a seed, torch.manualSeed makes the order reproducible.
    torch.manualSeed(5);
    const u = collectAll(new data.DataLoader(ds, { batchSize: 50, shuffle: true }), ([t]) => t.toArray());
    torch.manualSeed(5);
    const v = collectAll(new data.DataLoader(ds, { batchSize: 50, shuffle: true }), ([t]) => t.toArray());
    expect(u).toEqual(v);
  });

  it('default collate of objects, tuples, numbers, booleans and strings', () => {
    const ds: data.Dataset<{ x: Tensor; y: number; w: number; ok: boolean; name: string; pair: [number, Tensor] }> = {
      length: 3,
      getItem: (i) => ({ x: torch.tensor([i, i + 0.5]), y: i * 2, w: i + 0.25, ok: i % 2 === 0, name: `s${i}`, pair: [i, torch.tensor([[i]])] }),
    };
    const loader = new data.DataLoader(ds, { batchSize: 3 });
    const [batch] = [...loader];
    expect(batch.x.dtype).toBe('float32');
    expect(batch.x.toArray()).toEqual([[0, 0.5], [1, 1.5], [2, 2.5]]);
    expect(batch.y.dtype).toBe('int64');
    expect(batch.y.toArray()).toEqual([0, 2, 4]);
    expect(batch.w.dtype).toBe('float64');
    expect(batch.w.toArray()).toEqual([0.25, 1.25, 2.25]);
    expect(batch.ok.dtype).toBe('bool');
    expect(batch.ok.toArray()).toEqual([1, 0, 1]);
    expect(batch.name).toEqual(['s0', 's1', 's2']);
    expect(batch.pair[0].toArray()).toEqual([0, 1, 2]);
    expect(batch.pair[1].shape).toEqual([3, 1, 1]);
    torch.dispose(batch);
    expect(batch.x.isDisposed).toBe(true);
    // PyTorch's default_collate makes the same dtypes and values.
    const ref = py<{ y: string; w: string; ok: string }>(
      'from torch.utils.data import default_collate as c\n' +
        'b = c([{"y": i * 2, "w": i + 0.25, "ok": i % 2 == 0} for i in range(3)])\n' +
        'out = {k: str(v.dtype).replace("torch.", "") for k, v in b.items()}',
    );
    expect(ref).toEqual({ y: 'int64', w: 'float64', ok: 'bool' });
    expect(() => data.defaultCollate([torch.zeros([2]), torch.zeros([3])])).toThrow(/sample 0 has shape \[2\] and sample 1 has shape \[3\]/);
    expect(() => data.defaultCollate([{ a: 1 }, { b: 2 }])).toThrow(/sample 1 lacks key 'a'/);
    expect(() => data.defaultCollate([[1, 2], [3]])).toThrow(/equal size/);
  });

  it('batches built by the loader free their sample tensors, and disposed batches leave nothing behind', async () => {
    const x = rows(20, 3);
    const y = torch.arange(20);
    const ds = new data.TensorDataset(x, y);
    const generic: data.Dataset<{ a: Tensor; b: number }> = { length: 20, getItem: (i) => ({ a: x.select(0, i).mul(2), b: i }) };
    await collectGarbage();
    const base = torch.memory().tensors;
    for (const loader of [
      new data.DataLoader(ds, { batchSize: 6, shuffle: true, seed: 1 }),
      new data.DataLoader(generic, { batchSize: 6, shuffle: true, seed: 1 }),
    ]) {
      for (const batch of loader) torch.dispose(batch);
      for await (const batch of loader) torch.dispose(batch);
      torch.tidy(() => {
        for (const batch of loader) batch;
      });
    }
    // Prefetching, with an early exit: the prefetched batch is freed too.
    const pre = new data.DataLoader(generic, { batchSize: 4, prefetch: true });
    let seen = 0;
    for await (const batch of pre) {
      torch.dispose(batch);
      if (++seen === 2) break;
    }
    expect(seen).toBe(2);
    expect(torch.memory().tensors).toBe(base);
  });

  it('async iteration yields the same batches; prefetch builds the next batch before it is requested', async () => {
    const requested: number[] = [];
    const ds: data.Dataset<Tensor> = { length: 6, getItem: (i) => (requested.push(i), torch.tensor([i])) };
    const loader = new data.DataLoader(ds, { batchSize: 2, prefetch: true });
    const it = loader[Symbol.asyncIterator]();
    const first = await it.next();
    expect((first.value as Tensor).toArray()).toEqual([[0], [1]]);
    // The consumer awaits something: the loader uses that time to build batch 1.
    await new Promise((r) => setImmediate(r));
    expect(requested).toEqual([0, 1, 2, 3]);
    const got: unknown[] = [(first.value as Tensor).toArray()];
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      got.push(r.value.toArray());
      r.value.dispose();
    }
    expect(got).toEqual([[[0], [1]], [[2], [3]], [[4], [5]]]);
    const plain: unknown[] = [];
    for await (const b of new data.DataLoader(ds, { batchSize: 2 })) plain.push(b.toArray());
    expect(plain).toEqual(got);
    // next() called again before the previous call settled: served in order, nothing skipped or leaked.
    (first.value as Tensor).dispose();
    await collectGarbage();
    const base = torch.memory().tensors;
    for (const prefetch of [true, false]) {
      const par = new data.DataLoader(ds, { batchSize: 1, prefetch })[Symbol.asyncIterator]();
      const r0 = await par.next();
      const results = [r0, ...(await Promise.all([par.next(), par.next()]))];
      for (let i = 0; i < 4; i++) results.push(await par.next());
      expect(results.map((r) => (r.done ? 'done' : r.value.toArray()))).toEqual([[[0]], [[1]], [[2]], [[3]], [[4]], [[5]], 'done']);
      for (const r of results) if (!r.done) r.value.dispose();
    }
    expect(torch.memory().tensors).toBe(base);
    // Errors in a prefetched batch reach the consumer.
    const bad: data.Dataset<Tensor> = { length: 4, getItem: (i) => (i === 3 ? torch.zeros([2]) : torch.zeros([1])) };
    const seen: number[][] = [];
    await expect((async () => {
      for await (const b of new data.DataLoader(bad, { batchSize: 2, prefetch: true })) seen.push(b.shape);
    })()).rejects.toThrow(/stack expects each tensor to be equal size/);
    expect(seen).toEqual([[2, 1]]);
  });
});

describe('randomSplit and Subset', () => {
  it('splits by counts or fractions into disjoint subsets covering the dataset, reproducibly', () => {
    const ds = new data.TensorDataset(torch.arange(10));
    const parts = data.randomSplit(ds, [7, 3], { seed: 0 });
    expect(parts.map((p) => p.length)).toEqual([7, 3]);
    const all = [...parts[0].indices, ...parts[1].indices].sort((a, b) => a - b);
    expect(all).toEqual([...Array(10).keys()]);
    expect(parts[0].getItem(0)[0].item()).toBe(parts[0].indices[0]);
    expect(data.randomSplit(ds, [7, 3], { seed: 0 }).map((p) => p.indices)).toEqual(parts.map((p) => p.indices));
    expect(data.randomSplit(ds, [7, 3], { seed: 1 })[0].indices).not.toEqual(parts[0].indices);
    // Fractions: floor, then the remainder one by one from the first subset (PyTorch's rule).
    expect(data.randomSplit(ds, [0.33, 0.33, 0.34], { seed: 0 }).map((p) => p.length)).toEqual([4, 3, 3]);
    expect(data.randomSplit(ds, [0.5, 0.5], { generator: new data.Generator(7) }).map((p) => p.length)).toEqual([5, 5]);
    expect(() => data.randomSplit(ds, [5, 4])).toThrow(/sum of input lengths \(9\) does not equal the length of the input dataset \(10\)/);
    // A Subset of a TensorDataset keeps the indexSelect fast path.
    const loader = new data.DataLoader(parts[1], { batchSize: 3 });
    expect(collectAll(loader, ([b]) => b.toArray())).toEqual([parts[1].indices]);
    const sub = new data.Subset(ds, [9, 0, 4]);
    expect(sub.getItem(0)[0].item()).toBe(9);
    expect(() => new data.Subset(ds, [10])).toThrow(/index 10 is out of range/);
  });
});

describe('IDX files', () => {
  it('round trips uint8 tensors through plain and gzipped files', () => {
    torch.manualSeed(0);
    const images = torch.randint(0, 256, [4, 5, 3], { dtype: 'uint8' });
    const labels = torch.tensor([3, 1, 4, 1], { dtype: 'uint8' });
    for (const gzip of [false, true]) {
      const ip = join(dir, `images-${gzip}.idx`);
      const lp = join(dir, `labels-${gzip}.idx`);
      data.writeIdx(ip, images, { gzip });
      data.writeIdx(lp, labels, { gzip });
      const bytes = readFileSync(ip);
      if (gzip) expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
      else {
        expect([...bytes.subarray(0, 16)]).toEqual([0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 3]);
        expect(bytes.length).toBe(16 + 60);
      }
      const back = data.readIdx(ip);
      expect(back.dtype).toBe('uint8');
      expect(back.shape).toEqual([4, 5, 3]);
      expect(back.toArray()).toEqual(images.toArray());
      expect(data.readIdx(lp).toArray()).toEqual([3, 1, 4, 1]);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reads big-endian multi-byte types', () => {
    const int16 = Buffer.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);
    const t = data.parseIdx(int16);
    expect([t.dtype, t.toArray()]).toEqual(['int16', [258, -2]]);
    const f = torch.tensor([[1.5, -2], [3.25, 1e-3]]);
    expect(data.parseIdx(data.encodeIdx(f)).toArray()).toEqual(f.toArray());
    const f32 = data.encodeIdx(torch.tensor([1], { dtype: 'float32' }));
    expect([...f32.subarray(0, 12)]).toEqual([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0x80, 0, 0]);
  });

  it('rejects truncated files, bad magic, unknown types and size mismatches before allocating', () => {
    expect(() => data.parseIdx(Buffer.from([0, 0, 8]), 'x.idx')).toThrow(/x\.idx: truncated header: 3 bytes/);
    expect(() => data.parseIdx(Buffer.from([0x12, 0x34, 8, 1, 0, 0, 0, 0]))).toThrow(/bad magic number 0x12340801/);
    expect(() => data.parseIdx(Buffer.from([0, 0, 0x07, 1, 0, 0, 0, 0]))).toThrow(/unknown data type byte 0x07/);
    expect(() => data.parseIdx(Buffer.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0]))).toThrow(/truncated header: 3 dimensions need 16 bytes, the file has 10/);
    // A header claiming 2^32-1 x 2^32-1 bytes in a 20-byte file: an error, not a 16 EiB allocation.
    const huge = Buffer.from([0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    expect(() => data.parseIdx(huge)).toThrow(/need more than the 4 data bytes present/);
    expect(() => data.parseIdx(Buffer.from([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]))).toThrow(/need more than the 2 data bytes present/);
    expect(() => data.parseIdx(Buffer.from([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]))).toThrow(/dimensions \[2\] of uint8 need 2 data bytes, the file has 3/);
    const gz = gzipSync(Buffer.from([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4]));
    expect(data.parseIdx(gz).toArray()).toEqual([1, 2, 3, 4]);
    expect(() => data.parseIdx(gz.subarray(0, gz.length - 6))).toThrow(/gzip decompression failed/);
    expect(() => data.readIdx(join(dir, 'missing.idx'))).toThrow(/cannot read .*missing\.idx/);
    expect(() => data.fashionMnist({ root: join(dir, 'nowhere') })).toThrow(/train-images-idx3-ubyte\.gz not found\. .*apt-get install dataset-fashion-mnist/);
  });

  it('reads Fashion-MNIST from the Debian package (installed by scripts/setup.mjs)', () => {
    const ref = py<{ n: number[]; labels: number[][]; pixelSum: number }>(
      'import gzip\n' +
        'root = "/usr/share/datasets/fashion-mnist/"\n' +
        'lab = [gzip.open(root + p + "-labels-idx1-ubyte.gz").read() for p in ("train", "t10k")]\n' +
        'img = gzip.open(root + "train-images-idx3-ubyte.gz").read()\n' +
        'out = {"n": [len(l) - 8 for l in lab], "labels": [list(l[8:18]) for l in lab], "pixelSum": sum(img[16:16 + 784])}',
    );
    for (const [k, split] of (['train', 'test'] as const).entries()) {
      const { images, labels } = data.fashionMnist({ split });
      expect(images.shape).toEqual([ref.n[k], 28, 28]);
      expect(images.dtype).toBe('uint8');
      expect(labels.shape).toEqual([ref.n[k]]);
      expect(labels.dtype).toBe('int64');
      expect(labels.index([torch.slice(0, 10)]).toArray()).toEqual(ref.labels[k]);
      if (split === 'train') expect(images.select(0, 0).to('int64').sum().item()).toBe(ref.pixelSum);
      torch.dispose([images, labels]);
    }
    expect(ref.n).toEqual([60000, 10000]);
    expect(ref.labels[0]).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    const ds = data.fashionMnistDataset({ split: 'test' });
    const [x, y] = ds.getItem(0);
    expect([x.shape, x.dtype, y.item()]).toEqual([[1, 28, 28], 'float32', 9]);
    expect(x.max().item()).toBeLessThanOrEqual(1);
    expect(x.min().item()).toBeGreaterThanOrEqual(0);
    torch.dispose(ds.tensors);
  });
});

describe('text classification', () => {
  it('parses RFC 4180 CSV: quoted commas, doubled quotes, newlines, CRLF; errors name the line', () => {
    const csv = 'text,label\r\n"Hello, world",pos\r\n"She said ""hi""\nthen left",neg\nplain text,pos\n\n';
    const ex = data.parseTextClassification(csv, 'csv');
    expect(ex).toEqual([
      { text: 'Hello, world', label: 'pos', line: 2 },
      { text: 'She said "hi"\nthen left', label: 'neg', line: 3 },
      { text: 'plain text', label: 'pos', line: 5 },
    ]);
    expect(data.parseCsv('a,"",c\n')).toEqual([{ fields: ['a', '', 'c'], line: 1 }]);
    expect(() => data.parseTextClassification('text,label\n"a\nb,pos\n', 'csv')).toThrow(/line 2: unterminated quoted field/);
    expect(() => data.parseTextClassification('text,label\n"a\nb",pos\nx,y,z\n', 'csv')).toThrow(/line 4: expected 2 fields, got 3/);
    expect(() => data.parseTextClassification('text,label\nab"c,pos\n', 'csv')).toThrow(/line 2: quote inside an unquoted field/);
    expect(() => data.parseTextClassification('text,label\n"ab"c,pos\n', 'csv')).toThrow(/line 2: unexpected character "c" after a closing quote/);
    expect(() => data.parseTextClassification('body,label\nx,y\n', 'csv')).toThrow(/line 1: header \[body, label\] lacks column 'text'/);
    const custom = data.parseTextClassification('id,body,y\n1,x,z\n', 'csv', { textField: 'body', labelField: 'y' });
    expect(custom).toEqual([{ text: 'x', label: 'z', line: 2 }]);
  });

  it('parses JSONL and reads files by extension; errors name the file and line', () => {
    const jsonl = '{"text": "good movie", "label": 1}\n\n{"text": "bad, \\"really\\"", "label": "0"}\n';
    const p = join(dir, 'reviews.jsonl');
    writeFileSync(p, jsonl);
    expect(data.readTextClassification(p)).toEqual([
      { text: 'good movie', label: '1', line: 1 },
      { text: 'bad, "really"', label: '0', line: 3 },
    ]);
    const c = join(dir, 'reviews.csv');
    writeFileSync(c, 'label,text\n1,"a, b"\n');
    expect(data.readTextClassification(c)).toEqual([{ text: 'a, b', label: '1', line: 2 }]);
    expect(() => data.parseTextClassification('{"text": "a", "label": 1}\n{"text": "b", label: 2}\n', 'jsonl')).toThrow(/line 2: invalid JSON/);
    expect(() => data.parseTextClassification('{"text": "a", "label": 1}\n\n{"label": 2}\n', 'jsonl')).toThrow(/line 3: 'text' must be a string/);
    expect(() => data.parseTextClassification('[1]\n', 'jsonl')).toThrow(/line 1: expected an object/);
    writeFileSync(join(dir, 'bad.jsonl'), '{"text": "x"}\n');
    expect(() => data.readTextClassification(join(dir, 'bad.jsonl'))).toThrow(/bad\.jsonl: line 1: 'label' must be a string or number/);
    expect(() => data.readTextClassification(join(dir, 'x.txt'))).toThrow(/pass format/);
  });

  it('tokenizes words with apostrophes, lower-cases, adds bigrams', () => {
    const tok = new data.Tokenizer();
    expect(tok.tokenize("Don't 'quote' it's O'Neil\u2019s rock-n-roll, 42x!")).toEqual(["don't", 'quote', "it's", "o'neil's", 'rock', 'n', 'roll', '42x']);
    expect(new data.Tokenizer({ lowercase: false }).tokenize('New York')).toEqual(['New', 'York']);
    expect(new data.Tokenizer({ bigrams: true }).tokenize('new york city')).toEqual(['new', 'york', 'city', 'new york', 'york city']);
    expect(tok.tokenize('Café déjà-vu')).toEqual(['café', 'déjà', 'vu']);
  });

  it('builds a vocabulary with min frequency, OOV and padding; encodes to padded int64; saves and loads', () => {
    const texts = ['the cat sat', 'the cat ran', 'the dog sat', 'a bird'];
    const vocab = data.Vocab.build(texts, { minFreq: 2 });
    expect(vocab.tokens).toEqual(['<pad>', '<unk>', 'the', 'cat', 'sat']);
    expect([vocab.padIndex, vocab.oovIndex, vocab.length]).toEqual([0, 1, 5]);
    expect(vocab.indexOf('dog')).toBe(1);
    expect(vocab.encode('The cat and the dog')).toEqual([2, 3, 1, 2, 1]);
    expect(vocab.encode('The cat and the dog', { maxLength: 2 })).toEqual([2, 3]);
    const batch = vocab.encodeBatch(['the cat', 'sat the cat dog', '']);
    expect([batch.dtype, batch.shape]).toEqual(['int64', [3, 4]]);
    expect(batch.toArray()).toEqual([[2, 3, 0, 0], [4, 2, 3, 1], [0, 0, 0, 0]]);
    expect(vocab.encodeBatch(['sat the cat dog', 'cat'], { maxLength: 3 }).toArray()).toEqual([[4, 2, 3], [3, 0, 0]]);
    expect(vocab.decode([2, 3, 1, 0, 0])).toEqual(['the', 'cat', '<unk>']);

    const bi = data.Vocab.build(texts, { minFreq: 2, bigrams: true, padToken: '[PAD]', oovToken: '[UNK]' });
    expect(bi.tokens).toEqual(['[PAD]', '[UNK]', 'the', 'cat', 'sat', 'the cat']);
    expect(bi.encode('the cat sat')).toEqual([2, 3, 4, 5, 1]);
    expect(data.Vocab.build(texts, { maxSize: 4 }).tokens).toEqual(['<pad>', '<unk>', 'the', 'cat']);

    const path = join(dir, 'vocab.json');
    bi.save(path);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const back = data.Vocab.load(path);
    expect(back.tokens).toEqual(bi.tokens);
    expect([back.tokenizer.bigrams, back.tokenizer.lowercase]).toEqual([true, true]);
    expect(back.encode('The cat sat')).toEqual([2, 3, 4, 5, 1]);
    writeFileSync(join(dir, 'notvocab.json'), '{"tokens": 3}');
    expect(() => data.Vocab.load(join(dir, 'notvocab.json'))).toThrow(/is not a torchkd vocabulary/);
    writeFileSync(join(dir, 'broken.json'), '{');
    expect(() => data.Vocab.load(join(dir, 'broken.json'))).toThrow(/broken\.json: invalid JSON/);
    expect(() => data.Vocab.build(texts, { minFreq: 0 })).toThrow(TorchError);
    torch.dispose(batch);
  });

  it('label vocabularies sort numerically or lexically, encode to int64, save and load', () => {
    const nums = data.LabelVocab.build(['10', '2', '1', '2']);
    expect(nums.labels).toEqual(['1', '2', '10']);
    const names = data.LabelVocab.build(['pos', 'neg', 'neutral', 'neg']);
    expect(names.labels).toEqual(['neg', 'neutral', 'pos']);
    const t = names.encode(['pos', 'neg', 'pos']);
    expect([t.dtype, t.toArray()]).toEqual(['int64', [2, 0, 2]]);
    expect(() => names.indexOf('happy')).toThrow(/unknown label "happy"/);
    const path = join(dir, 'labels.json');
    names.save(path);
    expect(data.LabelVocab.load(path).labels).toEqual(names.labels);
    t.dispose();
  });

  it('end to end: read a CSV, build vocabularies, train-ready batches from a TensorDataset', () => {
    const path = join(dir, 'train.csv');
    writeFileSync(path, 'text,label\n"great, great film",pos\nawful film,neg\n"not ""great""",neg\ngreat fun,pos\n');
    const ex = data.readTextClassification(path);
    const vocab = data.Vocab.build(ex.map((e) => e.text));
    const labels = data.LabelVocab.build(ex.map((e) => e.label));
    const ds = new data.TensorDataset(vocab.encodeBatch(ex.map((e) => e.text), { maxLength: 3 }), labels.encode(ex.map((e) => e.label)));
    const [[x, y]] = [...new data.DataLoader(ds, { batchSize: 4 })];
    expect(vocab.tokens).toEqual(['<pad>', '<unk>', 'great', 'film', 'awful', 'fun', 'not']);
    expect(x.toArray()).toEqual([[2, 2, 3], [4, 3, 0], [6, 2, 0], [2, 5, 0]]);
    expect(y.toArray()).toEqual([1, 0, 0, 1]);
    torch.dispose([x, y, ds.tensors]);
  });
});
