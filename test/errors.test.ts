// Errors: every failure is a thrown TorchError naming the op and its tensor arguments; no JS input
// crashes the process.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { torch, TorchError } from '../dist/index.js';

function thrown(fn: () => unknown): TorchError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TorchError);
    expect(e).toBeInstanceOf(Error);
    return e as TorchError;
  }
  throw new Error('expected a TorchError, nothing was thrown');
}

describe('libtorch errors become TorchErrors naming op, shapes, dtypes and devices', () => {
  it('shape mismatch in a broadcasting op', () => {
    const e = thrown(() => torch.ones([2, 3]).add(torch.ones([4])));
    expect(e.message).toBe(
      'add(): The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1 ' +
        '(self: float32[2, 3] on cpu, other: float32[4] on cpu)',
    );
    expect(e.op).toBe('add');
    expect(e.code).toBe('ERR_TORCH');
    expect(e.name).toBe('TorchError');
  });

  it('matmul with incompatible shapes and dtypes', () => {
    const shapes = thrown(() => torch.ones([2, 3]).matmul(torch.ones([2, 3])));
    expect(shapes.message).toMatch(/^matmul\(\): .*2x3 and 2x3.*\(self: float32\[2, 3\] on cpu, other: float32\[2, 3\] on cpu\)$/);
    const dtypes = thrown(() => torch.ones([2, 2]).matmul(torch.ones([2, 2], { dtype: 'float64' })));
    // libtorch 1.13 names the dtypes Float/Double, 2.x float/double.
    expect(dtypes.message).toMatch(/^matmul\(\): .*(float|double).*other: float64\[2, 2\] on cpu\)$/i);
  });

  it('out-of-range dims', () => {
    expect(thrown(() => torch.ones([2, 3]).softmax(2)).message).toBe(
      "softmax(): Dimension out of range (expected to be in range of [-2, 1], but got 2) (self: float32[2, 3] on cpu)",
    );
    expect(thrown(() => torch.ones([2, 3]).sum(5)).message).toMatch(/^sum\(\): Dimension out of range.*float32\[2, 3\]/);
    expect(thrown(() => torch.ones([2]).size(1)).message).toMatch(/^size\(\): Dimension out of range/);
  });

  it('in-place results that cannot be cast', () => {
    expect(thrown(() => torch.ones([2], { dtype: 'int64' }).add_(torch.ones([2]))).message).toMatch(
      /^add_\(\): result type Float can't be cast to the desired output type Long/,
    );
  });

  it('impossible allocations', () => {
    expect(thrown(() => torch.zeros([2 ** 40, 2 ** 20])).message).toMatch(/^zeros\(\): /);
  });
});

describe('bad JS arguments are clear errors', () => {
  it('wrong types', () => {
    const t = torch.ones([2]);
    expect(thrown(() => t.add('x' as never)).message).toBe(
      'add(): no overload takes (string); expected add(other: Tensor, alpha?: Scalar) or add(other: Scalar, alpha?: Scalar)',
    );
    expect(thrown(() => t.matmul(3 as never)).message).toBe("matmul(): argument 'other' must be a Tensor, got number");
    expect(thrown(() => t.matmul({} as never)).message).toBe("matmul(): missing argument 'other' (a Tensor)");
    expect(thrown(() => t.matmul([1] as never)).message).toBe("matmul(): argument 'other' must be a Tensor, got Array");
    expect(thrown(() => t.sum({ dims: 1 } as never)).message).toMatch(/sum\(\): unexpected option\(s\) 'dims' after 0 positional argument\(s\); sum accepts dtype, dim, keepdim/);
    expect(thrown(() => torch.add(null as never, t)).message).toBe("add(): argument 'input' must be a Tensor, got null");
    expect(thrown(() => t.sum('a' as never)).message).toMatch(/sum\(\): unknown dtype "a"/);
    expect(thrown(() => t.sum([0.5])).message).toMatch(/sum\(\): argument 'dim' must be an array of integers/);
    expect(thrown(() => t.softmax(0.5)).message).toMatch(/softmax\(\): argument 'dim' must be an integer, got 0.5/);
    expect(thrown(() => t.add(t, 'x' as never)).message).toMatch(/add\(\): no overload takes \(Tensor, string\)/);
    expect(thrown(() => t.to(42 as never)).message).toMatch(/to\(\): expected a device, dtype, Tensor or options/);
  });

  it('unknown dtype and device names', () => {
    expect(thrown(() => torch.ones([1], { dtype: 'float' as never })).message).toMatch(/unknown dtype "float"; expected one of float32, float64, float16, bfloat16, int8/);
    expect(thrown(() => torch.ones([1]).to('int' as never)).message).toMatch(/unknown dtype "int"/);
    expect(thrown(() => torch.ones([1], { device: 'gpu' })).message).toMatch(/unknown device "gpu"; expected 'cpu', 'cuda' or 'cuda:N'/);
    expect(thrown(() => torch.ones([1]).to('cuda:x')).message).toMatch(/unknown device "cuda:x"/);
  });

  it('bad sizes', () => {
    expect(thrown(() => torch.zeros([-1])).message).toMatch(/zeros\(\): size must be an array of non-negative integers/);
    expect(thrown(() => torch.zeros([1.5])).message).toMatch(/non-negative integers/);
    expect(thrown(() => torch.zeros('3' as never)).message).toMatch(/non-negative integers/);
    expect(thrown(() => torch.randint(5 as never)).message).toMatch(/randint\(high, size\)/);
    expect(thrown(() => torch.arange(0, 1, 0)).message).toMatch(/^arange\(\): step must be nonzero/);
  });

  it('CPU/CUDA mixing is refused (on machines with a GPU)', () => {
    if (!torch.cuda.isAvailable()) {
      // A CPU build: "Torch not compiled with CUDA enabled"; a CUDA build without a GPU: "Found no NVIDIA driver".
      expect(thrown(() => torch.ones([1], { device: 'cuda' })).message).toMatch(/CUDA|NVIDIA driver/);
      return;
    }
    const e = thrown(() => torch.ones([2], { device: 'cuda' }).add(torch.ones([2])));
    expect(e.message).toMatch(/^add\(\): Expected all tensors to be on the same device.*float32\[2\] on cuda:0.*float32\[2\] on cpu/);
  });
});

describe('the process lives on', () => {
  it('survives a barrage of hostile inputs in a fresh process', () => {
    const script = `
      const { torch, TorchError } = require('./dist/index.js');
      const { N } = require('./dist/torch/native.js');
      const t = torch.ones([2, 2]);
      const attempts = [
        () => N.add_Tensor(), () => N.add_Tensor(NaN, Infinity), () => N.add_Tensor(-5, 1e300), () => N.add_Tensor({}, []),
        () => N.free('x'), () => N.freeMany([1, 2]),
        () => N.fromTypedArray(new Float32Array(3), [4], 6, 6), () => N.fromTypedArray({}, [1], 6, 6),
        () => N.zeros([Symbol()]), () => N.zeros([2 ** 62]), () => N.zeros([1e300]), () => N.zeros(null),
        () => N.to(t.id, 'tpu:7'), () => N.to(t.id, undefined, 99), () => N.sum_dim_IntList(t.id, ['a']),
        () => N.softmax_int(t.id, 1e20), () => N.cat([t.id, 'x']), () => N.cat(null), () => N.max_dim(t.id, 9),
        () => N.view(t.id, [3, 3]), () => N.einsum('ij,,', [t.id]), () => N.div_Tensor_mode(t.id, t.id, 'ceil'), () => N.setRequiresGrad(t.id, 'yes'), () => N.full([1], {}),
        () => N.randint(5, 1, [3]), () => N.linspace(0, 1, -2), () => N.eye(-1),
        () => N.cudaSynchronize(3), () => N.cudaMemoryAllocated(-1), () => N.item(torch.ones([3]).id),
        () => N.add_Scalar(t.id, 10n ** 30n), () => N.data(12345678), () => torch.tensor([[1], 2]),
      ];
      N.freeMany(new Float64Array([NaN, -1, 1e300, 0.5])); // junk handles are stale handles: ignored
      let errors = 0;
      for (const f of attempts) {
        try { f(); } catch (e) { if (!(e instanceof Error)) throw new Error('non-Error thrown'); errors++; }
      }
      console.log(JSON.stringify({ errors, total: attempts.length, sum: t.add(t).sum().item() }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
    expect(out).toEqual({ errors: out.total, total: out.total, sum: 8 });
  });
});
