// Mixed precision: torch.autocast against PyTorch's autocast (bfloat16 on CPU), GradScaler against its rule.
import { describe, expect, it } from 'vitest';
import { nn, optim, torch, TorchError, type Tensor } from '../dist/index.js';
import { py } from './helpers';

describe('torch.autocast', () => {
  it('computes matmul/linear in bfloat16 on CPU and the rest as PyTorch does, values included', () => {
    torch.manualSeed(0);
    const x = torch.randn([4, 8]);
    const w = torch.randn([6, 8]);
    const b = torch.randn([6]);
    const ours = torch.autocast({ deviceType: 'cpu' }, () => {
      const h = nn.functional.linear(x, w, b);
      const s = h.relu().softmax(1);
      const m = x.matmul(w.t());
      return { h: [h.dtype, h.toArray()], s: [s.dtype, s.toArray()], m: [m.dtype, m.toArray()], add: x.add(x).dtype };
    });
    const ref = py(`torch.manual_seed(0)
x = torch.randn(4, 8); w = torch.randn(6, 8); b = torch.randn(6)
with torch.autocast('cpu', dtype=torch.bfloat16):
    h = torch.nn.functional.linear(x, w, b); s = h.relu().softmax(1); m = x @ w.t()
    add = x + x
name = lambda t: str(t.dtype).replace('torch.', '')
out = dict(h=[name(h), h.float().tolist()], s=[name(s), s.float().tolist()], m=[name(m), m.float().tolist()], add=name(add))`);
    expect(ours).toEqual(ref);
    expect(x.matmul(w.t()).dtype).toBe('float32');
  });

  it('restores the previous state after nesting, disabling and throwing', () => {
    expect(torch.amp.autocastState('cpu')).toEqual({ enabled: false, dtype: 'bfloat16' });
    torch.autocast({ deviceType: 'cpu' }, () => {
      expect(torch.amp.autocastState('cpu').enabled).toBe(true);
      torch.autocast({ deviceType: 'cpu', enabled: false }, () => {
        expect(torch.ones([2, 2]).matmul(torch.ones([2, 2])).dtype).toBe('float32');
      });
      expect(torch.ones([2, 2]).matmul(torch.ones([2, 2])).dtype).toBe('bfloat16');
    });
    expect(() => torch.autocast({ deviceType: 'cpu' }, () => { throw new Error('boom'); })).toThrow('boom');
    expect(torch.amp.autocastState('cpu').enabled).toBe(false);
    expect(() => torch.autocast({ deviceType: 'tpu' as never }, () => 1)).toThrow(TorchError);
    expect(() => torch.autocast({ deviceType: 'cpu' }, (async () => 1) as never)).toThrow(/synchronous/);
  });

  it('backward through an autocast region gives PyTorch gradients in the parameters\' dtype', () => {
    const w = torch.tensor([[0.5, -1], [2, 0.25]], { requiresGrad: true });
    const x = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
    torch.autocast({ deviceType: 'cpu' }, () => x.matmul(w).float().square().sum()).backward();
    const g = w.grad as Tensor;
    const ref = py(`w = torch.tensor([[0.5, -1], [2, 0.25]], requires_grad=True); x = torch.tensor([[1., 2.], [3., 4.]])
with torch.autocast('cpu', dtype=torch.bfloat16):
    loss = (x @ w).float().square().sum()
loss.backward()
out = [str(w.grad.dtype).replace('torch.', ''), w.grad.tolist()]`);
    expect([g.dtype, g.toArray()]).toEqual(ref);
  });
});

describe('torch.amp.GradScaler', () => {
  function setup() {
    const p = torch.tensor([1, -2], { dtype: 'float32', requiresGrad: true });
    return { p, opt: new optim.SGD([p], { lr: 0.1 }) };
  }

  it('a scaled step equals the unscaled step; the scale grows after growthInterval clean steps', () => {
    const { p, opt } = setup();
    const scaler = new torch.amp.GradScaler({ initScale: 1024, growthInterval: 2 });
    for (let i = 0; i < 2; i++) {
      opt.zeroGrad();
      scaler.scale(p.square().sum()).backward();
      scaler.step(opt);
      scaler.update();
    }
    // Two SGD steps on Σp² with lr 0.1: p ← p · 0.8 each time.
    expect(p.toArray()).toEqual([1 * 0.8 * 0.8, -2 * 0.8 * 0.8].map((v) => Math.fround(v)));
    expect(scaler.getScale()).toBe(2048);
  });

  it('skips the step and backs off when gradients overflow', () => {
    const { p, opt } = setup();
    const scaler = new torch.amp.GradScaler({ initScale: 2 ** 16 });
    opt.zeroGrad();
    scaler.scale(p.mul(Infinity).sum()).backward();
    expect(scaler.step(opt)).toBeUndefined();
    scaler.update();
    expect(p.toArray()).toEqual([1, -2]);
    expect(scaler.getScale()).toBe(2 ** 15);
    const state = scaler.stateDict();
    const other = new torch.amp.GradScaler();
    other.loadStateDict(state);
    expect(other.stateDict()).toEqual({ scale: 2 ** 15, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000, growthTracker: 0 });
  });

  it('unscale_ before clipping divides the gradients once, as in PyTorch\'s recipe', () => {
    const { p, opt } = setup();
    const scaler = new torch.amp.GradScaler({ initScale: 8 });
    scaler.scale(p.square().sum()).backward();
    scaler.unscale_(opt);
    expect((p.grad as Tensor).toArray()).toEqual([2, -4]);
    expect(() => scaler.unscale_(opt)).toThrow(/already been called/);
    scaler.step(opt);
    scaler.update();
    expect(p.toArray()).toEqual([Math.fround(0.8), Math.fround(-1.6)]);
  });
});
