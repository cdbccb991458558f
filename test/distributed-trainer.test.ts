// The trainer's distributed mode on 2 gloo ranks (fixtures/distributed/trainer.js, a KD run): equal to the
// single-process run with the doubled batch, rank 0 alone writing, and a run killed (all ranks, SIGKILL)
// and resumed ending as the uninterrupted one; `torchkd distill --config` with distributed: true likewise.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { io, torch } from '../dist/index.js';
import { expectClose } from './helpers';
import { ENV, cli, fixtures, freePort, launch, parseResults } from './distributed-helpers';

const dir = mkdtempSync(join(tmpdir(), 'torchkd-dist-trainer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Fit = { params: Record<string, unknown>; samplerEpoch?: number; fit: { steps: number; stopReason: string; history: { step: number; metrics: { accuracy: number; loss: number } }[];
  trainLog: { step: number; losses: Record<string, number> }[]; last: { accuracy: number; loss: number }; best: { step: number } } };

function single(outDir: string, env: NodeJS.ProcessEnv = {}): Fit {
  const r = spawnSync(process.execPath, ['trainer.js', outDir, '0', '8'], { cwd: fixtures, env: { ...ENV, ...env }, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return parseResults(r.stdout)[-1] as Fit;
}

async function distributed(outDir: string, killAt?: number, env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; result: Fit | undefined; stderr: string }> {
  const r = launch(['--nproc-per-node', '2', '--master-port', String(await freePort())], ['trainer.js', outDir, '1', '4', ...(killAt ? [String(killAt)] : [])], 120_000, env);
  return { status: r.status, result: r.results[0] as Fit | undefined, stderr: r.stderr };
}

const metricLines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);

function expectSameRun(a: Fit, b: Fit): void {
  expectClose(a.params, b.params, 1e-5, 1e-6);
  expect(a.fit.steps).toBe(b.fit.steps);
  expect(a.fit.stopReason).toBe(b.fit.stopReason);
  expect(a.fit.best.step).toBe(b.fit.best.step);
  expect(a.fit.history.map((h) => h.metrics.accuracy)).toEqual(b.fit.history.map((h) => h.metrics.accuracy));
  expectClose(a.fit.history.map((h) => h.metrics.loss), b.fit.history.map((h) => h.metrics.loss), 1e-5, 1e-6);
  const losses = (f: Fit) => f.fit.trainLog.map((t) => [t.step, t.losses.loss, t.losses.ce, t.losses.kd]);
  expectClose(losses(a), losses(b), 1e-5, 1e-6);
}

describe('distributed trainer', () => {
  let reference: Fit;
  let uninterrupted: Fit;

  it('2 ranks with batch 4 train as one process with batch 8; only rank 0 writes', async () => {
    reference = single(join(dir, 'single'));
    const r = await distributed(join(dir, 'dist'));
    expect(r.status, r.stderr).toBe(0);
    uninterrupted = r.result as Fit;
    expect(uninterrupted.fit.steps).toBe(24); // 64 samples / 2 ranks / 4 per batch, 3 epochs
    expectSameRun(uninterrupted, reference);
    // One writer: the same log lines as the single process (no duplicates), and the same files.
    const a = metricLines(join(dir, 'dist', 'metrics.jsonl'));
    const b = metricLines(join(dir, 'single', 'metrics.jsonl'));
    expect(a.map((l) => `${l.type}@${l.step}`)).toEqual(b.map((l) => `${l.type}@${l.step}`));
    expectClose(a.map((l) => l.loss), b.map((l) => l.loss), 1e-5, 1e-6);
    expect(readdirSync(join(dir, 'dist')).sort()).toEqual(readdirSync(join(dir, 'single')).sort());
    // The checkpoint holds the student as a single process saves it (no DDP prefix).
    const { tensors } = io.loadSafetensors(join(dir, 'dist', 'checkpoint-last.safetensors'));
    expect(Object.keys(tensors)).toContain('student.0.weight');
    torch.dispose(tensors);
  });

  it('killed on every rank after step 6 and resumed, it ends as the uninterrupted run', async () => {
    const out = join(dir, 'resumed');
    const killed = await distributed(out, 6);
    expect(killed.status).toBe(137);
    expect(killed.result).toBeUndefined();
    expect(existsSync(join(out, 'checkpoint-last.safetensors'))).toBe(true);
    const resumed = await distributed(out);
    expect(resumed.status, resumed.stderr).toBe(0);
    expectSameRun(resumed.result as Fit, uninterrupted);
    expect(metricLines(join(out, 'metrics.jsonl')).map((l) => `${l.type}@${l.step}`))
      .toEqual(metricLines(join(dir, 'dist', 'metrics.jsonl')).map((l) => `${l.type}@${l.step}`));
  });

  it('a loader whose sampler is a data.DistributedSampler: 2 ranks train as one process on its one-replica sampler, epoch by epoch', async () => {
    const one = single(join(dir, 'sampler-single'), { SAMPLER: '1' });
    const two = await distributed(join(dir, 'sampler-dist'), undefined, { SAMPLER: '1' });
    expect(two.status, two.stderr).toBe(0);
    expect(two.result?.fit.steps).toBe(24);
    expectSameRun(two.result as Fit, one);
    expect(one.samplerEpoch).toBe(2);
    expect(two.result?.samplerEpoch).toBe(2);
    // The sampler's order, not the seeded loader's: another run.
    expect(JSON.stringify(one.params)).not.toBe(JSON.stringify(reference.params));
  });

  it('torchkd distill --config with distributed: true on 2 ranks matches the single-process run with the doubled batch', async () => {
    torch.manualSeed(5);
    const x = torch.rand([96, 1, 6, 6]);
    const y = x.flatten(1).narrow(1, 0, 4).argmax(1);
    const tx = torch.rand([20, 1, 6, 6]);
    const ty = tx.flatten(1).narrow(1, 0, 4).argmax(1);
    io.saveSafetensors(join(dir, 'train.safetensors'), { x, y });
    io.saveSafetensors(join(dir, 'test.safetensors'), { x: tx, y: ty });
    torch.dispose([x, y, tx, ty]);
    const config = (batchSize: number, distributedRun: boolean, out: string) => ({
      data: { source: 'safetensors', train: { x: 'train.safetensors' }, test: { x: 'test.safetensors' }, valid: 16, batchSize, seed: 1 },
      teachers: [{ arch: { name: 'mlp', hidden: [16] }, train: { epochs: 1 } }],
      student: { arch: { name: 'mlp', hidden: [8] } },
      terms: [{ type: 'ce' }, { type: 'kd', temperature: 2 }],
      optimizer: { name: 'adamw', lr: 0.01 }, epochs: 2, evalEvery: 5, outDir: out, progress: 'none', distributed: distributedRun,
    });
    writeFileSync(join(dir, 'single.json'), JSON.stringify(config(8, false, 'cfg-single')));
    writeFileSync(join(dir, 'dist.json'), JSON.stringify(config(4, true, 'cfg-dist')));
    const one = spawnSync(process.execPath, [cli, 'distill', '--config', join(dir, 'single.json')], { env: ENV, encoding: 'utf8', timeout: 120_000 });
    expect(one.status, one.stderr).toBe(0);
    const two = launch(['--nproc-per-node', '2', '--master-port', String(await freePort())], [cli, 'distill', '--config', join(dir, 'dist.json')]);
    expect(two.status, two.stderr).toBe(0);
    // Rank 0 reports, rank 1 stays quiet; the summaries agree.
    expect(two.stdout).toMatch(/\[rank0\]:.*test accuracy/);
    expect(two.stdout).not.toMatch(/\[rank1\]:/);
    const a = JSON.parse(readFileSync(join(dir, 'cfg-dist', 'metrics.json'), 'utf8')) as { student: { accuracy: number; loss: number }; teachers: { accuracy: number }[]; fit: { steps: number } };
    const b = JSON.parse(readFileSync(join(dir, 'cfg-single', 'metrics.json'), 'utf8')) as typeof a;
    expect(a.fit.steps).toBe(b.fit.steps);
    expect(a.student.accuracy).toBe(b.student.accuracy);
    expect(a.teachers[0].accuracy).toBe(b.teachers[0].accuracy);
    expectClose(a.student.loss, b.student.loss, 1e-5, 1e-6);
    expect(existsSync(join(dir, 'cfg-dist', 'report.html'))).toBe(true);
  });
});
