// nn: modules and layers against PyTorch. Each layer gets the same weights in torchkd and in PyTorch
// (sent as JSON); forward outputs, input gradients and parameter gradients must agree in float64.
import { beforeAll, describe, expect, it } from 'vitest';
import { nn, torch, Tensor, TorchError } from '../dist/index.js';
import { expectClose, py } from './helpers';

interface Enc { shape: number[]; dtype: string; values: number[] }
const enc = (t: Tensor): Enc => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number | bigint>, Number) });
const encSd = (m: nn.Module): Record<string, Enc> =>
  torch.tidy(() => Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, enc(v)])));
const flat = (t: Tensor): number[] => Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);

// Python helpers shared by the reference programs.
const PY_PRELUDE = `
import torch.nn as nn
import torch.nn.functional as F
def dec(e):
    return torch.tensor(e['values'], dtype=getattr(torch, e['dtype'])).reshape(e['shape'])
def load(m, sd):
    m.load_state_dict({k: dec(v) for k, v in sd.items()})
def fl(t):
    return t.detach().flatten().tolist()
`;

interface LayerCase {
  name: string;
  make: () => nn.Module & { forward(x: Tensor): Tensor };
  py: string;
  input: () => Tensor;
  training?: boolean;
  /** Run the forward under this seed in both (dropout). */
  seed?: number;
}

const randn = (shape: number[]) => torch.randn(shape, { dtype: 'float64' });

const CASES: LayerCase[] = [
  { name: 'Linear', make: () => new nn.Linear(5, 3), py: 'nn.Linear(5, 3)', input: () => randn([4, 5]) },
  { name: 'Linear (no bias, 3-d input)', make: () => new nn.Linear(5, 3, { bias: false }), py: 'nn.Linear(5, 3, bias=False)', input: () => randn([2, 4, 5]) },
  { name: 'Embedding (paddingIdx)', make: () => new nn.Embedding(10, 4, { paddingIdx: 1 }), py: 'nn.Embedding(10, 4, padding_idx=1)',
    input: () => torch.tensor([[1, 2, 3], [4, 1, 9]], { dtype: 'int64' }) },
  { name: 'LayerNorm', make: () => new nn.LayerNorm([3, 4]), py: 'nn.LayerNorm([3, 4])', input: () => randn([2, 3, 4]) },
  { name: 'LayerNorm (no affine, eps)', make: () => new nn.LayerNorm(4, { elementwiseAffine: false, eps: 1e-3 }),
    py: 'nn.LayerNorm(4, elementwise_affine=False, eps=1e-3)', input: () => randn([3, 4]) },
  { name: 'BatchNorm1d (no running stats, eval uses batch stats)', make: () => new nn.BatchNorm1d(3, { trackRunningStats: false }),
    py: 'nn.BatchNorm1d(3, track_running_stats=False)', input: () => randn([5, 3]), training: false },
  { name: 'BatchNorm2d (no affine, eps, momentum)', make: () => new nn.BatchNorm2d(2, { affine: false, eps: 1e-3, momentum: 0.3 }),
    py: 'nn.BatchNorm2d(2, affine=False, eps=1e-3, momentum=0.3)', input: () => randn([3, 2, 2, 2]), training: true },
  { name: 'Embedding (scaleGradByFreq)', make: () => new nn.Embedding(6, 3, { scaleGradByFreq: true }), py: 'nn.Embedding(6, 3, scale_grad_by_freq=True)',
    input: () => torch.tensor([[1, 1, 2], [5, 1, 0]], { dtype: 'int64' }) },
  { name: 'GroupNorm', make: () => new nn.GroupNorm(2, 4), py: 'nn.GroupNorm(2, 4)', input: () => randn([3, 4, 5]) },
  { name: 'BatchNorm1d (train)', make: () => new nn.BatchNorm1d(3), py: 'nn.BatchNorm1d(3)', input: () => randn([6, 3]), training: true },
  { name: 'BatchNorm1d (eval, 3-d)', make: () => new nn.BatchNorm1d(3), py: 'nn.BatchNorm1d(3)', input: () => randn([4, 3, 5]), training: false },
  { name: 'BatchNorm2d (train, momentum null)', make: () => new nn.BatchNorm2d(3, { momentum: null }), py: 'nn.BatchNorm2d(3, momentum=None)',
    input: () => randn([4, 3, 2, 2]), training: true },
  { name: 'BatchNorm2d (eval)', make: () => new nn.BatchNorm2d(3), py: 'nn.BatchNorm2d(3)', input: () => randn([2, 3, 3, 3]), training: false },
  { name: 'Conv1d', make: () => new nn.Conv1d(4, 6, 3, { stride: 2, padding: 1 }), py: 'nn.Conv1d(4, 6, 3, stride=2, padding=1)', input: () => randn([2, 4, 9]) },
  { name: 'Conv2d (groups, stride)', make: () => new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 }),
    py: 'nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)', input: () => randn([2, 4, 7, 7]) },
  { name: "Conv2d (padding 'same', dilation, no bias)", make: () => new nn.Conv2d(3, 2, [3, 2], { padding: 'same', dilation: 2, bias: false }),
    py: "nn.Conv2d(3, 2, (3, 2), padding='same', dilation=2, bias=False)", input: () => randn([1, 3, 6, 5]) },
  { name: 'ConvTranspose2d', make: () => new nn.ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    py: 'nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)', input: () => randn([2, 4, 5, 5]) },
  { name: 'MaxPool2d', make: () => new nn.MaxPool2d(2), py: 'nn.MaxPool2d(2)', input: () => randn([2, 3, 6, 6]) },
  { name: 'MaxPool2d (stride, padding, ceilMode)', make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
    py: 'nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)', input: () => randn([1, 2, 6, 6]) },
  { name: 'AvgPool2d', make: () => new nn.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
    py: 'nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)', input: () => randn([2, 3, 7, 7]) },
  { name: 'AdaptiveAvgPool2d', make: () => new nn.AdaptiveAvgPool2d([2, 3]), py: 'nn.AdaptiveAvgPool2d((2, 3))', input: () => randn([2, 3, 5, 7]) },
  { name: 'Flatten', make: () => new nn.Flatten(), py: 'nn.Flatten()', input: () => randn([2, 3, 4]) },
  { name: 'Identity', make: () => new nn.Identity(), py: 'nn.Identity()', input: () => randn([2, 3]) },
  { name: 'ReLU', make: () => new nn.ReLU(), py: 'nn.ReLU()', input: () => randn([3, 4]) },
  { name: 'GELU', make: () => new nn.GELU(), py: 'nn.GELU()', input: () => randn([3, 4]) },
  { name: "GELU('tanh')", make: () => new nn.GELU('tanh'), py: "nn.GELU('tanh')", input: () => randn([3, 4]) },
  { name: 'SiLU', make: () => new nn.SiLU(), py: 'nn.SiLU()', input: () => randn([3, 4]) },
  { name: 'Tanh', make: () => new nn.Tanh(), py: 'nn.Tanh()', input: () => randn([3, 4]) },
  { name: 'Sigmoid', make: () => new nn.Sigmoid(), py: 'nn.Sigmoid()', input: () => randn([3, 4]) },
  { name: 'Softmax', make: () => new nn.Softmax(1), py: 'nn.Softmax(1)', input: () => randn([3, 4]) },
  { name: 'Dropout (train, same seed)', make: () => new nn.Dropout(0.3), py: 'nn.Dropout(0.3)', input: () => randn([8, 16]), training: true, seed: 7 },
  { name: 'Dropout (eval)', make: () => new nn.Dropout(0.3), py: 'nn.Dropout(0.3)', input: () => randn([4, 5]), training: false },
  { name: 'Sequential (Conv2d, BatchNorm2d, ReLU, MaxPool2d, Flatten, Linear)',
    make: () => new nn.Sequential(new nn.Conv2d(2, 3, 3, { padding: 1 }), new nn.BatchNorm2d(3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Flatten(), new nn.Linear(12, 4)),
    py: 'nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 4))',
    input: () => randn([2, 2, 4, 4]), training: true },
];

interface Result { y: number[]; xgrad: number[] | null; grads: Record<string, number[]>; sd: Record<string, number[]> }
interface Prepared { y: Tensor; xgrad: Tensor | null; grads: Record<string, Tensor>; sd: Record<string, number[]>; keys: string[] }

describe('layers match PyTorch (float64: outputs, input and parameter gradients)', () => {
  const prepared: Prepared[] = [];
  let results: Result[] = [];
  beforeAll(() => {
    torch.manualSeed(1234);
    const payload = CASES.map((c) => {
      const m = c.make().to('float64');
      // Random parameters and running stats, so that every term of the layer matters.
      for (const p of m.parameters()) nn.init.normal_(p);
      for (const [name, b] of m.namedBuffers()) {
        if (name.endsWith('running_mean')) nn.init.normal_(b);
        if (name.endsWith('running_var')) nn.init.uniform_(b, 0.5, 2);
      }
      m.train(c.training ?? true);
      const sd0 = encSd(m);
      const x = c.input();
      const xin = enc(x);
      if (x.dtype === 'float64') x.requiresGrad_(true);
      if (c.seed !== undefined) torch.manualSeed(c.seed);
      const y = m.call(x);
      const g = randn(y.shape);
      y.mul(g).sum().backward();
      prepared.push({
        y, xgrad: x.dtype === 'float64' ? x.grad : null,
        grads: Object.fromEntries(m.namedParameters().map(([n, p]) => [n, p.grad as Tensor])),
        sd: Object.fromEntries(Object.entries(encSd(m)).map(([k, v]) => [k, v.values])),
        keys: Object.keys(m.stateDict()),
      });
      return { ctor: c.py, sd: sd0, x: xin, g: enc(g), training: c.training ?? true, seed: c.seed ?? null };
    });
    results = py<Result[]>(`${PY_PRELUDE}
out = []
for c in inputs:
    m = eval(c['ctor']).double()
    load(m, c['sd'])
    m.train(c['training'])
    x = dec(c['x'])
    if x.is_floating_point():
        x.requires_grad_()
    if c['seed'] is not None:
        torch.manual_seed(c['seed'])
    y = m(x)
    (y * dec(c['g'])).sum().backward()
    out.append({'y': fl(y), 'xgrad': fl(x.grad) if x.grad is not None else None,
                'grads': {n: fl(p.grad) for n, p in m.named_parameters()},
                'sd': {k: fl(v) for k, v in m.state_dict().items()}})
`, payload);
  });

  CASES.forEach((c, i) => {
    it(c.name, () => {
      const p = prepared[i];
      const r = results[i];
      expectClose(flat(p.y), r.y, 1e-10, 1e-12);
      if (r.xgrad !== null) {
        expect(p.xgrad).not.toBeNull();
        expectClose(flat(p.xgrad as Tensor), r.xgrad, 1e-10, 1e-12);
      }
      expect(Object.keys(p.grads)).toEqual(Object.keys(r.grads));
      for (const [n, gr] of Object.entries(r.grads)) expectClose(flat(p.grads[n]), gr, 1e-10, 1e-12);
      // State after the forward (running stats, num_batches_tracked) and its keys.
      expect(p.keys).toEqual(Object.keys(r.sd));
      for (const [k, v] of Object.entries(r.sd)) expectClose(p.sd[k], v, 1e-10, 1e-12);
    });
  });
});

class Small extends nn.Module {
  conv = this.registerModule('conv', new nn.Conv2d(3, 4, 3));
  bn = this.registerModule('bn', new nn.BatchNorm2d(4));
  head = this.registerModule('head', new nn.Sequential(new nn.Flatten(), new nn.Linear(4 * 4 * 4, 5)));
  forward(x: Tensor): Tensor {
    return this.head.call(this.bn.call(this.conv.call(x)).relu()) as Tensor;
  }
}
const PY_SMALL = `
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    def forward(self, x):
        return self.head(self.bn(self.conv(x)).relu())
`;

describe('state dicts', () => {
  it('keys, order and default initialisation equal PyTorch under the same manual seed', () => {
    torch.manualSeed(0);
    const m = new Small();
    const ref = py<Record<string, number[]>>(`${PY_PRELUDE}${PY_SMALL}
torch.manual_seed(0)
m = Small()
out = {k: fl(v) for k, v in m.state_dict().items()}
`);
    const sd = m.stateDict();
    expect(Object.keys(sd)).toEqual(Object.keys(ref));
    expect(Object.keys(sd)).toEqual(['conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var',
      'bn.num_batches_tracked', 'head.1.weight', 'head.1.bias']);
    // Uniform draws are bit-identical.
    for (const [k, v] of Object.entries(ref)) expect(flat(sd[k])).toEqual(v);
    expect(sd['bn.num_batches_tracked'].dtype).toBe('int64');
    torch.dispose(sd);
    m.dispose();
  });

  it('a torchkd state dict loads in PyTorch and a PyTorch one loads here (values and outputs round-trip)', () => {
    torch.manualSeed(3);
    const m = new Small();
    const x = torch.randn([2, 3, 6, 6]);
    // One training step's worth of BatchNorm statistics, then eval.
    torch.noGrad(() => m.call(x));
    m.eval();
    const y = m.call(x);
    const ref = py<{ y: number[]; sd: Record<string, Enc>; y2: number[] }>(`${PY_PRELUDE}${PY_SMALL}
m = Small()
load(m, inputs['sd'])
m.eval()
x = dec(inputs['x'])
y = m(x)
torch.manual_seed(99)
m2 = Small()
m2(torch.randn(4, 3, 6, 6))
m2.eval()
out = {'y': fl(y), 'y2': fl(m2(x)),
       'sd': {k: {'shape': list(v.shape), 'dtype': str(v.dtype)[6:], 'values': fl(v)} for k, v in m2.state_dict().items()}}
`, { sd: encSd(m), x: enc(x) });
    expectClose(flat(y), ref.y, 1e-5, 1e-6);
    // PyTorch -> torchkd.
    const loaded = torch.tidy(() => {
      const sd: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(ref.sd)) sd[k] = torch.tensor(v.values, { dtype: v.dtype as 'float32' }).reshape(v.shape);
      return sd;
    });
    const result = m.loadStateDict(loaded);
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    for (const [k, v] of Object.entries(m.stateDict())) expect(flat(v)).toEqual(ref.sd[k].values);
    expect(m.bn.numBatchesTracked?.item()).toBe(1);
    expectClose(flat(m.call(x)), ref.y2, 1e-5, 1e-6);
    torch.dispose(loaded);
    m.dispose();
  });

  it('loadStateDict reports missing, unexpected and mis-shaped keys as PyTorch does', () => {
    const m = new Small();
    const sd = m.stateDict();
    const { ['bn.running_mean']: _dropped, ...missing } = sd;
    expect(() => m.loadStateDict(missing)).toThrow(TorchError);
    expect(() => m.loadStateDict(missing)).toThrow(
      'Error(s) in loading state_dict for Small:\n\tMissing key(s) in state_dict: "bn.running_mean". ');
    const extra = { ...sd, 'head.2.weight': torch.zeros([1]) };
    expect(() => m.loadStateDict(extra)).toThrow('Unexpected key(s) in state_dict: "head.2.weight". ');
    const wrong = { ...sd, 'head.1.bias': torch.zeros([4]) };
    expect(() => m.loadStateDict(wrong)).toThrow(
      'size mismatch for head.1.bias: copying a param with shape torch.Size([4]) from checkpoint, the shape in current model is torch.Size([5]).');
    // Non-strict loads what matches and reports the rest; size mismatches still throw.
    const before = flat(m.bn.runningMean as Tensor);
    const zeros = { 'conv.bias': torch.zeros([4]), 'foo.bar': torch.ones([2]) };
    const r = m.loadStateDict(zeros, { strict: false });
    expect(r.unexpectedKeys).toEqual(['foo.bar']);
    expect(r.missingKeys).toHaveLength(8);
    expect(flat(m.conv.bias as Tensor)).toEqual([0, 0, 0, 0]);
    expect(flat(m.bn.runningMean as Tensor)).toEqual(before);
    expect(() => m.loadStateDict({ 'conv.bias': torch.zeros([3]) }, { strict: false })).toThrow(/size mismatch for conv.bias/);
    // A Map works too, and the loaded copy does not alias the source.
    const src = torch.full([4], 2);
    m.loadStateDict(new Map([['conv.bias', src]]), { strict: false });
    src.fill_(5);
    expect(flat(m.conv.bias as Tensor)).toEqual([2, 2, 2, 2]);
    expect(m.conv.bias?.requiresGrad).toBe(true);
  });

  it('persistent: false buffers stay out of the state dict', () => {
    class WithBuf extends nn.Module {
      a = this.registerBuffer('a', torch.ones([2]));
      b = this.registerBuffer('b', torch.zeros([2]), { persistent: false });
      p = this.registerParameter('p', torch.ones([1]).requiresGrad_());
    }
    const m = new WithBuf();
    expect(Object.keys(m.stateDict())).toEqual(['p', 'a']);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['a', 'b']);
    expect(m.parameters()).toEqual([m.p]);
  });
});

describe('Module', () => {
  it('namedParameters, namedModules and children follow PyTorch (order, dotted names, shared once)', () => {
    const shared = new nn.Linear(2, 2);
    class Net extends nn.Module {
      a = this.registerModule('a', shared);
      b = this.registerModule('b', new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), shared));
      list = this.registerModule('list', new nn.ModuleList([new nn.LayerNorm(3)]));
      dict = this.registerModule('dict', new nn.ModuleDict({ enc: new nn.Linear(3, 1, { bias: false }) }));
      forward(x: Tensor): Tensor { return x; }
    }
    const m = new Net();
    const ref = py<{ params: string[]; modules: string[]; children: string[]; n: number }>(`${PY_PRELUDE}
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        shared = nn.Linear(2, 2)
        self.a = shared
        self.b = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), shared)
        self.list = nn.ModuleList([nn.LayerNorm(3)])
        self.dict = nn.ModuleDict({'enc': nn.Linear(3, 1, bias=False)})
m = Net()
out = {'params': [n for n, _ in m.named_parameters()], 'modules': [n for n, _ in m.named_modules()],
       'children': [n for n, _ in m.named_children()], 'n': sum(p.numel() for p in m.parameters())}
`);
    expect(m.namedParameters().map(([n]) => n)).toEqual(ref.params);
    expect(m.namedModules().map(([n]) => n)).toEqual(ref.modules);
    expect(m.namedChildren().map(([n]) => n)).toEqual(ref.children);
    expect(m.numParameters()).toBe(ref.n);
    expect(m.parameters().length).toBe(ref.params.length);
    expect(m.children()[0]).toBe(shared);
    expect(m.modules()[0]).toBe(m);
    // Containers: indexing and iteration.
    expect(m.b[0]).toBeInstanceOf(nn.Linear);
    expect(m.b.at(-1)).toBe(shared);
    expect([...m.b].length).toBe(3);
    expect(m.b.length).toBe(3);
    expect(m.list[0]).toBeInstanceOf(nn.LayerNorm);
    expect(m.dict.get('enc')).toBeInstanceOf(nn.Linear);
    expect(m.dict.keys()).toEqual(['enc']);
    expect(() => m.b.at(3)).toThrow(TorchError);
  });

  it('getSubmodule and getParameter resolve dotted paths', () => {
    const enc = new nn.Sequential(new nn.Linear(2, 2), new nn.Sequential(new nn.ReLU(), new nn.Linear(2, 4)));
    class Net extends nn.Module {
      encoder = this.registerModule('encoder', enc);
    }
    const m = new Net();
    expect(m.getSubmodule('encoder.1.1')).toBe(enc.at(1) instanceof nn.Sequential ? (enc.at(1) as nn.Sequential).at(1) : null);
    expect(m.getSubmodule('')).toBe(m);
    expect(m.getParameter('encoder.1.1.bias').shape).toEqual([4]);
    expect(() => m.getSubmodule('encoder.3')).toThrow('Sequential has no attribute `3`');
    expect(() => m.getParameter('encoder.0.foo')).toThrow(TorchError);
  });

  it('forward hooks run when the parent invokes the child, capture outputs by path, replace outputs, and remove', () => {
    torch.manualSeed(5);
    const m = new Small();
    const captured: Tensor[] = [];
    const h = m.getSubmodule('head.1').registerForwardHook((_mod, inputs, output) => {
      captured.push(output as Tensor);
      expect((inputs[0] as Tensor).shape).toEqual([2, 64]);
    });
    const bnOut: Tensor[] = [];
    const h2 = m.getSubmodule('bn').registerForwardHook((_mod, _inputs, output) => { bnOut.push(output as Tensor); });
    const x = torch.randn([2, 3, 6, 6]);
    const y = m.call(x);
    expect(captured).toHaveLength(1);
    expect(flat(captured[0])).toEqual(flat(y));
    expect(bnOut[0].shape).toEqual([2, 4, 4, 4]);
    h.remove();
    h2.remove();
    m.call(x);
    expect(captured).toHaveLength(1);
    // A hook's return value replaces the output; a pre-hook's replaces the inputs.
    const h3 = m.registerForwardHook(() => torch.zeros([1]));
    expect(flat(m.call(x) as Tensor)).toEqual([0]);
    h3.remove();
    const lin = new nn.Linear(3, 1);
    lin.registerForwardPreHook((_m, inputs) => [(inputs[0] as Tensor).mul(0)]);
    expectClose(flat(lin.call(torch.ones([1, 3]))), flat(lin.bias as Tensor));
    // forward() itself skips the hooks.
    lin.registerForwardHook(() => torch.full([1], 42));
    expect(flat(lin.call(torch.ones([1, 3])))).toEqual([42]);
    expect(flat(lin.forward(torch.zeros([1, 3])))).toEqual(flat(lin.bias as Tensor));
  });

  it('train() / eval() propagate and change BatchNorm and Dropout as in PyTorch', () => {
    const m = new nn.Sequential(new nn.BatchNorm1d(4), new nn.Dropout(0.5));
    expect(m.training).toBe(true);
    m.eval();
    expect(m.modules().every((c) => !c.training)).toBe(true);
    const x = torch.randn([64, 4]).mul(3).add(2);
    // Eval: fresh running stats (0, 1) so BatchNorm is x / √(1 + eps) and Dropout the identity.
    expectClose(flat(m.call(x) as Tensor), flat(x.div(Math.sqrt(1 + 1e-5))), 1e-6, 1e-6);
    const bn = m.at(0) as nn.BatchNorm1d;
    expect(bn.numBatchesTracked?.item()).toBe(0);
    m.train();
    expect(m.modules().every((c) => c.training)).toBe(true);
    const y = m.call(x) as Tensor;
    expect(bn.numBatchesTracked?.item()).toBe(1);
    // Training: batch statistics, then dropout zeros about half and doubles the rest.
    const z = bn.forward(x);
    expectClose(flat(z.mean(0)), [0, 0, 0, 0], 0, 1e-6);
    const zeros = flat(y.eq(0).sum()).reduce((a, b) => a + b, 0);
    expect(zeros).toBeGreaterThan(64 * 4 * 0.3);
    expect(zeros).toBeLessThan(64 * 4 * 0.7);
    const kept = y.ne(0);
    const bnOut = torch.noGrad(() => { const b2 = new nn.BatchNorm1d(4); return b2.forward(x); });
    expectClose(flat(y.maskedSelect(kept)), flat(bnOut.mul(2).maskedSelect(kept)), 1e-6, 1e-6);
    // Running mean moved 10% of the way to the batch mean (twice: call() and forward()).
    const batchMean = flat(x.mean(0));
    expectClose(flat(bn.runningMean as Tensor), batchMean.map((v) => v * (1 - 0.9 * 0.9)), 1e-5, 1e-6);
  });

  it('zeroGrad, requiresGrad_, apply and to() keep the same parameter objects', () => {
    const m = new nn.Sequential(new nn.Linear(3, 2), new nn.BatchNorm1d(2));
    const params = m.parameters();
    (m.call(torch.randn([4, 3])) as Tensor).sum().backward();
    expect(params.every((p) => p.grad !== null)).toBe(true);
    m.zeroGrad({ setToNone: false });
    expect(params.every((p) => (p.grad as Tensor).abs().sum().item() === 0)).toBe(true);
    m.zeroGrad();
    expect(params.every((p) => p.grad === null)).toBe(true);
    m.requiresGrad_(false);
    expect(params.every((p) => !p.requiresGrad)).toBe(true);
    expect(m.numParameters(true)).toBe(0);
    m.requiresGrad_();
    const names: string[] = [];
    m.apply((mod) => names.push(mod.constructor.name));
    expect(names).toEqual(['Linear', 'BatchNorm1d', 'Sequential']);
    const before = flat(params[0]);
    // Inside tidy too: the swapped-in storage belongs to the module, not to the scope.
    const returned = torch.tidy(() => m.to('float64'));
    expect(returned).toBe(m);
    expect(m.parameters()).toEqual(params);
    expect(params[0]).toBe((m.at(0) as nn.Linear).weight);
    expect(params.map((p) => p.dtype)).toEqual(['float64', 'float64', 'float64', 'float64']);
    expect(params.every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expectClose(flat(params[0]), before, 1e-7, 0);
    const bn = m.at(1) as nn.BatchNorm1d;
    expect(bn.runningMean?.dtype).toBe('float64');
    expect(bn.numBatchesTracked?.dtype).toBe('int64');
    (m.call(torch.randn([4, 3], { dtype: 'float64' })) as Tensor).sum().backward();
    expect(params[0].grad?.dtype).toBe('float64');
    m.to({ dtype: 'float32', device: 'cpu' });
    expect(params[0].dtype).toBe('float32');
    expect(() => m.to('int64')).toThrow(TorchError);
  });

  it('creating and running modules leaks no tensors', () => {
    const m = new Small();
    const x = torch.randn([2, 3, 6, 6]);
    const before = torch.memory().tensors;
    for (let i = 0; i < 3; i++) {
      torch.tidy(() => {
        const y = m.call(x);
        y.square().sum().backward();
        const sd = m.stateDict();
        m.loadStateDict(sd);
        m.zeroGrad();
      });
    }
    expect(torch.memory().tensors).toBe(before);
    // to() frees the storage it replaces.
    m.to('float64');
    m.to('float32');
    expect(torch.memory().tensors).toBe(before);
    expect(m.conv.weight.dtype).toBe('float32');
    // A module built inside tidy keeps its parameters; dispose() frees them.
    const inner = torch.tidy(() => new nn.Linear(4, 4));
    expect(inner.weight.isDisposed).toBe(false);
    expect(torch.memory().tensors).toBe(before + 2);
    inner.dispose();
    expect(torch.memory().tensors).toBe(before);
  });
});

describe('nn.init', () => {
  it('matches PyTorch draws under the same manual seed', () => {
    const run = (name: string, shape: number[], f: (t: Tensor) => Tensor) => {
      const t = torch.empty(shape);
      torch.manualSeed(11);
      f(t);
      return [name, flat(t)] as const;
    };
    const ours = Object.fromEntries([
      run('uniform', [40], (t) => nn.init.uniform_(t, -0.3, 0.7)),
      run('normal', [40], (t) => nn.init.normal_(t, 0.5, 2)),
      run('trunc', [40], (t) => nn.init.truncNormal_(t, 0.1, 0.5, -0.5, 0.6)),
      run('xu', [6, 5, 3], (t) => nn.init.xavierUniform_(t, 1.5)),
      run('xn', [6, 5], (t) => nn.init.xavierNormal_(t)),
      run('ku', [7, 4, 3, 3], (t) => nn.init.kaimingUniform_(t, { a: Math.sqrt(5) })),
      run('kn', [7, 4], (t) => nn.init.kaimingNormal_(t, { mode: 'fan_out', nonlinearity: 'relu' })),
      run('orth', [4, 6], (t) => nn.init.orthogonal_(t, 2)),
      run('orth2', [6, 3], (t) => nn.init.orthogonal_(t)),
      run('const', [3], (t) => nn.init.constant_(t, 0.25)),
      run('ones', [2], nn.init.ones_),
      run('zeros', [2], nn.init.zeros_),
    ]);
    const ref = py<Record<string, number[]>>(`${PY_PRELUDE}
I = nn.init
def run(shape, f):
    t = torch.empty(*shape)
    torch.manual_seed(11)
    f(t)
    return fl(t)
out = {
  'uniform': run([40], lambda t: I.uniform_(t, -0.3, 0.7)),
  'normal': run([40], lambda t: I.normal_(t, 0.5, 2)),
  'trunc': run([40], lambda t: I.trunc_normal_(t, 0.1, 0.5, -0.5, 0.6)),
  'xu': run([6, 5, 3], lambda t: I.xavier_uniform_(t, 1.5)),
  'xn': run([6, 5], lambda t: I.xavier_normal_(t)),
  'ku': run([7, 4, 3, 3], lambda t: I.kaiming_uniform_(t, a=5 ** 0.5)),
  'kn': run([7, 4], lambda t: I.kaiming_normal_(t, mode='fan_out', nonlinearity='relu')),
  'orth': run([4, 6], lambda t: I.orthogonal_(t, 2)),
  'orth2': run([6, 3], lambda t: I.orthogonal_(t)),
  'const': run([3], lambda t: I.constant_(t, 0.25)),
  'ones': run([2], I.ones_),
  'zeros': run([2], I.zeros_),
}
`);
    for (const k of ['uniform', 'xu', 'ku', 'const', 'ones', 'zeros']) expect(ours[k], k).toEqual(ref[k]);
    for (const k of ['normal', 'trunc', 'xn', 'kn', 'orth', 'orth2']) expectClose(ours[k], ref[k], 1e-5, 1e-6);
  });

  it('gains, fans, default-init statistics and errors', () => {
    expect(nn.init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(nn.init.calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 12);
    expect(nn.init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(nn.init.calculateFanInAndFanOut(torch.empty([8, 3, 5, 5]))).toEqual({ fanIn: 75, fanOut: 200 });
    expect(() => nn.init.xavierUniform_(torch.empty([3]))).toThrow(
      'Fan in and fan out can not be computed for tensor with fewer than 2 dimensions');
    torch.manualSeed(2);
    const lin = new nn.Linear(400, 300);
    const bound = 1 / Math.sqrt(400);
    expect(lin.weight.abs().max().item()).toBeLessThanOrEqual(bound);
    expect(lin.weight.abs().max().item()).toBeGreaterThan(bound * 0.99);
    // U(-b, b) has variance b²/3.
    expect(Math.abs(lin.weight.var().item() / (bound * bound / 3) - 1)).toBeLessThan(0.03);
    expect(lin.bias?.abs().max().item()).toBeLessThanOrEqual(bound);
    const emb = new nn.Embedding(300, 100, { paddingIdx: -1 });
    expect(emb.paddingIdx).toBe(299);
    expect(flat(emb.weight.select(0, 299))).toEqual(new Array(100).fill(0));
    expect(emb.weight.std().item()).toBeGreaterThan(0.97);
    expect(emb.weight.std().item()).toBeLessThan(1.03);
    const tn = nn.init.truncNormal_(torch.empty([10000]), 0, 1, -1, 1);
    expect(tn.min().item()).toBeGreaterThanOrEqual(-1);
    expect(tn.max().item()).toBeLessThanOrEqual(1);
    // The std of N(0, 1) truncated to [-1, 1] is 0.5379.
    expect(tn.std().item()).toBeCloseTo(0.5379, 1);
    const w = torch.empty([3, 3]).requiresGrad_();
    nn.init.kaimingNormal_(w);
    expect(w.isLeaf).toBe(true);
    expect(w.requiresGrad).toBe(true);
  });
});

describe('exports', () => {
  it('nn.functional is torch.nn.functional', () => {
    expect(nn.functional).toBe(torch.nn.functional);
    expect(flat(nn.functional.relu(torch.tensor([-1, 2])))).toEqual([0, 2]);
  });
});

describe('ESM entry', () => {
  it("import { nn } from the ESM entry is the same namespace as require's", async () => {
    const esm = (await import('../dist/index.mjs')) as { nn: typeof nn };
    expect(esm.nn.Linear).toBe(nn.Linear);
    expect(esm.nn.functional.relu).toBe(torch.nn.functional.relu);
  });
});

describe('attention and Transformer encoder match PyTorch (float64)', () => {
  interface AttnRef { out: number[]; w: number[] | null; grads: Record<string, number[]>; xgrads: number[][] }
  const randomize = (m: nn.Module) => {
    for (const p of m.parameters()) nn.init.normal_(p, 0, 0.5);
  };
  const grads = (m: nn.Module) => Object.fromEntries(m.namedParameters().map(([n, p]) => [n, flat(p.grad as Tensor)]));

  it('MultiheadAttention: self- and cross-attention, masks, per-head weights, unbatched', () => {
    torch.manualSeed(21);
    const cases: { kind: string; bf: boolean; avg: boolean; q: Tensor; k: Tensor; v: Tensor; kpm: Tensor | null; am: Tensor | null }[] = [];
    const E = 8;
    const x = randn([3, 5, E]);
    cases.push({ kind: 'self', bf: true, avg: true, q: x, k: x, v: x,
      kpm: torch.tensor([[false, false, false, true, true], [false, false, false, false, false], [false, true, false, false, true]]),
      am: randn([5, 5]) });
    cases.push({ kind: 'cross', bf: false, avg: false, q: randn([4, 2, E]), k: randn([6, 2, E]), v: randn([6, 2, E]),
      kpm: null, am: torch.tensor([[false, true, true, false, true, true], [false, false, true, true, true, true],
        [true, false, false, false, true, true], [false, false, false, false, false, true]]) });
    const y = randn([5, E]);
    cases.push({ kind: 'unbatched', bf: false, avg: true, q: y, k: y, v: y, kpm: torch.tensor([false, false, true, false, false]), am: null });
    const ours: { out: Tensor; w: Tensor; grads: Record<string, number[]>; xgrads: number[][] }[] = [];
    const payload = cases.map((c) => {
      const m = new nn.MultiheadAttention(E, 2, { batchFirst: c.bf, dtype: 'float64' });
      expect(Object.keys(m.stateDict())).toEqual(['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
      randomize(m);
      const sd = encSd(m);
      const inputs = c.kind === 'cross' ? [c.q, c.k, c.v] : [c.q];
      inputs.forEach((t) => t.requiresGrad_(true));
      const [out, w] = m.call(c.q, c.k, c.v, { keyPaddingMask: c.kpm, attnMask: c.am, averageAttnWeights: c.avg });
      const g = randn(out.shape);
      const gw = randn((w as Tensor).shape);
      out.mul(g).sum().add((w as Tensor).mul(gw).sum()).backward();
      ours.push({ out, w: w as Tensor, grads: grads(m), xgrads: inputs.map((t) => flat(t.grad as Tensor)) });
      return { kind: c.kind, bf: c.bf, avg: c.avg, sd, q: enc(c.q), k: enc(c.k), v: enc(c.v), g: enc(g), gw: enc(gw),
        kpm: c.kpm && enc(c.kpm), am: c.am && enc(c.am) };
    });
    const refs = py<AttnRef[]>(`${PY_PRELUDE}
out = []
for c in inputs:
    m = nn.MultiheadAttention(8, 2, batch_first=c['bf']).double()
    load(m, c['sd'])
    q = dec(c['q']).requires_grad_()
    if c['kind'] == 'cross':
        k = dec(c['k']).requires_grad_(); v = dec(c['v']).requires_grad_(); xs = [q, k, v]
    else:
        k = v = q; xs = [q]
    o, w = m(q, k, v, key_padding_mask=dec(c['kpm']) if c['kpm'] else None, attn_mask=dec(c['am']) if c['am'] else None,
             need_weights=True, average_attn_weights=c['avg'])
    ((o * dec(c['g'])).sum() + (w * dec(c['gw'])).sum()).backward()
    out.append({'out': fl(o), 'w': fl(w), 'grads': {n: fl(p.grad) for n, p in m.named_parameters()},
                'xgrads': [fl(t.grad) for t in xs]})
`, payload);
    refs.forEach((r, i) => {
      const o = ours[i];
      expect(o.out.shape).toEqual(cases[i].q.shape);
      expectClose(flat(o.out), r.out, 1e-10, 1e-12);
      expectClose(flat(o.w), r.w, 1e-10, 1e-12);
      expect(Object.keys(o.grads)).toEqual(Object.keys(r.grads));
      for (const [n, gr] of Object.entries(r.grads)) expectClose(o.grads[n], gr, 1e-9, 1e-11);
      r.xgrads.forEach((gr, j) => expectClose(o.xgrads[j], gr, 1e-9, 1e-11));
    });
    expect(ours[1].w.shape).toEqual([2, 2, 4, 6]);
    expect(ours[2].w.shape).toEqual([5, 5]);
  });

  it('MultiheadAttention default init draws as PyTorch (out_proj first, then xavier in_proj)', () => {
    torch.manualSeed(4);
    const m = new nn.MultiheadAttention(6, 3);
    const ref = py<Record<string, number[]>>(`${PY_PRELUDE}
torch.manual_seed(4)
m = nn.MultiheadAttention(6, 3)
out = {k: fl(v) for k, v in m.state_dict().items()}
`);
    const sd = m.stateDict();
    expect(Object.keys(sd)).toEqual(Object.keys(ref));
    for (const [k, v] of Object.entries(ref)) expect(flat(sd[k]), k).toEqual(v);
  });

  it('TransformerEncoder (pre-LN, gelu, batchFirst, final norm) and a post-LN layer: outputs, grads, hidden states, attention maps', () => {
    torch.manualSeed(8);
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, activation: 'gelu', batchFirst: true, normFirst: true, dtype: 'float64' });
    const enc2 = new nn.TransformerEncoder(layer, 2, { norm: new nn.LayerNorm(8, { dtype: 'float64' }) });
    const post = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, dtype: 'float64' });
    randomize(enc2);
    randomize(post);
    const x = randn([2, 5, 8]).requiresGrad_();
    const kpm = torch.tensor([[false, false, false, false, true], [false, false, true, false, false]]);
    const mask = randn([5, 5]);
    const all = enc2.forwardAll(x, { mask, srcKeyPaddingMask: kpm });
    const y = enc2.call(x, { mask, srcKeyPaddingMask: kpm });
    // forwardAll asks for the attention maps, which (as in PyTorch 2.x) takes the explicit path instead of the
    // fused kernel: the same up to rounding.
    expectClose(flat(all.output), flat(y), 1e-12, 1e-14);
    const g = randn(y.shape);
    y.mul(g).sum().backward();
    const xp = randn([5, 2, 8]).requiresGrad_();
    const yp = post.call(xp, { srcKeyPaddingMask: kpm });
    const gp = randn(yp.shape);
    yp.mul(gp).sum().backward();
    const ref = py<{ y: number[]; xgrad: number[]; grads: Record<string, number[]>; hidden: number[][]; attn: number[][];
      yp: number[]; xpgrad: number[]; pgrads: Record<string, number[]>; keys: string[] }>(`${PY_PRELUDE}
layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation='gelu', batch_first=True, norm_first=True)
enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False).double()
load(enc, inputs['sd'])
x = dec(inputs['x']).requires_grad_()
kpm = dec(inputs['kpm']); mask = dec(inputs['mask'])
y = enc(x, mask=mask, src_key_padding_mask=kpm)
(y * dec(inputs['g'])).sum().backward()
hidden = [fl(x)]; attn = []
h = x.detach()
with torch.no_grad():
    for l in enc.layers:
        inp = l.norm1(h)
        attn.append(fl(l.self_attn(inp, inp, inp, attn_mask=mask, key_padding_mask=kpm, need_weights=True)[1]))
        h = l(h, src_mask=mask, src_key_padding_mask=kpm)
        hidden.append(fl(h))
post = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0).double()
load(post, inputs['psd'])
xp = dec(inputs['xp']).requires_grad_()
yp = post(xp, src_key_padding_mask=kpm)
(yp * dec(inputs['gp'])).sum().backward()
out = {'y': fl(y), 'xgrad': fl(x.grad), 'grads': {n: fl(p.grad) for n, p in enc.named_parameters()}, 'hidden': hidden, 'attn': attn,
       'yp': fl(yp), 'xpgrad': fl(xp.grad), 'pgrads': {n: fl(p.grad) for n, p in post.named_parameters()}, 'keys': list(enc.state_dict().keys())}
`, { sd: encSd(enc2), x: enc(x), kpm: enc(kpm), mask: enc(mask), g: enc(g), psd: encSd(post), xp: enc(xp), gp: enc(gp) });
    expect(Object.keys(enc2.stateDict())).toEqual(ref.keys);
    expectClose(flat(y), ref.y, 1e-10, 1e-12);
    expectClose(flat(x.grad as Tensor), ref.xgrad, 1e-9, 1e-11);
    for (const [n, gr] of Object.entries(ref.grads)) expectClose(flat(enc2.getParameter(n).grad as Tensor), gr, 1e-9, 1e-11);
    expect(all.hiddenStates).toHaveLength(3);
    all.hiddenStates.forEach((h, i) => expectClose(flat(h), ref.hidden[i], 1e-10, 1e-12));
    expect(all.attentions.map((a) => a.shape)).toEqual([[2, 5, 5], [2, 5, 5]]);
    all.attentions.forEach((a, i) => expectClose(flat(a), ref.attn[i], 1e-10, 1e-12));
    expectClose(flat(yp), ref.yp, 1e-10, 1e-12);
    expectClose(flat(xp.grad as Tensor), ref.xpgrad, 1e-9, 1e-11);
    for (const [n, gr] of Object.entries(ref.pgrads)) expectClose(flat(post.getParameter(n).grad as Tensor), gr, 1e-9, 1e-11);
  });

  it('TransformerEncoder default init equals PyTorch under the same seed (copies draw nothing)', () => {
    torch.manualSeed(13);
    const e = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(6, 2, { dimFeedforward: 12 }), 2);
    const after = flat(torch.rand([4]));
    const ref = py<{ sd: Record<string, number[]>; after: number[] }>(`${PY_PRELUDE}
torch.manual_seed(13)
e = nn.TransformerEncoder(nn.TransformerEncoderLayer(6, 2, dim_feedforward=12), 2, enable_nested_tensor=False)
out = {'sd': {k: fl(v) for k, v in e.state_dict().items()}, 'after': fl(torch.rand(4))}
`);
    const sd = e.stateDict();
    expect(Object.keys(sd)).toEqual(Object.keys(ref.sd));
    for (const [k, v] of Object.entries(ref.sd)) expect(flat(sd[k]), k).toEqual(v);
    expect(after).toEqual(ref.after);
  });

  it('TransformerEncoder copies the layer, and eval() turns its dropout off', () => {
    torch.manualSeed(9);
    const layer = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8, dropout: 0.5 });
    const e = new nn.TransformerEncoder(layer, 3);
    expect(e.layers.length).toBe(3);
    expect(e.layers.at(0)).not.toBe(layer);
    expect(flat((e.layers.at(2) as nn.TransformerEncoderLayer).linear1.weight)).toEqual(flat(layer.linear1.weight));
    expect(e.getParameter('layers.1.self_attn.in_proj_weight')).not.toBe(e.getParameter('layers.0.self_attn.in_proj_weight'));
    const x = torch.randn([5, 2, 4]);
    e.eval();
    expect(flat(e.call(x))).toEqual(flat(e.call(x)));
    e.train();
    expect(flat(e.call(x))).not.toEqual(flat(e.call(x)));
  });
});

describe('errors and leaks of the larger layers', () => {
  it('attention and encoder forward/backward inside tidy leak nothing', () => {
    const e = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true }), 2);
    const x = torch.randn([2, 4, 8]);
    const kpm = torch.tensor([[false, false, false, true], [false, false, false, false]]);
    const before = torch.memory().tensors;
    for (let i = 0; i < 2; i++) {
      torch.tidy(() => {
        const r = e.forwardAll(x, { srcKeyPaddingMask: kpm, averageAttnWeights: false });
        expect(r.attentions[1].shape).toEqual([2, 2, 4, 4]);
        r.output.sum().backward();
        e.zeroGrad();
      });
    }
    expect(torch.memory().tensors).toBe(before);
  });

  it('bad configurations and inputs throw TorchError with PyTorch-like messages', () => {
    expect(() => new nn.MultiheadAttention(10, 3)).toThrow('embed_dim must be divisible by num_heads');
    expect(() => new nn.BatchNorm2d(3).call(torch.randn([2, 3]))).toThrow('expected 4D input (got 2D input)');
    expect(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).toThrow('in_channels must be divisible by groups');
    expect(() => new nn.Dropout(1.5)).toThrow(TorchError);
    expect(() => new nn.Embedding(4, 2, { paddingIdx: 4 })).toThrow('Padding_idx must be within num_embeddings');
    const mha = new nn.MultiheadAttention(4, 2);
    const q = torch.randn([3, 1, 4]);
    expect(() => mha.call(q, q, q, { attnMask: torch.zeros([2, 2]) })).toThrow('The shape of the 2D attn_mask is [2, 2], but should be [3, 3].');
    const m = new nn.Linear(2, 2);
    expect(() => m.registerParameter('a.b', torch.zeros([1]))).toThrow('parameter name can\'t contain "."');
    expect(() => m.registerBuffer('weight', torch.zeros([1]))).toThrow("attribute 'weight' already exists");
    const d = new nn.ModuleDict([['x', new nn.ReLU()]]);
    expect(d.has('x')).toBe(true);
    expect(() => d.get('y')).toThrow(TorchError);
    const l = new nn.ModuleList().extend([new nn.ReLU(), new nn.Tanh()]);
    expect(l.namedChildren().map(([n]) => n)).toEqual(['0', '1']);
    expect(l[1]).toBeInstanceOf(nn.Tanh);
  });
});
