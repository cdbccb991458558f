// The memory model: dispose, using, tidy, keep, the finalizer safety net, and leak tests.
import { describe, expect, it } from 'vitest';
import { torch, TorchError, type Tensor } from '../dist/index.js';
import { collectGarbage } from './helpers';


describe('dispose', () => {
  it('frees native memory at once, is idempotent, and makes later use a clear error', () => {
    const base = torch.memory();
    const t = torch.zeros([256, 256]);
    expect(torch.memory().tensors).toBe(base.tensors + 1);
    expect(torch.memory().bytes).toBe(base.bytes + 256 * 256 * 4);
    t.dispose();
    t.dispose();
    expect(torch.memory()).toEqual(base);
    expect(t.isDisposed).toBe(true);
    expect(() => t.add(1)).toThrow(/add\(\): argument 'self' is a disposed tensor/);
    expect(() => t.shape).toThrow(TorchError);
    expect(() => torch.ones([2]).add(t)).toThrow(/argument 'other' is a disposed tensor/);
    expect(String(t)).toBe('Tensor(disposed)');
  });

  it('`using` disposes at the end of the block', () => {
    const base = torch.memory().tensors;
    let escaped: Tensor;
    {
      using t = torch.ones([4]);
      escaped = t;
      expect(torch.memory().tensors).toBe(base + 1);
    }
    expect(torch.memory().tensors).toBe(base);
    expect(escaped.isDisposed).toBe(true);
  });

  it('torch.dispose frees tensors inside arrays and objects', () => {
    const base = torch.memory().tensors;
    torch.dispose({ a: torch.ones([1]), list: [torch.ones([1]), torch.ones([1])] });
    expect(torch.memory().tensors).toBe(base);
  });
});

describe('tidy', () => {
  it('frees what fn created and did not return; returned tensors survive', () => {
    const base = torch.memory().tensors;
    const x = torch.ones([3]);
    const y = torch.tidy(() => {
      const a = x.mul(2);
      const b = a.add(1);
      return b.mul(b);
    });
    expect(y.toArray()).toEqual([9, 9, 9]);
    expect(torch.memory().tensors).toBe(base + 2);
    expect(x.isDisposed).toBe(false);
  });

  it('keeps tensors returned inside arrays, objects and Maps', () => {
    const base = torch.memory().tensors;
    const out = torch.tidy(() => {
      torch.ones([1]);
      return { list: [torch.ones([1]), torch.zeros([1])], map: new Map([['k', torch.ones([2])]]), n: 3 };
    });
    expect(torch.memory().tensors).toBe(base + 3);
    expect(out.map.get('k')!.toArray()).toEqual([1, 1]);
    torch.dispose(out.list);
    out.map.get('k')!.dispose();
    expect(torch.memory().tensors).toBe(base);
  });

  it('nests: an inner result belongs to the outer scope', () => {
    const base = torch.memory().tensors;
    let inner!: Tensor;
    torch.tidy(() => {
      inner = torch.tidy(() => {
        torch.ones([1]);
        return torch.ones([2]);
      });
      expect(torch.memory().tensors).toBe(base + 1);
      expect(inner.isDisposed).toBe(false);
    });
    expect(inner.isDisposed).toBe(true);
    expect(torch.memory().tensors).toBe(base);
  });

  it('keep() escapes every enclosing scope', () => {
    const base = torch.memory().tensors;
    let kept!: Tensor;
    torch.tidy(() => {
      torch.tidy(() => {
        kept = torch.keep(torch.ones([1]));
        torch.zeros([1]);
      });
    });
    expect(kept.isDisposed).toBe(false);
    expect(torch.memory().tensors).toBe(base + 1);
    kept.dispose();
  });

  it('frees everything when fn throws, and rethrows', () => {
    const base = torch.memory().tensors;
    expect(() =>
      torch.tidy(() => {
        torch.ones([1]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(torch.memory().tensors).toBe(base);
  });

  it('refuses an async fn with a clear error and frees its synchronous tensors', async () => {
    const base = torch.memory().tensors;
    let created!: Tensor;
    expect(() =>
      torch.tidy((async () => {
        created = torch.ones([1]);
        return created;
      }) as unknown as () => Tensor),
    ).toThrow(/returned a Promise.*synchronous/);
    expect(created.isDisposed).toBe(true);
    expect(torch.memory().tensors).toBe(base);
  });

  it('tolerates tensors disposed inside the scope', () => {
    const base = torch.memory().tensors;
    torch.tidy(() => {
      const t = torch.ones([1]);
      t.dispose();
      return t;
    });
    expect(torch.memory().tensors).toBe(base);
  });
});

describe('leaks', () => {
  it('10,000 ops under tidy return torch.memory() to its baseline', () => {
    const a = torch.randn([8, 8]);
    const b = torch.randn([8, 8]);
    const base = torch.memory();
    for (let i = 0; i < 100; i++) {
      torch.tidy(() => {
        for (let j = 0; j < 25; j++) a.add(b).mul(a).matmul(b).relu();
      });
    }
    expect(torch.memory()).toEqual(base);
  });

  it('10,000 ops with dispose return torch.memory() to its baseline', () => {
    const a = torch.randn([8, 8]);
    const b = torch.randn([8, 8]);
    const base = torch.memory();
    for (let i = 0; i < 2500; i++) {
      const c = a.add(b);
      const d = c.mul(a);
      const e = d.matmul(b);
      const f = e.softmax(1);
      c.dispose();
      d.dispose();
      e.dispose();
      f.dispose();
    }
    expect(torch.memory()).toEqual(base);
  });

  it('the finalizer frees tensors nobody disposed', async () => {
    await collectGarbage();
    const base = torch.memory().tensors;
    (() => {
      for (let i = 0; i < 3000; i++) torch.ones([16]).add(1);
    })();
    expect(torch.memory().tensors).toBeGreaterThan(base);
    await collectGarbage();
    expect(torch.memory().tensors).toBe(base);
  });

  it('native bytes put pressure on the GC: forgotten tensors do not pile up in an async loop', async () => {
    await collectGarbage();
    const base = torch.memory().bytes;
    let peak = 0;
    // 300 × 2 × 16 MiB = 9.4 GiB allocated and never disposed; only V8's view of the native bytes
    // (napi_adjust_external_memory) makes it collect the small JS wrappers often enough.
    for (let i = 0; i < 300; i++) {
      torch.zeros([4, 1024, 1024]).add(1);
      await new Promise((r) => setImmediate(r));
      peak = Math.max(peak, torch.memory().bytes - base);
    }
    expect(peak).toBeLessThan(1.5 * 2 ** 30);
    await collectGarbage();
  });

  it('a stale handle from a finalizer never frees a reused slot', async () => {
    const keepers: Tensor[] = [];
    (() => {
      for (let i = 0; i < 2000; i++) {
        const t = torch.ones([1]);
        t.dispose();
        keepers.push(torch.full([1], i));
      }
    })();
    await collectGarbage();
    expect(keepers.every((t, i) => t.item() === i)).toBe(true);
    torch.dispose(keepers);
  });
});
