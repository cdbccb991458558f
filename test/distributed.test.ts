// torch.distributed on gloo over loopback, 2 ranks started by `torchkd run`: every collective on every dtype
// against Python's torch.distributed on the same libtorch, the collective checks, async handles and what
// blocking calls block, failures (a killed rank, a rank that never arrives), a group shared with a Python
// rank, the init methods, sub-groups and stores, the launcher, and DistributedSampler against PyTorch's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { data, torch, type Tensor } from '../dist/index.js';
import { py } from './helpers';
import { freePort, launch, python, together, type RunOutput } from './distributed-helpers';

const dist = torch.distributed;

type Attempt = { value?: unknown; error?: true };
const ranksOf = (r: RunOutput) => [r.results[0], r.results[1]] as Record<string, unknown>[];

describe('collectives', () => {
  it('give Python torch.distributed\'s results (and errors) for every op, dtype and collective', async () => {
    const js = launch(['--nproc-per-node', '2', '--master-port', String(await freePort())], ['collectives.js']);
    expect(js.status, js.stderr).toBe(0);
    const pyRun = launch(['--nproc-per-node', '2', '--master-port', String(await freePort()), '--no-node'], [python(), 'collectives.py']);
    expect(pyRun.status, pyRun.stderr).toBe(0);
    const [j0, j1] = ranksOf(js);
    const [p0, p1] = ranksOf(pyRun);
    expect(j0).toEqual(p0);
    expect(j1).toEqual(p1);
    // The comparison is not vacuous: values where they should be, errors where gloo has none.
    const ar = j0.allReduce as Record<string, Attempt>;
    expect(ar['float32/SUM'].value).toEqual([[1.25 + 3.25, 2.25 + 5.25, 3.25 + 7.25], [4.25 + 9.25, 5.25 + 11.25, 6.25 + 13.25]]);
    expect(ar['int64/PRODUCT'].value).toEqual([[1 * 3, 2 * 5, 3 * 7], [4 * 9, 5 * 11, 6 * 13]]);
    expect(ar['int32/BXOR'].value).toEqual([[1 ^ 3, 2 ^ 5, 3 ^ 7], [4 ^ 9, 5 ^ 11, 6 ^ 13]]);
    expect(ar['float32/BAND'].error).toBe(true);
    const values = Object.values(ar).filter((a) => a.value !== undefined).length;
    expect(values).toBeGreaterThanOrEqual(40);
    expect((j0.broadcast as Record<string, Attempt>).float64.value).toEqual([[3.25, 5.25, 7.25], [9.25, 11.25, 13.25]]);
    expect((j0.p2p as { recvFrom: number }).recvFrom).toBe(1);
    expect((j1.async as { irecv: { from: number } }).irecv.from).toBe(0);
    expect((j0.async as { returnedWork: boolean }).returnedWork).toBe(true);
  });

  it('throw on every rank when the ranks disagree, and the group keeps working', async () => {
    const r = launch(['--nproc-per-node', '2', '--master-port', String(await freePort())], ['checks.js']);
    expect(r.status, r.stderr).toBe(0);
    for (const res of ranksOf(r) as { errors: Record<string, string | null>; afterShape: number[]; afterAll: number[]; last: number[] }[]) {
      const e = res.errors;
      expect(e.shape).toMatch(/^distributed\.allReduce\(\): the ranks called different collectives or passed different tensors \(rank 0: allReduce\(float32\[4\], op=SUM\), rank 1: allReduce\(float32\[8\], op=SUM\)\)/);
      expect(e.dtype).toMatch(/rank 0: allReduce\(float32\[8\], op=SUM\), rank 1: allReduce\(float64\[4\], op=SUM\)/);
      expect(e.op).toMatch(/op=SUM\), rank 1: allReduce\(float32\[4\], op=MAX\)/);
      expect(e.collective).toMatch(/rank 0: allReduce\(float32\[4\], op=SUM\), rank 1: broadcast\(float32\[4\], root=0\)/);
      expect(e.root).toMatch(/root=0\), rank 1: broadcast\(float32\[4\], root=1\)/);
      expect(e.gatherList).toMatch(/gather_list`` must NOT be specified on non-destination ranks/);
      expect(e.badOp).toMatch(/op must be a ReduceOp/);
      expect(e.notTensor).toMatch(/Expected parameter `tensor` of type Tensor, but got Array/);
      expect(e.self).toMatch(/Invalid destination rank: should not be the same as the rank of the current process/);
      expect(e.badRank).toMatch(/Global rank 5 is not part of group 0/);
      expect(e.destroyed).toMatch(/Default process group has not been initialized/);
      expect(res.afterShape).toEqual([2, 2, 2]);
      expect(res.afterAll).toEqual([2, 2, 2]);
      expect(res.last).toEqual([2, 2, 2]);
    }
    const [r0, r1] = ranksOf(r) as { errors: Record<string, string | null> }[];
    expect(r0.errors.recv).toBeNull();
    expect(r1.errors.recv).toMatch(/^distributed\.recv\(\): rank 0 sent float64\[8\] but this rank receives into float32\[4\] \(tag 0\)/);
  });

  it('asyncOp: the work handle returns at once and wait() leaves the event loop free; a blocking one blocks only its thread', async () => {
    const r = launch(['--nproc-per-node', '2', '--master-port', String(await freePort())], ['blocking.js']);
    expect(r.status, r.stderr).toBe(0);
    const r0 = r.results[0] as Record<string, number | boolean | number[]>;
    expect(r0.asyncValue).toEqual([3, 3, 3, 3]);
    expect(r0.syncValue).toEqual([3, 3, 3, 3]);
    expect(r0.returnedAfterMs).toBeLessThan(100);
    expect(r0.completedAtOnce).toBe(false);
    // Rank 1 came 600 ms late: rank 0 waited about that long, with its timers running meanwhile.
    expect(r0.asyncWaitMs).toBeGreaterThan(400);
    expect(r0.ticksDuringWait).toBeGreaterThan(10);
    // The blocking call blocked this thread as long, while another thread kept running.
    expect(r0.syncMs).toBeGreaterThan(400);
    expect(r0.workerTicksDuringSync).toBeGreaterThan(10);
  });
});

describe('failures', () => {
  it('a rank killed mid-run: the other throws a TorchError naming the op at once; the launcher exits with the kill', async () => {
    const port = String(await freePort());
    const env = (rank: number) => ({ RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port });
    const [r0, r1] = await together([0, 1].map((rank) => ({ cmd: process.execPath, args: ['failure.js', 'kill', '20000'], env: env(rank) })));
    expect(r1.status).toBeNull(); // killed by its signal
    expect(r0.status).toBe(3);
    const res = r0.results[-1] as { error: string; torchError: boolean; ms: number };
    expect(res.torchError).toBe(true);
    expect(res.error).toMatch(/^distributed\.allReduce\(\): .*(Connection closed by peer|Connection reset by peer|Broken pipe)/);
    expect(res.ms).toBeLessThan(10_000);
    const launched = launch(['--nproc-per-node', '2', '--master-port', String(await freePort())], ['failure.js', 'kill', '20000']);
    expect(launched.status).toBe(137);
    expect(launched.stderr).toMatch(/torchkd run: rank 1 \(local rank 1, pid \d+\) was killed by SIGKILL; the other ranks were stopped/);
  });

  it('a rank that never calls the collective: the other throws when the group\'s timeout expires', async () => {
    const r = launch(['--nproc-per-node', '2', '--master-port', String(await freePort())], ['failure.js', 'hang', '3000']);
    expect(r.status).toBe(3);
    const res = r.results[0] as { error: string; ms: number };
    expect(res.error).toMatch(/^distributed\.allReduce\(\): .*Timed out waiting 3000ms/);
    expect(res.ms).toBeGreaterThanOrEqual(2900);
    expect(res.ms).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/rank 0 \(local rank 0, pid \d+\) exited with code 3/);
  });
});

describe('a group shared with Python', () => {
  for (const pythonRank of [0, 1]) {
    it(`allReduce, broadcast, allGather and send/recv give PyTorch's results (Python is rank ${pythonRank})`, async () => {
      const port = String(await freePort());
      const procs = [0, 1].map((rank) => (rank === pythonRank
        ? { cmd: python(), args: ['interop.py', String(rank), port] }
        : { cmd: process.execPath, args: ['interop.js', String(rank), port] }));
      const [a, b] = await together(procs);
      expect(a.status, a.stderr).toBe(0);
      expect(b.status, b.stderr).toBe(0);
      const results = [a.results[-1], b.results[-1]] as Record<string, unknown>[];
      const expected = {
        allReduceSum: [4.5, 6, 9, 12], allReduceMax: [5, 6, 7], broadcastFrom0: [0, 1, 2, 3, 4, 5],
        broadcastFrom1: [100, 101, 102, 103, 104, 105], allGather: [[0.5, 0.5, 0.5], [1.5, 1.5, 1.5]],
      };
      expect(results[0]).toEqual(expected);
      expect(results[1]).toEqual({ ...expected, recv: [9, 8, 7] });
    });
  }
});

describe('groups and stores', () => {
  for (const mode of ['env', 'tcp', 'file', 'store']) {
    it(`initProcessGroup through ${mode}, newGroup, the store API, destroyProcessGroup`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'torchkd-dist-'));
      try {
        const port = await freePort();
        const r = launch(['--nproc-per-node', '2', '--master-port', String(port)], ['init.js', mode, dir]);
        expect(r.status, r.stderr).toBe(0);
        for (const rank of [0, 1]) {
          const res = r.results[rank] as Record<string, unknown>;
          expect(res.initializedBefore).toBe(false);
          expect(res.initialized).toBe(true);
          expect(res.rank).toBe(rank);
          expect(res.worldSize).toBe(2);
          expect(res.backend).toBe('gloo');
          expect(res.sum).toEqual([3, 3]);
          expect(res.solo).toEqual(rank === 0 ? { rank: -1, size: -1, ranks: [1] } : { rank: 0, size: 1, ranks: [1] });
          expect(res.soloSum).toEqual([rank + 10, rank + 10]); // rank 0 is no member: its tensor stays
          expect(res.bothBroadcast).toEqual([21, 21]);
          expect(res.afterDestroy).toBe(false);
          expect(res.env).toEqual({
            RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '2', GROUP_RANK: '0',
            MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), TORCHELASTIC_RUN_ID: 'none', TORCHELASTIC_RESTART_COUNT: '0',
          });
          const store = res.store as Record<string, unknown>;
          expect(store.check).toBe(true);
          expect(store.missing).toBe(false);
          expect(store.compareSet).toBe('first');
          expect(store.numKeysPositive).toBe(true);
          if (mode === 'store') {
            expect(store.other).toBe(`value of ${1 - rank}`);
            expect(store.timeout).toBe(60_000);
            expect(res.port).toBe(port);
          }
        }
        if (mode === 'store') expect([(r.results[0] as { add: number }).add, (r.results[1] as { add: number }).add].sort((p, q) => p - q)).toEqual([5, 10]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('reject bad arguments before any communication', () => {
    expect(dist.isInitialized()).toBe(false);
    expect(() => dist.allReduce(torch.ones([2]))).toThrow(/distributed\.allReduce\(\): Default process group has not been initialized/);
    expect(() => dist.getRank()).toThrow(torch.TorchError);
    expect(() => dist.initProcessGroup({ initMethod: 'tcp://127.0.0.1:1', worldSize: 2 })).toThrow(/tcp:\/\/ rendezvous: rank parameter missing/);
    expect(() => dist.initProcessGroup({ initMethod: 'tcp://127.0.0.1', rank: 0, worldSize: 2 })).toThrow(/port number missing/);
    expect(() => dist.initProcessGroup({ initMethod: 'bogus://x', rank: 0, worldSize: 1 })).toThrow(/No rendezvous handler for bogus:\/\//);
    const env = { ...process.env };
    delete process.env.MASTER_ADDR;
    try {
      expect(() => dist.initProcessGroup({ rank: 0, worldSize: 1 })).toThrow(/environment variable MASTER_ADDR expected, but not set/);
    } finally {
      process.env = env;
    }
    expect(() => dist.initProcessGroup({ backend: 'mpi' as 'gloo' })).toThrow(/backend must be 'gloo' or 'nccl'/);
    expect(() => dist.initProcessGroup({ store: new dist.HashStore(), rank: 0 })).toThrow(/worldSize must be positive if using store/);
    expect(() => new dist.TCPStore('127.0.0.1', 70000)).toThrow(/port must have value from 0 to 65535/);
    expect(dist.isInitialized()).toBe(false);
  });

  it('a single-process group on a HashStore runs every collective in this process, without leaking tensors', async () => {
    dist.initProcessGroup({ backend: 'gloo', store: new dist.HashStore(), rank: 0, worldSize: 1 });
    try {
      const before = torch.memory().tensors;
      torch.tidy(() => {
        const c = torch.complex(torch.ones([2]), torch.ones([2]));
        dist.allReduce(c);
        dist.broadcast(c, 0);
        dist.allGather([torch.zeros([2], { dtype: 'complex64' })], c);
      });
      const w = dist.allReduce(torch.tidy(() => torch.ones([3])), { asyncOp: true });
      expect(await w.wait()).toBe(true);
      expect(w.isCompleted()).toBe(true);
      expect(torch.memory().tensors).toBe(before + 1); // the async op's tensor, which the test owns
      expect(() => dist.allReduce(torch.complex(torch.ones([2]), torch.ones([2])), { op: 'MAX' })).toThrow(/allReduce does not support MAX on complex tensors/);
      const t = torch.tensor([1, 2, 3], { dtype: 'float32' });
      dist.allReduce(t, { op: 'MAX' });
      expect(t.toArray()).toEqual([1, 2, 3]);
      const list = [torch.zeros([3])];
      dist.allGather(list, t);
      expect(list[0].toArray()).toEqual([1, 2, 3]);
      dist.barrier();
      expect(dist.getWorldSize()).toBe(1);
      expect(() => dist.initProcessGroup({ store: new dist.HashStore(), rank: 0, worldSize: 1 })).toThrow(/twice/);
    } finally {
      dist.destroyProcessGroup();
    }
    expect(dist.isInitialized()).toBe(false);
  });
});

describe('torchkd run', () => {
  it('fails fast with the failing rank\'s code, restarts the group on request, prefixes every line', async () => {
    const r = launch(['--nproc-per-node', '2', '--master-port', String(await freePort()), '--max-restarts', '1', '--no-node'],
      ['sh', '-c', 'echo "hello from $RANK of $WORLD_SIZE, restart $TORCHELASTIC_RESTART_COUNT"; printf partial; [ "$RANK" = 1 ] && exit 5; sleep 30']);
    expect(r.status).toBe(5);
    expect(r.ms).toBeLessThan(20_000);
    for (const restart of [0, 1]) {
      expect(r.stdout).toContain(`[rank0]:hello from 0 of 2, restart ${restart}\n`);
      expect(r.stdout).toContain(`[rank1]:hello from 1 of 2, restart ${restart}\n`);
    }
    expect(r.stdout).toContain('[rank1]:partial\n');
    expect(r.stderr).toMatch(/rank 1 \(local rank 1, pid \d+\) exited with code 5; the other ranks were stopped/);
    expect(r.stderr).toMatch(/restarting the group \(restart 1 of 1\)/);
    const ok = launch(['--nproc-per-node', '3', '--nnodes', '2', '--node-rank', '1', '--master-port', '1234', '--no-node'],
      ['sh', '-c', 'echo $RANK/$WORLD_SIZE/$LOCAL_RANK/$LOCAL_WORLD_SIZE/$GROUP_RANK/$MASTER_PORT/$OMP_NUM_THREADS']);
    expect(ok.status).toBe(0);
    const omp = process.env.OMP_NUM_THREADS ?? '1';
    expect(ok.stdout.split('\n').filter(Boolean).sort()).toEqual([`[rank3]:3/6/0/3/1/1234/${omp}`, `[rank4]:4/6/1/3/1/1234/${omp}`, `[rank5]:5/6/2/3/1/1234/${omp}`]);
  });

  it('usage errors exit 2', () => {
    const run = (...args: string[]) => launch(args, []);
    expect(run('--nproc-per-node', '2').stderr).toMatch(/missing script\.js \[args\]/);
    expect(run('--nproc-per-node', 'x', 'a.js').stderr).toMatch(/--nproc-per-node expects a positive integer, cpu, gpu or auto; got 'x'/);
    const bad = run('--nnodes', '2', '--node-rank', '2', 'a.js');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--node-rank must be below --nnodes \(2\)/);
    expect(run('--nproc-pernode', '2', 'a.js').stderr).toMatch(/unknown flag --nproc-pernode.*did you mean --nproc-per-node/);
    // The script's own flags are its own, --help included.
    expect(launch(['--no-node'], ['sh', '-c', 'echo "$@"', 'sh', '--help', '--nnodes', '3']).stdout).toBe('[rank0]:--help --nnodes 3\n');
  });
});

describe('DistributedSampler', () => {
  it('draws PyTorch\'s indices (shuffle, seed, setEpoch, dropLast / padding)', () => {
    const cases: { n: number; replicas: number; shuffle: boolean; seed: number; dropLast: boolean; epoch: number }[] = [];
    for (const n of [10, 11, 3]) {
      for (const replicas of [2, 3, 4]) {
        for (const [shuffle, dropLast] of [[true, false], [false, false], [true, true], [false, true]] as const) {
          cases.push({ n, replicas, shuffle, seed: 7, dropLast, epoch: n % 3 });
        }
      }
    }
    const expected = py<number[][][]>(`
from torch.utils.data import DistributedSampler
out = []
for c in inputs:
    per = []
    for r in range(c['replicas']):
        s = DistributedSampler(range(c['n']), num_replicas=c['replicas'], rank=r, shuffle=c['shuffle'], seed=c['seed'], drop_last=c['dropLast'])
        s.set_epoch(c['epoch'])
        per.append([len(s)] + list(s))
    out.append(per)
`, cases);
    cases.forEach((c, i) => {
      for (let r = 0; r < c.replicas; r++) {
        const s = new data.DistributedSampler({ length: c.n }, { numReplicas: c.replicas, rank: r, shuffle: c.shuffle, seed: c.seed, dropLast: c.dropLast });
        s.setEpoch(c.epoch);
        expect([s.length, ...s], JSON.stringify(c)).toEqual(expected[i][r]);
      }
    });
  });

  it('feeds a DataLoader through its sampler option, and validates', () => {
    const ds = new data.TensorDataset(torch.arange(0, 10, 1, { dtype: 'float32' }));
    const sampler = new data.DistributedSampler(ds, { numReplicas: 2, rank: 1, shuffle: false });
    const loader = new data.DataLoader(ds, { batchSize: 2, sampler });
    expect(loader.length).toBe(3);
    expect(loader.batchIndices(0)).toEqual([[1, 3], [5, 7], [9]]);
    const batches = [...loader].map((b) => (b as unknown as Tensor[])[0].toArray());
    expect(batches).toEqual([[1, 3], [5, 7], [9]]);
    expect(() => new data.DataLoader(ds, { sampler, shuffle: true })).toThrow(/sampler option is mutually exclusive with shuffle/);
    expect(() => new data.DistributedSampler(ds, { numReplicas: 2, rank: 2 })).toThrow(/Invalid rank 2, rank should be in the interval \[0, 1\]/);
    expect(() => new data.DistributedSampler(ds)).toThrow(/Requires distributed package to be available/);
  });
});
