// Tensor core: creation, dtypes, devices, read-back, seeding; values checked against Python PyTorch.
import { describe, expect, it } from 'vitest';
import { torch, Tensor, TorchError } from '../dist/index.js';
import { expectClose, py, testDevices } from './helpers';

const ALL_DTYPES = [
  'float32', 'float64', 'float16', 'bfloat16', 'int8', 'int16', 'int32', 'int64', 'uint8', 'bool',
  'complex64', 'complex128',
] as const;

describe('torch.tensor', () => {
  it('infers dtypes from JS data as PyTorch does from Python lists', () => {
    expect(torch.tensor([1, 2, 3]).dtype).toBe('int64');
    expect(torch.tensor([1.5, 2]).dtype).toBe('float32');
    expect(torch.tensor([true, false]).dtype).toBe('bool');
    expect(torch.tensor([1n, 2n]).dtype).toBe('int64');
    expect(torch.tensor(3.5).shape).toEqual([]);
    expect(torch.tensor([]).shape).toEqual([0]);
    expect(torch.tensor([]).dtype).toBe('float32');
    expect(torch.tensor([[1, 2], [3, 4], [5, 6]]).shape).toEqual([3, 2]);
  });

  it('takes TypedArrays with their own dtype, and an explicit shape', () => {
    const t = torch.tensor(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    expect(t.dtype).toBe('float64');
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(torch.tensor(new Int32Array([7, 8])).dtype).toBe('int32');
    expect(torch.tensor(new BigInt64Array([9007199254740993n])).dataSync()).toEqual(new BigInt64Array([9007199254740993n]));
    expect(torch.tensor(new Uint8Array([0, 2]), { dtype: 'bool' }).toArray()).toEqual([0, 1]);
  });

  it('reads interleaved Float32Array pairs as complex64', () => {
    const z = torch.tensor(new Float32Array([1, 2, 3, -4]), { dtype: 'complex64' });
    expect(z.shape).toEqual([2]);
    expect(z.toArray()).toEqual([[1, 2], [3, -4]]);
    expect(Array.from(z.dataSync())).toEqual([1, 2, 3, -4]);
  });

  it('round-trips every dtype through data() with the documented TypedArray', () => {
    const expected: Record<string, string> = {
      float32: 'Float32Array', float64: 'Float64Array', float16: 'Float32Array', bfloat16: 'Float32Array',
      int8: 'Int8Array', int16: 'Int16Array', int32: 'Int32Array', int64: 'BigInt64Array', uint8: 'Uint8Array',
      bool: 'Uint8Array', complex64: 'Float32Array', complex128: 'Float64Array',
    };
    for (const dtype of ALL_DTYPES) {
      const t = torch.tensor([[0, 1, 2], [3, 4, 5]], { dtype });
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([2, 3]);
      const data = t.dataSync();
      expect(data.constructor.name).toBe(expected[dtype]);
      const values = Array.from(data as ArrayLike<number | bigint>, Number);
      if (dtype === 'bool') expect(values).toEqual([0, 1, 1, 1, 1, 1]);
      else if (dtype.startsWith('complex')) expect(values).toEqual([0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0]);
      else expect(values).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  it('rounds float16 and bfloat16 as PyTorch does', () => {
    const values = [0.1, 1 / 3, 1000.7, -2.5e-3, 65504];
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const ours = torch.tensor(values, { dtype, device: 'cpu' }).toArray();
      const ref = py(`out = torch.tensor(inputs, dtype=torch.${dtype}).float().tolist()`, values);
      expect(ours).toEqual(ref);
    }
  });

  it('rejects ragged and non-numeric data with PyTorch-like messages', () => {
    expect(() => torch.tensor([[1, 2], [3]])).toThrow(/expected sequence of length 2 at dim 1 \(got 1\)/);
    expect(() => torch.tensor(['a' as unknown as number])).toThrow(/could not infer dtype of string/);
    expect(() => torch.tensor(new Float32Array(5), { shape: [2, 2] })).toThrow(/does not match shape/);
    expect(() => torch.tensor([1], { dtype: 'float128' as never })).toThrow(/unknown dtype "float128"/);
  });

  it('copies a tensor given to torch.tensor', () => {
    const a = torch.ones([2]);
    const b = torch.tensor(a);
    b.add_(1);
    expect(a.toArray()).toEqual([1, 1]);
    expect(b.toArray()).toEqual([2, 2]);
  });
});

describe('creation functions', () => {
  for (const device of testDevices()) {
    it(`zeros, ones, full, empty, eye on ${device}`, () => {
      expect(torch.zeros([2, 3], { device }).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
      expect(torch.zeros(2, 3).shape).toEqual([2, 3]);
      expect(torch.ones([2], { dtype: 'int32', device }).toArray()).toEqual([1, 1]);
      expect(torch.ones([2], { device }).device).toBe(device === 'cuda' ? 'cuda:0' : 'cpu');
      expect(torch.full([2, 2], 7, { device }).toArray()).toEqual([[7, 7], [7, 7]]);
      expect(torch.full([1], 7).dtype).toBe('int64');
      expect(torch.full([1], 0.5).dtype).toBe('float32');
      expect(torch.full([1], true).dtype).toBe('bool');
      expect(torch.empty([3, 4], { dtype: 'float64', device }).shape).toEqual([3, 4]);
      expect(torch.eye(3, { device }).toArray()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
      expect(torch.eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    });

    it(`arange and linspace on ${device} equal PyTorch`, () => {
      expect(torch.arange(5, { device }).toArray()).toEqual([0, 1, 2, 3, 4]);
      expect(torch.arange(5).dtype).toBe('int64');
      expect(torch.arange(1, 7, 2).toArray()).toEqual([1, 3, 5]);
      const ours = torch.arange(0, 1, 0.1, { device });
      expect(ours.dtype).toBe('float32');
      expect(ours.toArray()).toEqual(py('out = torch.arange(0, 1, 0.1).tolist()'));
      expect(torch.linspace(-1, 1, 7, { device }).toArray()).toEqual(py('out = torch.linspace(-1, 1, 7).tolist()'));
      expect(torch.linspace(0, 10, 5, { dtype: 'float64' }).toArray()).toEqual([0, 2.5, 5, 7.5, 10]);
    });
  }

  it('manualSeed gives the same numbers as torch.manual_seed on CPU', () => {
    torch.manualSeed(1234);
    const ours = {
      randn: torch.randn([3, 4]).toArray(),
      rand: torch.rand([5]).toArray(),
      randint: torch.randint(0, 10, [6]).toArray(),
      randint2: torch.randint(100, [3]).toArray(),
      randperm: torch.randperm(8).toArray(),
      randn64: torch.randn([4], { dtype: 'float64' }).toArray(),
    };
    const ref = py(`torch.manual_seed(1234)
out = dict(randn=torch.randn(3, 4).tolist(), rand=torch.rand(5).tolist(), randint=torch.randint(0, 10, (6,)).tolist(),
           randint2=torch.randint(100, (3,)).tolist(), randperm=torch.randperm(8).tolist(),
           randn64=torch.randn(4, dtype=torch.float64).tolist())`);
    expect(ours).toEqual(ref);
  });

  it('random functions have PyTorch dtypes and ranges', () => {
    const r = torch.randint(3, 7, [1000]);
    expect(r.dtype).toBe('int64');
    const values = r.toArray() as number[];
    expect(Math.min(...values)).toBe(3);
    expect(Math.max(...values)).toBe(6);
    expect((torch.randperm(50).toArray() as number[]).slice().sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    const u = torch.rand([10000]).toArray() as number[];
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const mean = u.reduce((s, x) => s + x, 0) / u.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
  });

  it('*Like variants take shape, dtype and device from their argument', () => {
    const base = torch.ones([2, 3], { dtype: 'float64' });
    for (const t of [torch.zerosLike(base), torch.onesLike(base), torch.emptyLike(base), torch.randLike(base),
      torch.randnLike(base), torch.fullLike(base, 2)]) {
      expect(t.shape).toEqual([2, 3]);
      expect(t.dtype).toBe('float64');
    }
    expect(torch.fullLike(base, 2).toArray()).toEqual([[2, 2, 2], [2, 2, 2]]);
    expect(torch.zerosLike(base, { dtype: 'int32' }).dtype).toBe('int32');
    const ri = torch.randintLike(torch.zeros([100], { dtype: 'int64' }), 5, 8).toArray() as number[];
    expect(ri.every((v) => v >= 5 && v < 8)).toBe(true);
  });

  it('requiresGrad can be set at creation and afterwards', () => {
    expect(torch.ones([2], { requiresGrad: true }).requiresGrad).toBe(true);
    const t = torch.zeros([2]);
    expect(t.requiresGrad).toBe(false);
    expect(t.requiresGrad_()).toBe(t);
    expect(t.requiresGrad).toBe(true);
    t.requiresGrad = false;
    expect(t.requiresGrad).toBe(false);
    expect(() => torch.ones([2], { dtype: 'int64' }).requiresGrad_()).toThrow(/floating point and complex/);
  });
});

describe('read-back and conversion', () => {
  it('shape, size, dim, numel, dtype, device', () => {
    const t = torch.zeros([2, 3, 4]);
    expect(t.shape).toEqual([2, 3, 4]);
    expect(t.size()).toEqual([2, 3, 4]);
    expect(t.size(-1)).toBe(4);
    expect(t.dim()).toBe(3);
    expect(t.ndim).toBe(3);
    expect(t.numel()).toBe(24);
    expect(t.stride()).toEqual([12, 4, 1]);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('cpu');
    expect(t.isContiguous()).toBe(true);
    expect(() => t.size(3)).toThrow(TorchError);
  });

  it('item() returns numbers; bool as 0/1; complex refused', () => {
    expect(torch.tensor([2.5]).item()).toBe(2.5);
    expect(torch.tensor(7).item()).toBe(7);
    expect(torch.tensor(true).item()).toBe(1);
    expect(() => torch.ones([2]).item()).toThrow(/item\(\).*one element|numel|a Tensor with 2 elements/);
    expect(() => torch.tensor(new Float32Array([1, 2]), { dtype: 'complex64' }).item()).toThrow(/complex/);
  });

  it('toArray() nests like tolist(); 0-d gives a number', () => {
    expect(torch.arange(6).toArray()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(torch.tensor(3).toArray()).toBe(3);
    expect(torch.zeros([2, 0]).toArray()).toEqual([[], []]);
  });

  it('t.data is PyTorch\'s: shared storage without history, and assignable', () => {
    torch.manualSeed(3);
    const w = torch.zeros([3, 2], { requiresGrad: true });
    const d = w.data;
    expect(d.requiresGrad).toBe(false);
    d.normal_(0, 0.01);                                  // m.weight.data.normal_(0, 0.01)
    const after = w.detach().toArray();
    const ref = py<{ w: number[][]; grad: number[][]; shape: number[]; same: boolean }>(`
torch.manual_seed(3)
w = torch.zeros(3, 2, requires_grad=True)
w.data.normal_(0, 0.01)
after = w.detach().tolist()
w.sum().backward()
w.data = torch.ones(4, dtype=torch.float32)
out = {'w': after, 'grad': w.grad.tolist(), 'shape': list(w.shape), 'same': w.requires_grad}
`);
    expect(after).toEqual(ref.w);
    w.sum().backward();                                  // the in-place fill was not recorded
    expect((w.grad as Tensor).toArray()).toEqual(ref.grad);
    w.data = torch.ones([4]);                            // p.data = q: new storage, same tensor
    expect(w.shape).toEqual(ref.shape);
    expect(w.requiresGrad).toBe(ref.same);
    expect(w.detach().toArray()).toEqual([1, 1, 1, 1]);
    expect(() => { w.data = [1, 2] as unknown as Tensor; }).toThrow(/data\(\): assigned value must be a Tensor/);
  });

  it('dataAsync() resolves to the same copy as dataSync()', async () => {
    const t = torch.randn([64, 33]);
    const sync = t.dataSync();
    const async = await t.dataAsync();
    expect(async).toEqual(sync);
    expect(await torch.tensor([1, 2], { dtype: 'float16' }).dataAsync()).toEqual(new Float32Array([1, 2]));
  });

  it('to() converts dtype and device, with PyTorch rounding', () => {
    const x = torch.tensor([1.7, -2.2, 3.5]);
    expect(x.to('int32').toArray()).toEqual([1, -2, 3]);
    expect(x.to({ dtype: 'float64' }).dtype).toBe('float64');
    expect(x.to('cpu').device).toBe('cpu');
    expect(x.to(torch.zeros([1], { dtype: 'int64' })).dtype).toBe('int64');
    expect(x.to('cpu', 'float16').dtype).toBe('float16');
    expect(x.double().dtype).toBe('float64');
    expect(x.long().dtype).toBe('int64');
    expect(x.bool().toArray()).toEqual([1, 1, 1]);
    expect(x.cpu().toArray()).toEqual(x.toArray());
    const copy = x.to({ copy: true });
    copy.mul_(0);
    expect(x.toArray()).not.toEqual(copy.toArray());
  });

  it('dtype constants and aliases are PyTorch names', () => {
    expect(torch.float32).toBe('float32');
    expect(torch.float).toBe('float32');
    expect(torch.long).toBe('int64');
    expect(torch.half).toBe('float16');
    expect(torch.cdouble).toBe('complex128');
    expect(torch.ones([1], { dtype: torch.double }).dtype).toBe('float64');
  });

  it('toString shows shape, dtype, device and small values', () => {
    expect(String(torch.tensor([[1, 2]]))).toBe('Tensor(shape=[1, 2], dtype=int64, device=cpu,\n  [[1,2]])');
    expect(torch.ones([1]) instanceof Tensor).toBe(true);
  });

  it('torch.cuda reports availability consistently', () => {
    const available = torch.cuda.isAvailable();
    expect(typeof available).toBe('boolean');
    expect(torch.cuda.deviceCount() > 0).toBe(available);
    if (!available) {
      expect(() => torch.cuda.memoryAllocated()).toThrow(/not compiled with CUDA|CUDA/);
      expect(() => torch.ones([1], { device: 'cuda' })).toThrow(TorchError);
      expect(() => torch.ones([1]).cuda()).toThrow(TorchError);
    } else {
      const before = torch.cuda.memoryAllocated();
      const t = torch.ones([1024, 1024], { device: 'cuda' });
      expect(torch.cuda.memoryAllocated()).toBeGreaterThanOrEqual(before + 4 * 1024 * 1024);
      expect(torch.cuda.memoryReserved()).toBeGreaterThanOrEqual(torch.cuda.memoryAllocated());
      t.dispose();
      torch.cuda.synchronize();
      torch.cuda.emptyCache();
      expect(torch.cuda.memoryAllocated()).toBe(before);
    }
  });
});

describe('first ops against PyTorch', () => {
  for (const device of testDevices()) {
    it(`add, mul, matmul, sum, relu, softmax on ${device}`, () => {
      torch.manualSeed(7);
      const a = torch.randn([3, 4]).to(device);
      const b = torch.randn([3, 4]).to(device);
      const m = torch.randn([4, 5]).to(device);
      const ours = {
        add: a.add(b).toArray(), addAlpha: a.add(b, 2.5).toArray(), addOpts: a.add(b, { alpha: -1 }).toArray(),
        addScalar: a.add(3).toArray(), mul: a.mul(b).toArray(), mulScalar: a.mul(0.5).toArray(),
        matmul: a.matmul(m).toArray(), sum: a.sum().item(), sum1: a.sum(1).toArray(),
        sumKeep: a.sum(1, { keepdim: true }).toArray(), sumDims: a.sum([0, 1]).item(),
        sumOpts: a.sum({ dim: 0, keepdim: true }).toArray(), relu: a.relu().toArray(),
        softmax: a.softmax(1).toArray(), softmax0: a.softmax({ dim: 0 }).toArray(),
        fnAdd: torch.add(a, b).toArray(), fnSoftmax: torch.softmax(a, -1).toArray(),
        broadcast: a.add(torch.ones([4], { device })).toArray(),
      };
      const ref = py(`torch.manual_seed(7)
a = torch.randn(3, 4); b = torch.randn(3, 4); m = torch.randn(4, 5)
out = dict(add=(a + b).tolist(), addAlpha=torch.add(a, b, alpha=2.5).tolist(), addOpts=torch.add(a, b, alpha=-1).tolist(),
           addScalar=(a + 3).tolist(), mul=(a * b).tolist(), mulScalar=(a * 0.5).tolist(), matmul=(a @ m).tolist(),
           sum=a.sum().item(), sum1=a.sum(1).tolist(), sumKeep=a.sum(1, keepdim=True).tolist(),
           sumDims=a.sum((0, 1)).item(), sumOpts=a.sum(0, keepdim=True).tolist(), relu=a.relu().tolist(),
           softmax=a.softmax(1).tolist(), softmax0=a.softmax(0).tolist(), fnAdd=torch.add(a, b).tolist(),
           fnSoftmax=torch.softmax(a, -1).tolist(), broadcast=(a + torch.ones(4)).tolist())`);
      if (device === 'cpu') expect(ours).toEqual(ref);
      else for (const k of Object.keys(ref as object)) expectClose((ours as never)[k], (ref as never)[k], 1e-5, 1e-6);
    });
  }

  it('integer scalars keep integer dtypes, fractional ones promote (Python int vs float)', () => {
    const i = torch.tensor([1, 2]);
    expect(i.add(1).dtype).toBe('int64');
    expect(i.add(0.5).dtype).toBe('float32');
    expect(i.mul(true).toArray()).toEqual([1, 2]);
    expect(torch.tensor([1, 2], { dtype: 'int32' }).add(torch.tensor([1.5])).dtype).toBe('float32');
  });

  it('in-place ops modify and return the same tensor', () => {
    const t = torch.ones([3]);
    expect(t.add_(torch.ones([3]), 2)).toBe(t);
    expect(t.toArray()).toEqual([3, 3, 3]);
    t.mul_(2).add_(1).mul_(torch.tensor([1, 0, -1], { dtype: 'float32' }));
    expect(t.toArray()).toEqual([7, 0, -7]);
    expect(() => torch.ones([3], { dtype: 'int64' }).add_(0.5)).toThrow(TorchError);
  });

  it('results require grad exactly when an input does (ops skip autograd bookkeeping otherwise)', () => {
    const leaf = torch.ones([2], { requiresGrad: true });
    const plain = torch.ones([2]);
    expect(leaf.add(1).requiresGrad).toBe(true);
    expect(plain.add(leaf).requiresGrad).toBe(true);
    expect(leaf.matmul(plain).requiresGrad).toBe(true);
    expect(leaf.sum().requiresGrad).toBe(true);
    expect(plain.add(plain).requiresGrad).toBe(false);
    expect(plain.softmax(0).requiresGrad).toBe(false);
    // A result computed without autograd can become a leaf of a new graph.
    expect(plain.mul(2).requiresGrad_().mul(3).requiresGrad).toBe(true);
    expect(() => leaf.add_(1)).toThrow(/a leaf Variable that requires grad is being used in an in-place operation/);
  });

  it('x.real, x.imag, x.T and x.mT are properties as in PyTorch', () => {
    const z = torch.complex(torch.tensor([1, 2], { dtype: 'float32' }), torch.tensor([3, 4], { dtype: 'float32' }));
    expect(z.real.toArray()).toEqual([1, 2]);
    expect(z.imag.toArray()).toEqual([3, 4]);
    z.real.mul_(10);
    expect(z.toArray()).toEqual([[10, 3], [20, 4]]);
    expect(torch.ones([2]).real.toArray()).toEqual([1, 1]);
    expect(() => torch.ones([2]).imag).toThrow(/imag is not implemented for tensors with non-complex dtypes/);
    const x = torch.arange(24).reshape([2, 3, 4]);
    expect(x.T.shape).toEqual([4, 3, 2]);
    expect(x.T.toArray()).toEqual(py('out = torch.arange(24).reshape(2, 3, 4).permute(2, 1, 0).tolist()'));
    expect(x.mT.shape).toEqual([2, 4, 3]);
  });

  it('sum dtype option accumulates in the requested type', () => {
    const t = torch.tensor([1, 2, 3], { dtype: 'int32' });
    expect(t.sum().dtype).toBe('int64');
    expect(t.sum({ dtype: 'float64' }).dtype).toBe('float64');
    expect(t.sum(0, false, { dtype: 'float32' }).dtype).toBe('float32');
  });
});
