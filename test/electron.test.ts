// docs/electron.md, run: its training blocks compiled as they are (the worker-thread job with throttled
// progress and cancellation, and the utility-process script under a stand-in for Electron's
// process.parentPort), and the relocatable build: the addon linked with RUNPATH $ORIGIN, its libtorch
// libraries next to it, works from a package folder that was moved.
import { execFileSync, fork } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { io, torch } from '../dist/index.js';
import { docBlocks } from './docblocks';

const root = join(__dirname, '..');

/** The named blocks of docs/electron.md compiled to CommonJS in a new app folder whose node_modules/torchkd is this package. */
function guideApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'torchkd-electron-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'torchkd'));
  for (const b of docBlocks('docs/electron.md').filter((x) => x.file?.endsWith('.ts'))) {
    const js = ts.transpileModule(b.code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    writeFileSync(join(dir, b.file!.replace(/\.ts$/, '.js')), js);
  }
  return dir;
}

/** A data file as the guide's job expects: x float32 [n, 8], y int64 [n] in 4 classes (y = argmax of x's first 4 features). */
function dataFile(dir: string, n: number): string {
  const path = join(dir, 'train.safetensors');
  torch.manualSeed(0);
  const x = torch.randn([n, 8]);
  const y = x.narrow(1, 0, 4).argmax(1);
  io.saveSafetensors(path, { x, y });
  x.dispose();
  y.dispose();
  return path;
}

interface Progress { step: number; totalSteps: number; loss: number; stepsPerSecond: number }
interface Summary { steps: number; stopReason: string; trainLoss: number | null; weights: string }
interface Run { result: Promise<Summary>; cancel(): void; terminate(): Promise<void> }

describe('docs/electron.md: training in a worker thread', () => {
  it('reports throttled progress while the main thread stays free, and finishes with its summary and weights', async () => {
    const app = guideApp();
    const { startTraining } = require(join(app, 'training.js')) as { startTraining: (args: object, onProgress: (p: Progress) => void, everyMs?: number) => Run };
    const progress: { at: number; p: Progress }[] = [];
    // The main thread's event loop: the longest gap between 10 ms ticks while the worker trains.
    let lastTick = Date.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      const now = Date.now();
      longestGap = Math.max(longestGap, now - lastTick);
      lastTick = now;
    }, 10);
    const run = startTraining({ dataFile: dataFile(app, 2048), outDir: join(app, 'run'), epochs: 6, classes: 4 }, (p) => progress.push({ at: Date.now(), p }), 50);
    const summary = await run.result;
    clearInterval(ticker);
    expect(summary).toMatchObject({ steps: 192, stopReason: 'completed', weights: join(app, 'run', 'model.safetensors') });
    expect(summary.trainLoss).toBeLessThan(1.0); // ln 4 = 1.39 at the start; the classes are a function of x
    expect(existsSync(join(app, 'run', 'checkpoint-last.safetensors'))).toBe(true);
    const weights = io.loadSafetensors(summary.weights);
    expect(Object.keys(weights.tensors).sort()).toEqual(['0.bias', '0.weight', '2.bias', '2.weight']);
    torch.dispose(weights.tensors);
    // Progress: increasing steps, the last one reported, at most one report per 50 ms before it.
    const steps = progress.map((e) => e.p.step);
    expect(steps.at(-1)).toBe(192);
    expect(steps.every((s, i) => i === 0 || s > steps[i - 1])).toBe(true);
    expect(progress.every((e) => e.p.totalSteps === 192 && Number.isFinite(e.p.loss))).toBe(true);
    for (let i = 1; i < progress.length - 1; i++) expect(progress[i].at - progress[i - 1].at).toBeGreaterThanOrEqual(45);
    expect(progress.length).toBeLessThan(192);
    expect(longestGap).toBeLessThan(1000);
  }, 120_000);

  it('cancel() stops the run after the current step, with a last checkpoint', async () => {
    const app = guideApp();
    const { startTraining } = require(join(app, 'training.js')) as { startTraining: (args: object, onProgress: (p: Progress) => void, everyMs?: number) => Run };
    let run: Run | null = null;
    let cancelledAt = 0;
    run = startTraining({ dataFile: dataFile(app, 4096), outDir: join(app, 'run'), epochs: 50, classes: 4 }, (p) => {
      if (cancelledAt === 0 && p.step >= 20) {
        cancelledAt = p.step;
        run!.cancel();
      }
    }, 0);
    const summary = await run.result;
    expect(summary.stopReason).toBe('cancelled');
    expect(summary.steps).toBeGreaterThanOrEqual(cancelledAt);
    expect(summary.steps).toBeLessThan(50 * 64);
    expect(existsSync(join(app, 'run', 'checkpoint-last.safetensors'))).toBe(true);
  }, 120_000);
});

describe('docs/electron.md: training in a utility process', () => {
  it('utility-train.ts trains on start, streams step events and stops on cancel (process.parentPort stood in by Node IPC)', async () => {
    const app = guideApp();
    // Electron's process.parentPort: on('message', ({ data }) => ...) and postMessage(message).
    writeFileSync(join(app, 'parent-port.js'), `process.parentPort = {
      on: (type, listener) => process.on(type, (data) => listener({ data, ports: [] })),
      postMessage: (message) => process.send(message),
    };`);
    const child = fork(join(app, 'utility-train.js'), [], { execArgv: ['--require', join(app, 'parent-port.js')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const steps: number[] = [];
    const done = new Promise<{ type: string; summary?: Summary; message?: string }>((resolve) => {
      child.on('message', (m: { type: string; event?: { type: string; step: number }; summary?: Summary; message?: string }) => {
        if (m.type === 'event' && m.event?.type === 'step') {
          steps.push(m.event.step);
          if (m.event.step === 10) child.send({ type: 'cancel' });
        } else if (m.type === 'result' || m.type === 'error') resolve(m);
      });
    });
    child.send({ type: 'start', args: { dataFile: dataFile(app, 4096), outDir: join(app, 'run'), epochs: 50, classes: 4 } });
    const m = await done;
    child.kill();
    expect(m.message).toBeUndefined();
    expect(m.type).toBe('result');
    expect(m.summary!.stopReason).toBe('cancelled');
    expect(steps.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(m.summary!.steps).toBeLessThan(50 * 64);
    expect(existsSync(m.summary!.weights)).toBe(true);
  }, 120_000);
});

describe('the relocatable build (TORCHKD_BUNDLE_LIBTORCH)', () => {
  it('an addon linked with RUNPATH $ORIGIN loads its bundled libtorch from a package folder that was moved', () => {
    // The same objects as build/Release/torchkd.node, linked the way TORCHKD_BUNDLE_LIBTORCH=ON links it.
    execFileSync('cmake', ['--build', join(root, 'build'), '--target', 'torchkd_bundle'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const bundle = join(root, 'build', 'bundle');
    const dynamic = execFileSync('readelf', ['-d', join(bundle, 'torchkd.node')], { encoding: 'utf8' });
    expect(dynamic).toMatch(/\((RUNPATH|RPATH)\)\s+Library (runpath|rpath): \[\$ORIGIN\]/);
    const libs = readdirSync(bundle).filter((f) => /^lib.*\.so/.test(f));
    expect(libs.some((f) => f.startsWith('libtorch_cpu.so'))).toBe(true);
    expect(libs.some((f) => f.startsWith('libc10.so'))).toBe(true);

    // A package folder as an app ships it (node_modules/torchkd with dist/ and build/Release/), then moved.
    const app = mkdtempSync(join(tmpdir(), 'torchkd-package-'));
    const pkg = join(app, 'before', 'node_modules', 'torchkd');
    mkdirSync(join(pkg, 'build'), { recursive: true });
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true });
    // Hard links keep the 440 MB of libtorch off the disk; a packager copies the same files.
    execFileSync('cp', ['-al', bundle, join(pkg, 'build', 'Release')]);
    // torchkd's JavaScript dependencies (bindings, jstat, vega...), as npm installed them here.
    for (const dep of readdirSync(join(root, 'node_modules'))) {
      if (dep !== 'torchkd' && !dep.startsWith('.')) symlinkSync(join(root, 'node_modules', dep), join(app, 'before', 'node_modules', dep));
    }
    const moved = join(app, 'after');
    renameSync(join(app, 'before'), moved);

    const env = { ...process.env };
    delete env.LD_LIBRARY_PATH;
    const out = execFileSync(process.execPath, ['-e', `
      const { torch } = require('torchkd');
      const a = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
      const fs = require('fs');
      const libs = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.slice(l.indexOf('/')))
        .filter((p) => /\\/lib(torch|c10)[^/]*\\.so/.test(p));
      console.log(JSON.stringify({ product: a.matmul(a).toArray(), addon: require.resolve('torchkd'), libs: [...new Set(libs)] }));`],
    { cwd: moved, env, encoding: 'utf8' });
    const result = JSON.parse(out) as { product: number[][]; addon: string; libs: string[] };
    expect(result.product).toEqual([[7, 10], [15, 22]]);
    expect(result.addon).toBe(join(moved, 'node_modules', 'torchkd', 'dist', 'index.js'));
    expect(result.libs.length).toBeGreaterThanOrEqual(3);
    for (const lib of result.libs) expect(lib.startsWith(join(moved, 'node_modules', 'torchkd', 'build', 'Release') + '/'), lib).toBe(true);
    rmSync(app, { recursive: true, force: true });
  }, 300_000);
});
