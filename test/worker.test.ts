// The addon is context-aware: each worker thread has its own slot table and works independently.
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { torch } from '../dist/index.js';

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const { torch } = require(workerData.entry);
  torch.manualSeed(workerData.seed);
  const before = torch.memory().tensors;
  const x = torch.randn([64, 64]);
  let acc = torch.zeros([64, 64]);
  for (let i = 0; i < 200; i++) {
    const next = torch.tidy(() => acc.add(x.matmul(x).relu().mul(1e-3)));
    acc.dispose();
    acc = next;
  }
  const live = torch.memory().tensors - before;
  parentPort.postMessage({ sum: acc.sum().item(), first: x.toArray()[0][0], live });
  // Leave a tensor undisposed: tearing the worker down must free it without trouble.
  torch.ones([1000]);
`;

function runWorker(seed: number): Promise<{ sum: number; first: number; live: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { seed, entry: join(__dirname, '..', 'dist', 'index.js') } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe('worker_threads', () => {
  it('runs in several workers at once, each with its own tensors', async () => {
    const mainBefore = torch.memory();
    const results = await Promise.all([runWorker(1), runWorker(2), runWorker(3)]);
    for (const r of results) {
      expect(r.live).toBe(2); // x and acc: tidy freed every intermediate
      expect(Number.isFinite(r.sum)).toBe(true);
    }
    // The main thread's table is untouched by the workers.
    expect(torch.memory()).toEqual(mainBefore);
  });

  it('gives the main thread\'s numbers for the same seed (workers run one after another: the CPU generator is process-wide, as in PyTorch)', async () => {
    const a = await runWorker(1);
    const a2 = await runWorker(1);
    expect(a2).toEqual(a);
    torch.manualSeed(1);
    const x = torch.randn([64, 64]);
    expect(x.toArray()).toHaveProperty([0, 0], a.first);
    let acc = torch.zeros([64, 64]);
    for (let i = 0; i < 200; i++) {
      const next = torch.tidy(() => acc.add(x.matmul(x).relu().mul(1e-3)));
      acc.dispose();
      acc = next;
    }
    expect(acc.sum().item()).toBe(a.sum);
  });

  it('a terminated worker with live tensors leaves the process healthy', async () => {
    const w = new Worker(
      `const { torch } = require(require('node:worker_threads').workerData);
       globalThis.keep = Array.from({ length: 100 }, () => torch.randn([128, 128]));
       require('node:worker_threads').parentPort.postMessage('ready');
       setInterval(() => {}, 1000);`,
      { eval: true, workerData: join(__dirname, '..', 'dist', 'index.js') },
    );
    await new Promise((r) => w.once('message', r));
    expect(await w.terminate()).toBe(1);
    expect(torch.ones([2]).add(1).toArray()).toEqual([2, 2]);
  });
});
