// io: safetensors, torch.save state_dict files and TorchScript modules, each checked against Python's
// PyTorch (files written here are read there and the other way round).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { io, nn, torch, Tensor, TorchError } from '../dist/index.js';
import { expectClose, py } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'torchkd-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => join(dir, name);

const values = (t: Tensor): number[] => Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);

// Python: decode a safetensors file by the spec, with json + struct + torch.frombuffer.
const PY_READ_ST = `
import struct
ST = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
      'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8,
      'BOOL': torch.bool}
def read_st(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    res = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        b, e = v['data_offsets']
        t = torch.frombuffer(bytearray(data[b:e]), dtype=ST[v['dtype']]) if e > b else torch.empty(0, dtype=ST[v['dtype']])
        t = t.reshape(v['shape'])
        res[k] = {'dtype': v['dtype'], 'shape': v['shape'], 'offsets': [b, e],
                  'values': t.double().flatten().tolist()}
    return n, header.get('__metadata__'), res, len(data), raw[8:8 + n]
`;

/** A safetensors file from a header object (or raw header text) and data bytes. */
function stBytes(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

describe('io.saveSafetensors / io.loadSafetensors', () => {
  const make = (): Record<string, Tensor> => ({
    f64: torch.tensor([[1.5, -2.25], [3, 1e300]], { dtype: 'float64' }),
    f32: torch.tensor([0.1, -7, 3.5], { dtype: 'float32' }),
    f16: torch.tensor([0.5, -1.25, 65504], { dtype: 'float16' }),
    bf16: torch.tensor([1.5, -3, 256], { dtype: 'bfloat16' }),
    i64: torch.tensor([-(2 ** 40), 7, 2 ** 50], { dtype: 'int64' }),
    i32: torch.tensor([-5, 2147483647], { dtype: 'int32' }),
    i16: torch.tensor([-32768, 12], { dtype: 'int16' }),
    i8: torch.tensor([-128, 127, 0], { dtype: 'int8' }),
    u8: torch.tensor([0, 255, 17], { dtype: 'uint8' }),
    bool: torch.tensor([true, false, true]),
    transposed: torch.arange(0, 6, 1, { dtype: 'float32' }).reshape([2, 3]).t(),
    scalar: torch.tensor(4.5, { dtype: 'float64' }),
    empty: torch.zeros([0, 3], { dtype: 'float32' }),
  });

  it('round-trips every dtype, shape and the metadata', () => {
    const tensors = make();
    io.saveSafetensors(file('all.safetensors'), tensors, { metadata: { format: 'pt', note: 'ünïcode' } });
    const { tensors: back, metadata } = io.loadSafetensors(file('all.safetensors'));
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(back[name].dtype, name).toBe(t.dtype);
      expect(back[name].shape, name).toEqual(t.shape);
      expect(back[name].toArray(), name).toEqual(t.toArray());
    }
    expect(back.i64.dataSync()).toEqual(new BigInt64Array([-(2n ** 40n), 7n, 2n ** 50n]));
  });

  it('writes the format byte for byte as the spec says (read by Python with struct/json/frombuffer)', () => {
    const tensors = make();
    io.saveSafetensors(file('spec.safetensors'), tensors, { metadata: { k: 'v' } });
    const [n, meta, res, dataLength, headerText] = py<[number, Record<string, string>, Record<string,
      { dtype: string; shape: number[]; offsets: [number, number]; values: number[] }>, number, string]>(
      `${PY_READ_ST}\nn, meta, res, dl, h = read_st(inputs)\nout = [n, meta, res, dl, h.decode()]`, file('spec.safetensors'));
    expect(n % 8).toBe(0);
    expect(headerText).toMatch(/^\{.*\} *$/);
    expect(headerText.length - headerText.trimEnd().length).toBeLessThan(8);
    expect(meta).toEqual({ k: 'v' });
    const codes: Record<string, string> = {
      f64: 'F64', f32: 'F32', f16: 'F16', bf16: 'BF16', i64: 'I64', i32: 'I32', i16: 'I16', i8: 'I8', u8: 'U8',
      bool: 'BOOL', transposed: 'F32', scalar: 'F64', empty: 'F32',
    };
    // Offsets tile the data section exactly, in decreasing element size (each tensor aligned).
    const spans = Object.values(res).map((r) => r.offsets).sort((a, b) => a[0] - b[0]);
    let end = 0;
    for (const [b, e] of spans) { expect(b).toBe(end); end = e; }
    expect(end).toBe(dataLength);
    for (const [name, t] of Object.entries(tensors)) {
      expect(res[name].dtype, name).toBe(codes[name]);
      expect(res[name].shape, name).toEqual(t.shape);
      expect(res[name].values, name).toEqual(values(t.contiguous()));
      const size = { F64: 8, I64: 8, F32: 4, I32: 4 }[res[name].dtype] ?? 1;
      expect(res[name].offsets[0] % size, name).toBe(0);
    }
  });

  it('reads files Python writes', () => {
    const expected = py<Record<string, { dtype: string; shape: number[]; values: number[] }>>(`
import struct
torch.manual_seed(3)
ts = {'w': torch.randn(3, 4), 'b': torch.arange(5, dtype=torch.int64) - 2, 'h': torch.randn(2, 2).half(),
      'm': torch.tensor([True, False]), 'z': torch.randn(2).bfloat16()}
header, blobs, off = {'__metadata__': {'source': 'python'}}, [], 0
codes = {torch.float32: 'F32', torch.int64: 'I64', torch.float16: 'F16', torch.bool: 'BOOL', torch.bfloat16: 'BF16'}
for k, t in ts.items():
    raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else bytes(t.to(torch.uint8).tolist())
    header[k] = {'dtype': codes[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(raw)]}
    off += len(raw); blobs.append(raw)
h = json.dumps(header).encode()
h += b' ' * ((8 - len(h) % 8) % 8)
open(inputs, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
out = {k: {'dtype': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape), 'values': t.double().flatten().tolist()} for k, t in ts.items()}
`, file('py.safetensors'));
    const { tensors, metadata } = io.loadSafetensors(file('py.safetensors'));
    expect(metadata).toEqual({ source: 'python' });
    expect(Object.keys(tensors)).toEqual(['w', 'b', 'h', 'm', 'z']);
    for (const [name, e] of Object.entries(expected)) {
      expect(tensors[name].dtype, name).toBe(e.dtype);
      expect(tensors[name].shape, name).toEqual(e.shape);
      expect(values(tensors[name]), name).toEqual(e.values);
    }
  });

  it('refuses complex tensors and non-string metadata', () => {
    const c = torch.zeros([2], { dtype: 'complex64' });
    expect(() => io.saveSafetensors(file('c.safetensors'), { c })).toThrow(/complex64, which safetensors cannot store/);
    expect(() => io.saveSafetensors(file('c.safetensors'), { a: torch.zeros([1]) },
      { metadata: { n: 1 as unknown as string } })).toThrow(TorchError);
  });

  const f32 = (n: number): Uint8Array => new Uint8Array(new Float32Array(n).buffer);
  const bad: [string, Buffer, RegExp][] = [
    ['too short', Buffer.from([1, 2, 3]), /too short/],
    ['header length beyond the file', stBytes({}, new Uint8Array(0), 1n << 40n), /exceeds the file/],
    ['bad JSON', stBytes('{"a": '), /not valid JSON/],
    ['non-object header', stBytes('[1, 2]'), /not a JSON object/],
    ['unknown dtype', stBytes({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, f32(2)), /unsupported dtype "C64"/],
    ['offsets out of range', stBytes({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /beyond the data/],
    ['end before begin', stBytes({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, f32(2)), /end before they begin/],
    ['overlapping offsets', stBytes({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, f32(3)), /overlap or leave a gap/],
    ['a gap', stBytes({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(2)), /overlap or leave a gap/],
    ['trailing bytes', stBytes({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /cover 4 bytes of a 8-byte/],
    ['shape/byte-count mismatch', stBytes({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), /needs 12 bytes/],
    ['negative shape', stBytes({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /non-negative/],
    ['missing offsets', stBytes({ a: { dtype: 'F32', shape: [1] } }, f32(1)), /data_offsets must be/],
    ['non-string metadata', stBytes({ __metadata__: { a: 1 } }), /__metadata__\["a"\] is not a string/],
    ['bad BOOL bytes', stBytes({ a: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, new Uint8Array([1, 7])), /0 or 1/],
    ['huge shape', stBytes({ a: { dtype: 'F64', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, f32(2)), /needs/],
  ];
  for (const [name, bytes, message] of bad) {
    it(`refuses a file with ${name} (TorchError, nothing allocated)`, () => {
      writeFileSync(file('bad.safetensors'), bytes);
      const before = torch.memory().tensors;
      let error: unknown;
      try { io.loadSafetensors(file('bad.safetensors')); } catch (e) { error = e; }
      expect(error).toBeInstanceOf(TorchError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toMatch(/^io\.loadSafetensors\(\)/);
      expect(torch.memory().tensors).toBe(before);
    });
  }

  it('refuses a truncated file that was valid', () => {
    io.saveSafetensors(file('t.safetensors'), { a: torch.ones([16]) });
    const full = readFileSync(file('t.safetensors'));
    writeFileSync(file('t.safetensors'), full.subarray(0, full.length - 5));
    expect(() => io.loadSafetensors(file('t.safetensors'))).toThrow(/data_offsets \[0, 64\] lie beyond the data \(59 bytes\)/);
    expect(() => io.loadSafetensors(file('missing.safetensors'))).toThrow(/cannot open/);
  });

  it('a refused save leaves the previous file intact and no temporary file', () => {
    io.saveSafetensors(file('keep.safetensors'), { a: torch.ones([2]) });
    const before = readFileSync(file('keep.safetensors'));
    expect(() => io.saveSafetensors(file('keep.safetensors'), { a: torch.ones([2]), c: torch.zeros([1], { dtype: 'complex128' }) }))
      .toThrow(TorchError);
    expect(readFileSync(file('keep.safetensors'))).toEqual(before);
    expect(() => io.saveSafetensors(join(dir, 'no', 'such', 'dir.safetensors'), { a: torch.ones([1]) })).toThrow(/cannot write/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('io.loadStateDict / io.saveStateDict', () => {
  it('reads torch.save(state_dict) files, which load into nn.Module.loadStateDict', () => {
    const expected = py<Record<string, { dtype: string; shape: number[]; values: number[] }>>(`
import torch.nn as nn
torch.manual_seed(1)
m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
m.train(); m(torch.randn(8, 3))
torch.save(m.state_dict(), inputs)
out = {k: {'dtype': str(v.dtype).replace('torch.', ''), 'shape': list(v.shape), 'values': v.double().flatten().tolist()}
       for k, v in m.state_dict().items()}
`, file('sd.pt'));
    const sd = io.loadStateDict(file('sd.pt'));
    expect(Object.keys(sd)).toEqual(Object.keys(expected));
    for (const [name, e] of Object.entries(expected)) {
      expect(sd[name].dtype, name).toBe(e.dtype);
      expect(sd[name].shape, name).toEqual(e.shape);
      expect(values(sd[name]), name).toEqual(e.values);
    }
    const m = new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4));
    const result = m.loadStateDict(sd);
    expect(result.missingKeys).toEqual([]);
    expect(result.unexpectedKeys).toEqual([]);
    expect(values(m.stateDict()['1.running_mean'])).toEqual(expected['1.running_mean'].values);
    expect(values(m.stateDict()['0.weight'])).toEqual(expected['0.weight'].values);
  });

  it('rebuilds views: strided tensors and entries sharing one storage', () => {
    const expected = py<Record<string, number[][]>>(`
base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
d = {'t': base.t(), 'row': base[1], 'col': base[:, 2], 'h': torch.tensor([0.5, 2.0]).half(), 'b': torch.tensor([True, False])}
torch.save(d, inputs)
out = {k: v.double().tolist() for k, v in d.items()}
`, file('views.pt'));
    const sd = io.loadStateDict(file('views.pt'));
    for (const [name, e] of Object.entries(expected)) expect(sd[name].double().toArray(), name).toEqual(e);
    expect(sd.t.shape).toEqual([4, 3]);
    expect(sd.t.stride()).toEqual([1, 4]);
    expect(sd.h.dtype).toBe('float16');
    expect(sd.b.dtype).toBe('bool');
  });

  it('writes files that Python torch.load reads', () => {
    const sd = {
      'fc.weight': torch.tensor([[1.5, -2], [0.25, 8]]),
      'fc.bias': torch.tensor([0.5, -0.5], { dtype: 'float64' }),
      steps: torch.tensor(7, { dtype: 'int64' }),
      half: torch.tensor([1.5, -2], { dtype: 'float16' }),
      mask: torch.tensor([true, false, true]),
      strided: torch.arange(0, 6, 1, { dtype: 'int32' }).reshape([2, 3]).t(),
    };
    io.saveStateDict(file('out.pt'), sd);
    const back = py<Record<string, { dtype: string; shape: number[]; values: number[] }>>(`
d = torch.load(inputs, weights_only=True)
out = {k: {'dtype': str(v.dtype).replace('torch.', ''), 'shape': list(v.shape), 'values': v.double().flatten().tolist()}
       for k, v in d.items()}
`, file('out.pt'));
    expect(Object.keys(back)).toEqual(Object.keys(sd));
    for (const [name, t] of Object.entries(sd)) {
      expect(back[name].dtype, name).toBe(t.dtype);
      expect(back[name].shape, name).toEqual(t.shape);
      expect(back[name].values, name).toEqual(values(t.contiguous()));
    }
    // And torchkd reads its own files.
    const again = io.loadStateDict(file('out.pt'));
    for (const [name, t] of Object.entries(sd)) expect(again[name].toArray(), name).toEqual(t.toArray());
  });

  it('io.save writes nested values that torch.load(weights_only=True) reads as Python values', () => {
    const w = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
    io.save({
      model: { 'fc.weight': w, 'fc.bias': torch.tensor([0.5], { dtype: 'bfloat16' }) },
      epoch: 3, lr: 0.001, negative: -7, big: 2 ** 40, huge: -(2n ** 70n), ratio: 1.5e300,
      name: 'résumé ✓', flags: [true, false, null], shape: new io.Tuple([2, 3]),
      byIndex: new Map<number, io.Picklable>([[0, 'zero'], [1, [1.25, 'x']]]), empty: {}, none: [],
    }, file('nested.pt'));
    const back = py<Record<string, unknown>>(`
import pickle
try:
    d = torch.load(inputs, weights_only=True); weights_only = True; torch_own = True
except pickle.UnpicklingError:
    # 1.13's weights-only unpickler knows no floats (BINFLOAT): PyTorch's own files with one fail alike.
    torch.save({'x': 0.5}, inputs + '.py.pt')
    try:
        torch.load(inputs + '.py.pt', weights_only=True); torch_own = True
    except pickle.UnpicklingError:
        torch_own = False
    d = torch.load(inputs, weights_only=False); weights_only = False
m = d['model']
out = {
  'weightsOnly': weights_only, 'torchOwn': torch_own,
  'types': {k: type(v).__name__ for k, v in d.items()},
  'weight': m['fc.weight'].tolist(), 'wdtype': str(m['fc.weight'].dtype), 'bias': str(m['fc.bias'].dtype),
  'epoch': d['epoch'], 'lr': d['lr'], 'negative': d['negative'], 'big': d['big'], 'huge': str(d['huge']),
  'ratio': d['ratio'], 'name': d['name'], 'flags': d['flags'], 'shape': list(d['shape']),
  'byIndex': {str(k): v for k, v in d['byIndex'].items()}, 'empty': d['empty'], 'none': d['none'],
}
`, file('nested.pt'));
    // weights_only=True reads it wherever it reads PyTorch's own files of the same values.
    expect(back.weightsOnly || !back.torchOwn).toBe(true);
    expect(back.types).toMatchObject({ model: 'OrderedDict', epoch: 'int', lr: 'float', big: 'int', huge: 'int',
      ratio: 'float', name: 'str', flags: 'list', shape: 'tuple', byIndex: 'OrderedDict', empty: 'OrderedDict', none: 'list' });
    expect(back).toMatchObject({
      weight: [[1, 2], [3, 4]], wdtype: 'torch.float32', bias: 'torch.bfloat16', epoch: 3, lr: 0.001, negative: -7,
      big: 2 ** 40, huge: String(-(2n ** 70n)), ratio: 1.5e300, name: 'résumé ✓', flags: [true, false, null],
      shape: [2, 3], byIndex: { 0: 'zero', 1: [1.25, 'x'] }, empty: {}, none: [],
    });
    const cyclic: Record<string, io.Picklable> = {};
    cyclic.self = cyclic;
    expect(() => io.save(cyclic, file('cyclic.pt'))).toThrow(/io.save\(\): the value contains a cycle/);
    expect(() => io.save({ when: new Date() as unknown as io.Picklable }, file('date.pt'))).toThrow(/cannot save a Date/);
    expect(existsSync(file('cyclic.pt'))).toBe(false);
  });

  it('refuses files that are not state_dicts of tensors, without running their pickles', () => {
    py(`
import collections
torch.save({'a': torch.zeros(2), 'c': collections.Counter('ab')}, inputs)
out = 0
`, file('counter.pt'));
    expect(() => io.loadStateDict(file('counter.pt'))).toThrow(/collections\.Counter.*refused/);
    py(`torch.save([torch.zeros(2)], inputs)\nout = 0`, file('list.pt'));
    expect(() => io.loadStateDict(file('list.pt'))).toThrow(/does not hold a dict/);
    const good = readFileSync(file('list.pt'));
    for (const cut of [good.length - 10, Math.floor(good.length / 2), 30]) {
      writeFileSync(file('cut.pt'), good.subarray(0, cut));
      expect(() => io.loadStateDict(file('cut.pt')), `cut at ${cut}`).toThrow(TorchError);
    }
    const corrupt = Buffer.from(readFileSync(file('sd.pt')));
    corrupt.writeUInt32LE(0, 0); // the first entry's local header signature
    writeFileSync(file('cut.pt'), corrupt);
    expect(() => io.loadStateDict(file('cut.pt'))).toThrow(/corrupt zip entry/);
    writeFileSync(file('junk.pt'), Buffer.from('definitely not a zip file'));
    expect(() => io.loadStateDict(file('junk.pt'))).toThrow(/not a zip archive/);
    expect(() => io.loadStateDict(file('absent.pt'))).toThrow(/cannot read/);
  });
});

describe('io.loadTorchScript', () => {
  const src = file('teachers.py');
  writeFileSync(src, `
import torch
from typing import Dict, Tuple

class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4 * 5 * 5, 3)

    def hidden(self, x):
        return torch.relu(self.bn(self.conv(x)))

    def forward(self, x):
        return self.fc(self.hidden(x).flatten(1))

class TupleCNN(CNN):
    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(x)
        return self.fc(h.flatten(1)), h

class DictCNN(CNN):
    def forward(self, x) -> Dict[str, torch.Tensor]:
        h = self.hidden(x)
        return {'logits': self.fc(h.flatten(1)), 'hidden': h}
`);
  // Python scripts and saves the three teachers, then reports outputs and gradients for input x.
  const PY = `
import importlib.util, sys
spec = importlib.util.spec_from_file_location('teachers', inputs['src'])
mod = importlib.util.module_from_spec(spec); sys.modules['teachers'] = mod; spec.loader.exec_module(mod)
res = {}
for name in ['CNN', 'TupleCNN', 'DictCNN']:
    torch.manual_seed(0)
    m = torch.jit.script(getattr(mod, name)().double())
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.5, 0.5); m.bn.running_var.uniform_(0.5, 2)
    m.eval()
    m.save(inputs['dir'] + '/' + name + '.pt')
    x = torch.tensor(inputs['x'], dtype=torch.float64).reshape(2, 2, 5, 5).requires_grad_()
    o = m(x)
    logits = o if name == 'CNN' else (o[0] if name == 'TupleCNN' else o['logits'])
    hidden = None if name == 'CNN' else (o[1] if name == 'TupleCNN' else o['hidden'])
    loss = (logits * logits).sum() + (0 if hidden is None else hidden.sum())
    loss.backward()
    m.train()
    train_out = m(x.detach())
    train_logits = train_out if name == 'CNN' else (train_out[0] if name == 'TupleCNN' else train_out['logits'])
    res[name] = {'logits': logits.flatten().tolist(), 'hidden': None if hidden is None else hidden.flatten().tolist(),
                 'xgrad': x.grad.flatten().tolist(), 'wgrad': m.conv.weight.grad.flatten().tolist(),
                 'params': [n for n, _ in m.named_parameters()], 'train_logits': train_logits.flatten().tolist()}
out = res
`;
  interface Res { logits: number[]; hidden: number[] | null; xgrad: number[]; wgrad: number[]; params: string[]; train_logits: number[] }
  const xValues = Array.from({ length: 2 * 2 * 5 * 5 }, (_, i) => Math.sin(i * 0.37) * 2);
  const expected = py<Record<string, Res>>(PY, { src, dir, x: xValues });
  const flat = (t: Tensor): number[] => values(t.flatten());

  for (const name of ['CNN', 'TupleCNN', 'DictCNN']) {
    it(`${name}: forward and gradients (input and parameters) equal PyTorch's`, () => {
      const e = expected[name];
      const m = io.loadTorchScript(join(dir, `${name}.pt`));
      expect(m.training).toBe(false);
      expect(m.namedParameters().map(([n]) => n)).toEqual(e.params);
      const x = torch.tensor(xValues, { dtype: 'float64' }).reshape([2, 2, 5, 5]).requiresGrad_();
      const out = m.forward(x);
      let logits: Tensor;
      let hidden: Tensor | null = null;
      if (name === 'CNN') {
        expect(out).toBeInstanceOf(Tensor);
        logits = out as Tensor;
      } else if (name === 'TupleCNN') {
        expect(Array.isArray(out)).toBe(true);
        [logits, hidden] = out as Tensor[];
      } else {
        const o = out as { logits: Tensor; hidden: Tensor };
        expect(Object.keys(o)).toEqual(['logits', 'hidden']);
        ({ logits, hidden } = o);
      }
      expectClose(flat(logits), e.logits, 1e-6, 1e-9);
      if (hidden) expectClose(flat(hidden), e.hidden, 1e-6, 1e-9);
      const loss = hidden ? logits.mul(logits).sum().add(hidden.sum()) : logits.mul(logits).sum();
      loss.backward();
      expectClose(flat(x.grad as Tensor), e.xgrad, 1e-6, 1e-9);
      const convWeight = m.namedParameters().find(([n]) => n === 'conv.weight')?.[1] as Tensor;
      expectClose(flat(convWeight.grad as Tensor), e.wgrad, 1e-6, 1e-9);

      // train() switches BatchNorm to batch statistics, as in PyTorch.
      expect(m.train().training).toBe(true);
      const trainOut = torch.noGrad(() => m.forward(x.detach()));
      const trainLogits = trainOut instanceof Tensor ? trainOut : Array.isArray(trainOut) ? trainOut[0] as Tensor
        : (trainOut as { logits: Tensor }).logits;
      expectClose(flat(trainLogits), e.train_logits, 1e-6, 1e-9);
      expect(m.eval().training).toBe(false);
      m.dispose();
    });
  }

  it('forwardTensor, to(device), parameters, buffers, stateDict and dispose', () => {
    const m = io.loadTorchScript(join(dir, 'CNN.pt'), { device: 'cpu' });
    expect(m.to('cpu')).toBe(m);
    expect(m.parameters().length).toBe(6);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    expect(Object.keys(m.stateDict())).toContain('bn.running_var');
    const x = torch.tensor(xValues, { dtype: 'float64' }).reshape([2, 2, 5, 5]);
    expectClose(flat(m.forwardTensor(x)), expected.CNN.logits, 1e-6, 1e-9);
    const tuple = io.loadTorchScript(join(dir, 'TupleCNN.pt'));
    expect(() => tuple.forwardTensor(x)).toThrow(/did not return a single Tensor/);
    expect(() => m.forward(torch.zeros([1, 3, 5, 5], { dtype: 'float64' }))).toThrow(TorchError);
    m.dispose();
    m.dispose();
    expect(() => m.forward(x)).toThrow(/disposed/);
    tuple.dispose();
  });

  it('reports unreadable files as TorchError', () => {
    expect(() => io.loadTorchScript(file('nope.pt'))).toThrow(TorchError);
    writeFileSync(file('junk.pt'), 'junk');
    expect(() => io.loadTorchScript(file('junk.pt'))).toThrow(/io\.loadTorchScript\(\)/);
  });
});

describe('io entry points', () => {
  it('io is a named export of the ESM entry, sharing the CommonJS instance', async () => {
    const esm = (await import('../dist/index.mjs')) as { io: typeof io };
    expect(esm.io).toBe(io);
    io.saveSafetensors(file('esm.safetensors'), { a: torch.tensor([1, 2, 3], { dtype: 'int32' }) });
    expect(esm.io.loadSafetensors(file('esm.safetensors')).tensors.a.toArray()).toEqual([1, 2, 3]);
  });
});
