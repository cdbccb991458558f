// nn.parallel.DistributedDataParallel on 2 gloo ranks (fixtures/distributed/ddp.js): 20 steps on each
// rank's half of every batch end with the parameters of one process on the whole batches (rank 0 trains
// that reference itself, from its own initial weights), with PyTorch's bucketing, noSync accumulation,
// findUnusedParameters, buffer broadcasts, and PyTorch's errors.
import { describe, expect, it } from 'vitest';
import { nn, torch } from '../dist/index.js';
import { freePort, launch } from './distributed-helpers';

type Result = { mode: string; stateDictKeys?: string[]; params?: Record<string, unknown>; maxDiffToSingleProcess?: number;
  referenceMoved?: number; error?: string; unusedUnchanged?: boolean; unusedGrad?: boolean; runningMean?: number[] };

async function run(mode: string): Promise<[Result, Result]> {
  const r = launch(['--nproc-per-node', '2', '--master-port', String(await freePort())], ['ddp.js', mode]);
  expect(r.status, r.stderr).toBe(0);
  return [r.results[0] as Result, r.results[1] as Result];
}

describe('DistributedDataParallel', () => {
  for (const mode of ['plain', 'buckets', 'nosync', 'unused']) {
    it(`${mode}: both ranks end equal, and equal to one process on the concatenated batches (1e-6)`, async () => {
      const [r0, r1] = await run(mode);
      expect(r0.error).toBeUndefined();
      expect(r1.error).toBeUndefined();
      expect(r1.params).toEqual(r0.params);
      expect(r0.maxDiffToSingleProcess).toBeLessThan(1e-6);
      expect(r0.referenceMoved).toBeGreaterThan(0.01);
      expect(r0.stateDictKeys).toEqual(['module.fc1.weight', 'module.fc1.bias', 'module.norm.weight']);
      if (mode === 'unused') {
        for (const r of [r0, r1]) {
          expect(r.unusedUnchanged).toBe(true);
          expect(r.unusedGrad).toBe(true);
        }
      }
    });
  }

  it('an unused parameter without findUnusedParameters: PyTorch\'s error at the next forward, on every rank', async () => {
    for (const r of await run('unusedError')) {
      expect(r.error).toMatch(/^DistributedDataParallel\.forward\(\): Expected to have finished reduction in the prior iteration before starting a new one/);
      expect(r.error).toMatch(/Parameter indices which did not receive grad for rank \d: 6 7/);
    }
  });

  it('broadcasts rank 0\'s buffers before each forward', async () => {
    const [r0, r1] = await run('buffers');
    expect(r0.runningMean).toHaveLength(16);
    expect(r1.runningMean).toEqual(r0.runningMean);
    expect(r1.params).toEqual(r0.params);
  });

  it('models that differ between ranks are refused at construction', async () => {
    const [r0, r1] = await run('mismatch');
    expect(r1.error).toMatch(/^DistributedDataParallel\(\): .*params\[0\] in this process with sizes \[8, 6\] appears not to match sizes of the same param in process 0/);
    expect(r0.error).toMatch(/^DistributedDataParallel\(\): /);
  });

  it('needs a group and a trainable parameter; noSync nests and restores', () => {
    expect(() => new nn.parallel.DistributedDataParallel(new nn.Linear(2, 2))).toThrow(/Default process group has not been initialized/);
    torch.distributed.initProcessGroup({ backend: 'gloo', store: new torch.distributed.HashStore(), rank: 0, worldSize: 1 });
    try {
      const frozen = new nn.Linear(2, 2).requiresGrad_(false);
      expect(() => new nn.parallel.DistributedDataParallel(frozen)).toThrow(/not needed when a module doesn't have any parameter that requires a gradient/);
      expect(() => new nn.parallel.DistributedDataParallel(new nn.Linear(2, 2), { deviceIds: [0] })).toThrow(/device_ids and output_device arguments only work with single-device\/multiple-device GPU modules/);
      const model = new nn.Linear(3, 2);
      const ddp = new nn.parallel.DistributedDataParallel(model, { bucketCapMb: 1 });
      expect(ddp.bucketBytesCap).toBe(1024 * 1024);
      const result = ddp.noSync(() => {
        expect(ddp.requireBackwardGradSync).toBe(false);
        {
          using _ = ddp.noSync();
          expect(ddp.requireBackwardGradSync).toBe(false);
        }
        expect(ddp.requireBackwardGradSync).toBe(false);
        return 7;
      });
      expect(result).toBe(7);
      expect(ddp.requireBackwardGradSync).toBe(true);
      // One rank: DDP is the module itself.
      const x = torch.randn([4, 3]);
      const y = ddp.call(x);
      y.sum().backward();
      expect(model.weight.grad?.toArray()).toEqual(torch.ones([4, 2]).t().matmul(x).toArray());
      expect(ddp.unwrap()).toBe(model);
      expect(() => ddp.call(x)).toThrow(/unwrapped or disposed/);
      model.dispose();
    } finally {
      torch.distributed.destroyProcessGroup();
    }
  });
});
