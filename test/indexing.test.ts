// t.index([...]) and t.indexPut_([...], v) against Python's t[...] and t[...] = v; torch.unique.
import { describe, expect, it } from 'vitest';
import { torch, Tensor, TorchError } from '../dist/index.js';
import { py } from './helpers';

const s = torch.slice;

describe('indexing like t[...] in PyTorch', () => {
  it('ints, slices, new axes, ellipsis, masks and index tensors give PyTorch values', () => {
    const x = torch.arange(60).reshape([3, 4, 5]);
    const mask = x.index([0, 0]).gt(2);
    const rows = torch.tensor([2, 0]);
    const ours = {
      int: x.index(1).toArray(),
      neg: x.index([-1, -2]).toArray(),
      slice: x.index([s(null, null, 2), s(1, 3)]).toArray(),
      negSlice: x.index([s(-2), s(null, -1), s(1, null, 3)]).toArray(),
      newAxis: x.index([null, 0, null]).shape,
      ellipsis: x.index(['...', 1]).toArray(),
      ellipsisMid: x.index([0, '...', s(0, 2)]).toArray(),
      mask: x.index([0, 0, mask]).toArray(),
      maskAll: x.index(x.gt(50)).toArray(),
      tensor: x.index([rows]).shape,
      tensors: x.index([rows, torch.tensor([1, 3])]).toArray(),
      mixed: x.index([s(), torch.tensor([0, 2]), 1]).toArray(),
      bool: x.index([true]).shape,
    };
    const ref = py(`x = torch.arange(60).reshape(3, 4, 5)
mask = x[0, 0] > 2
rows = torch.tensor([2, 0])
out = dict(int=x[1].tolist(), neg=x[-1, -2].tolist(), slice=x[::2, 1:3].tolist(), negSlice=x[-2:, :-1, 1::3].tolist(),
           newAxis=list(x[None, 0, None].shape), ellipsis=x[..., 1].tolist(), ellipsisMid=x[0, ..., 0:2].tolist(),
           mask=x[0, 0, mask].tolist(), maskAll=x[x > 50].tolist(), tensor=list(x[rows].shape),
           tensors=x[rows, torch.tensor([1, 3])].tolist(), mixed=x[:, torch.tensor([0, 2]), 1].tolist(), bool=list(x[True].shape))`);
    expect(ours).toEqual(ref);
  });

  it('basic indexing returns views; advanced indexing copies', () => {
    const x = torch.zeros([3, 4]);
    x.index([1, s(1, 3)]).fill_(7);
    expect(x.index(1).toArray()).toEqual([0, 7, 7, 0]);
    x.index([torch.tensor([0])]).fill_(5);
    expect(x.index(0).toArray()).toEqual([0, 0, 0, 0]);
  });

  it('indexPut_ assigns numbers and broadcast tensors like t[...] = v', () => {
    const x = torch.arange(12, { dtype: 'float32' }).reshape([3, 4]);
    expect(x.indexPut_([s(), 0], -1)).toBe(x);
    x.indexPut_([1], torch.tensor([10, 20, 30, 40], { dtype: 'float32' }));
    x.indexPut_(x.gt(35), 0);
    x.indexPut_([torch.tensor([2, 2]), torch.tensor([1, 3])], torch.tensor([5, 6], { dtype: 'float32' }));
    const ref = py(`x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
x[:, 0] = -1
x[1] = torch.tensor([10., 20., 30., 40.])
x[x > 35] = 0
x[torch.tensor([2, 2]), torch.tensor([1, 3])] = torch.tensor([5., 6.])
out = x.tolist()`);
    expect(x.toArray()).toEqual(ref);
  });

  it('indexing errors are TorchErrors, as PyTorch raises IndexError', () => {
    const x = torch.zeros([2, 3]);
    expect(() => x.index(5)).toThrow(/index\(\): index 5 is out of bounds for dimension 0 with size 2/);
    expect(() => x.index([0, 0, 0])).toThrow(TorchError);
    expect(() => x.index([{} as never])).toThrow(/index 0 must be an integer, torch.slice/);
    expect(() => x.index([s(0.5)])).toThrow(/slice start must be an integer or null/);
    expect(() => x.indexPut_([0], torch.ones([4]))).toThrow(TorchError);
  });

  it('gradients flow through index and indexPut_', () => {
    const w = torch.arange(6, { dtype: 'float64' }).reshape([2, 3]).requiresGrad_();
    w.index([s(), torch.tensor([0, 2, 2])]).mul(w.index([s(), torch.tensor([0, 2, 2])])).sum().backward();
    expect((w.grad as Tensor).toArray()).toEqual([[0, 0, 8], [6, 0, 20]]);
  });
});

describe('unique', () => {
  it('returns the sorted unique values, inverse indices and counts as PyTorch does', () => {
    const x = torch.tensor([[3, 1, 3], [2, 1, 1]]);
    const plain = torch.unique(x) as Tensor;
    const [values, inverse, counts] = torch.unique(x, { returnInverse: true, returnCounts: true }) as Tensor[];
    const [rows, rowCounts] = x.unique({ dim: 1, returnCounts: true }) as Tensor[];
    const ours = { plain: plain.toArray(), values: values.toArray(), inverse: inverse.toArray(), counts: counts.toArray(),
      rows: rows.toArray(), rowCounts: rowCounts.toArray() };
    const ref = py(`x = torch.tensor([[3, 1, 3], [2, 1, 1]])
v, i, c = torch.unique(x, return_inverse=True, return_counts=True)
r, rc = torch.unique(x, dim=1, return_counts=True)
out = dict(plain=torch.unique(x).tolist(), values=v.tolist(), inverse=i.tolist(), counts=c.tolist(), rows=r.tolist(), rowCounts=rc.tolist())`);
    expect(ours).toEqual(ref);
  });

  it('leaves no tensors behind', () => {
    const x = torch.tensor([1, 2, 2]);
    const base = torch.memory().tensors;
    (torch.unique(x, { returnCounts: true }) as Tensor[]).forEach((t) => t.dispose());
    (torch.unique(x) as Tensor).dispose();
    expect(torch.memory().tensors).toBe(base);
  });
});
