// The Distiller and the Trainer: named losses, feature capture, checkpoints, resume after SIGKILL, the NaN
// guard, early stopping, AMP, and runs in a worker thread with progress events and cancellation.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { data, distill, io, nn, optim, torch, train as training, type Tensor } from '../dist/index.js';
import { collectGarbage, expectClose } from './helpers';

const FIXTURE = join(__dirname, 'fixtures', 'train-job.cjs');
const tmp = () => mkdtempSync(join(tmpdir(), 'torchkd-trainer-'));

type JobResult = { history: { step: number; metrics: Record<string, number> }[]; trainLog: unknown[]; steps: number; stopReason: string; weights: Record<string, number> };

function runJob(args: object): JobResult {
  const r = spawnSync(process.execPath, [FIXTURE, JSON.stringify(args)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`job failed: ${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return JSON.parse((line as string).slice(7)) as JobResult;
}

/** Starts the job, SIGKILLs it once it reports the checkpoint at `killAt`, returns when it is dead. */
function runJobAndKill(args: object & { killAt: number }): Promise<{ signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`checkpoint ${args.killAt}\n`)) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve({ signal }) : reject(new Error(`exited with ${code}: ${err}`))));
  });
}

/** metrics.jsonl without the parts that depend on wall-clock time. */
function metricsLog(dir: string): object[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as object);
}

class Mlp extends nn.Module {
  body: nn.Sequential;
  constructor(inp: number, width: number, out: number, p = 0) {
    super();
    this.body = this.registerModule('body', new nn.Sequential(new nn.Linear(inp, width), new nn.ReLU(), new nn.Dropout(p), new nn.Linear(width, out)));
  }
  forward(x: Tensor): Tensor {
    return this.body.call(x);
  }
}

/**
 * The live tensor count once earlier tests' unreferenced tensors are finalized (otherwise the collector may
 * free them in the middle of a run and skew a leak check).
 */
async function settledMemory(): Promise<number> {
  let n: number;
  do {
    n = torch.memory().tensors;
    await collectGarbage();
  } while (torch.memory().tensors !== n);
  return n;
}

function blobs(n: number, seed: number): [Tensor, Tensor] {
  return torch.tidy(() => {
    torch.manualSeed(seed);
    const centers = torch.randn([3, 6]).mul(2);
    const y = torch.randint(0, 3, [n]);
    return [centers.indexSelect(0, y).add(torch.randn([n, 6])), y];
  });
}

describe('Distiller', () => {
  it('returns the named losses, with loss = Σ weight · term, and captures features by module path', () => {
    torch.manualSeed(0);
    const teacher = new Mlp(6, 16, 3);
    const student = new Mlp(6, 8, 3);
    const seen: string[] = [];
    const d = new distill.Distiller({
      student, teachers: [teacher],
      terms: [
        distill.terms.crossEntropy(),
        distill.terms.kd({ temperature: 3, weight: 0.7 }),
        distill.terms.custom('probe', (ctx) => {
          seen.push(...Object.keys(ctx.student.features), ...Object.keys(ctx.teachers[0].features).map((k) => `t:${k}`));
          expect(ctx.student.features['body.1'].shape).toEqual([4, 8]);
          expect(ctx.teachers[0].features['body.1'].shape).toEqual([4, 16]);
          return ctx.student.features['body.1'].mean();
        }, (ctx) => ctx.step / 10),
      ],
      studentFeatures: ['body.1'], teacherFeatures: ['body.1'],
    });
    const [x, y] = blobs(4, 1);
    const losses = d.step({ input: x, target: y }, { step: 5, totalSteps: 10, epoch: 0, epochs: 1 });
    expect(Object.keys(losses)).toEqual(['loss', 'ce', 'kd', 'probe']);
    const v = Object.fromEntries(Object.entries(losses).map(([k, t]) => [k, t.item()]));
    expectClose(v.loss, v.ce + 0.7 * v.kd + 0.5 * v.probe, 1e-6);
    expectClose(v.ce, torch.tidy(() => nn.functional.crossEntropy(student.forward(x), y).item()), 1e-6);
    expectClose(v.kd, torch.tidy(() => distill.kdLoss(student.forward(x), teacher.forward(x), { temperature: 3 }).item()), 1e-6);
    expect(seen).toEqual(['body.1', 't:body.1']);
    // The teacher is frozen: no grad reaches it, the student gets one.
    losses.loss.backward();
    expect(teacher.parameters().every((p) => p.grad === null && !p.requiresGrad)).toBe(true);
    expect(student.parameters().every((p) => p.grad !== null)).toBe(true);
    torch.dispose([losses, x, y]);
    d.dispose();
  });

  it('masks unlabelled samples (negative labels) out of the cross entropy, not out of KD', () => {
    torch.manualSeed(0);
    const teacher = new Mlp(6, 16, 3);
    const student = new Mlp(6, 8, 3);
    const d = new distill.Distiller({ student, teachers: [teacher], terms: [distill.terms.crossEntropy(), distill.terms.kd()] });
    const [x, y0] = blobs(6, 2);
    const y = torch.tensor([y0.toArray()[0], -1, y0.toArray()[2], -1, -1, -1] as number[]);
    const losses = d.step({ input: x, target: y }, { step: 0, totalSteps: 1, epoch: 0, epochs: 1 });
    const expected = torch.tidy(() => {
      const rows = torch.tensor([0, 2]);
      return nn.functional.crossEntropy(student.forward(x).indexSelect(0, rows), y.indexSelect(0, rows)).item();
    });
    expectClose(losses.ce.item(), expected, 1e-6);
    const kdAll = torch.tidy(() => distill.kdLoss(student.forward(x), teacher.forward(x)).item());
    expectClose(losses.kd.item(), kdAll, 1e-6);
    const none = d.step({ input: x, target: torch.full([6], -1) }, { step: 0, totalSteps: 1, epoch: 0, epochs: 1 });
    expect(none.ce.item()).toBe(0);
    torch.dispose([losses, none, x, y, y0]);
  });

  it('averages the terms over intra-distillation passes and adds the X-divergence', () => {
    torch.manualSeed(0);
    const student = new Mlp(6, 8, 3, 0.5);
    const d = new distill.Distiller({ student, terms: [distill.terms.crossEntropy()], intra: { passes: 3, alpha: 2 } });
    const [x, y] = blobs(8, 3);
    torch.manualSeed(5);
    const losses = d.step({ input: x, target: y }, { step: 0, totalSteps: 100, epoch: 0, epochs: 1 });
    // The same three dropout passes by hand: ce averaged, intra = xDivergence of their softmaxes.
    torch.manualSeed(5);
    const outs = [0, 1, 2].map(() => student.forward(x));
    const ce = outs.map((o) => nn.functional.crossEntropy(o, y).item()).reduce((a, b) => a + b) / 3;
    const intra = distill.xDivergence(outs.map((o) => o.softmax(1))).item();
    expectClose(losses.ce.item(), ce, 1e-6);
    expectClose(losses.intra.item(), intra, 1e-6);
    // Step 0 of the adaptive schedule (alpha > 1) weighs the intra term by 0.
    expectClose(losses.loss.item(), ce, 1e-6);
    torch.dispose([losses, outs, x, y]);
  });

  it('adds the BSS boundary term with its epoch weight', () => {
    torch.manualSeed(0);
    const teacher = new Mlp(6, 32, 3);
    const student = new Mlp(6, 8, 3);
    const [x, y] = blobs(64, 4);
    // Labels the teacher agrees with, so that base samples exist.
    const yt = torch.noGrad(() => teacher.forward(x).argmax(1));
    const d = new distill.Distiller({
      student, teachers: [teacher], terms: [distill.terms.crossEntropy(), distill.terms.kd({ temperature: 3, weight: distill.terms.bssKdWeight })],
      bss: { maxBase: 8 },
    });
    // At epoch 0: r = 4 on the clean KD term, r_a = 2 on the boundary term.
    const early = d.step({ input: x, target: yt }, { step: 0, totalSteps: 100, epoch: 0, epochs: 10 });
    expect(early.bss.item()).toBeGreaterThan(0);
    expectClose(early.loss.item(), early.ce.item() + 4 * early.kd.item() + 2 * early.bss.item(), 1e-5);
    const late = d.step({ input: x, target: yt }, { step: 99, totalSteps: 100, epoch: 9.9, epochs: 10 });
    expect(late.bss).toBeUndefined();
    // Unlabelled rows: base samples are those where the student agrees with the teacher.
    const unlabelled = torch.full([64], -1);
    const transfer = d.step({ input: x, target: unlabelled }, { step: 0, totalSteps: 100, epoch: 0, epochs: 10 });
    expect(transfer.bss.item()).toBeGreaterThan(0);
    expect(transfer.ce.item()).toBe(0);
    torch.dispose([early, late, transfer, unlabelled, x, y, yt]);
  });

  it('offline: losses from a teacher cache equal those from the live teacher, features included', () => {
    torch.manualSeed(0);
    const teacher = new Mlp(6, 16, 3);
    const student = new Mlp(6, 8, 3);
    const [x, y] = blobs(40, 6);
    const dataset = new data.TensorDataset(x, y);
    const features = ['body.1'];
    const cache = distill.cacheTeacher((input) => {
      const out = distill.captureLayers(teacher, features, input);
      return { logits: teacher.forward(input), features: { 'body.1': out[0] } };
    }, dataset, { dir: join(tmp(), 'cache'), batchSize: 16, shardSize: 16 });
    const terms = () => [distill.terms.crossEntropy(), distill.terms.kd(),
      distill.terms.custom('feature', (ctx) => ctx.teachers[0].features['body.1'].square().mean())];
    const live = new distill.Distiller({ student, teachers: [teacher], terms: terms(), teacherFeatures: features });
    const offline = new distill.Distiller({ student, teacherCache: cache, terms: terms() });
    const indices = [3, 17, 38, 0, 21];
    const batch = torch.tidy(() => { const idx = torch.tensor(indices); return { input: x.indexSelect(0, idx), target: y.indexSelect(0, idx) }; });
    const info = { step: 0, totalSteps: 1, epoch: 0, epochs: 1 };
    const a = live.step(batch, info);
    const b = offline.step({ ...batch, indices }, info);
    for (const k of ['loss', 'ce', 'kd', 'feature']) expectClose(b[k].item(), a[k].item(), 1e-6);
    expect(() => offline.step(batch, info)).toThrow(/offline distillation needs the batch indices/);
    torch.dispose([a, b, batch, x, y]);
    cache.dispose();
  });

  it('refuses bad construction with clear errors', () => {
    const student = new Mlp(6, 8, 3);
    expect(() => new distill.Distiller({ student, terms: [] })).toThrow(/terms must be a non-empty list/);
    expect(() => new distill.Distiller({ student, terms: [distill.terms.crossEntropy()], studentFeatures: ['body.9'] }))
      .toThrow(/no submodule 'body.9'/);
    expect(() => new distill.Distiller({ student: {} as nn.Module, terms: [distill.terms.crossEntropy()] })).toThrow(/student must be an nn.Module/);
    expect(() => new distill.Distiller({ student, terms: [distill.terms.crossEntropy()], bss: {} })).toThrow(/bss needs a live teacher/);
    const d = new distill.Distiller({ student, terms: [distill.terms.kd()] });
    const [x, y] = blobs(4, 1);
    expect(() => d.step({ input: x, target: y }, { step: 0, totalSteps: 1, epoch: 0, epochs: 1 })).toThrow(/KD term needs a teacher/);
    torch.dispose([x, y]);
  });
});

describe('Trainer', () => {
  it('a run killed with SIGKILL and resumed ends with the same metrics, log and weights as an uninterrupted run', async () => {
    const whole = tmp();
    const reference = runJob({ outDir: whole });
    expect(reference.steps).toBe(60);
    expect(reference.history.map((h) => h.step)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(reference.history[5].metrics.accuracy).toBeGreaterThan(0.6);

    const split = tmp();
    const killed = await runJobAndKill({ outDir: split, killAt: 30 });
    expect(killed.signal).toBe('SIGKILL');
    // The log of the killed run stops at its last checkpoint.
    expect(Math.max(...metricsLog(split).map((r) => (r as { step: number }).step))).toBe(30);
    const resumed = runJob({ outDir: split, resume: true });
    expect(resumed.steps).toBe(60);
    // Only the evaluations after the checkpoint ran again: the history came back from the checkpoint.
    expect(resumed.history).toEqual(reference.history);
    expect(resumed.trainLog).toEqual(reference.trainLog);
    expect(resumed.weights).toEqual(reference.weights);
    expect(metricsLog(split)).toEqual(metricsLog(whole));
    expect(Object.keys(resumed.weights)).toContain('term.hidden.proj0.weight');
  }, 120_000);

  it('writes best and last checkpoints atomically with everything needed to resume', async () => {
    const dir = tmp();
    const result = runJob({ outDir: dir, epochs: 2 });
    const best = io.loadSafetensors(join(dir, 'checkpoint-best.safetensors'));
    const keys = Object.keys(best.tensors);
    expect(keys).toContain('student.body.0.weight');
    expect(keys).toContain('term.hidden.proj0.weight');
    expect(keys).toContain('rng.cpu');
    expect(keys.some((k) => k.startsWith('optimizer.') && k.endsWith('.momentum_buffer'))).toBe(true);
    const state = JSON.parse(best.metadata.state) as { step: number; best: { step: number } };
    expect(state.step).toBe(state.best.step);
    expect(JSON.parse(best.metadata.scheduler)).toMatchObject({ lastEpoch: state.step });
    torch.dispose(best.tensors);
    const bestStep = result.history.reduce((a, b) => (b.metrics.accuracy > a.metrics.accuracy ? b : a));
    expect(state.best.step).toBe(bestStep.step);
    // No temporary files are left behind.
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).sort()).toEqual(['checkpoint-best.safetensors', 'checkpoint-last.safetensors', 'metrics.jsonl']);
  });

  it('loads the best weights back: evaluate() gives the best metrics', async () => {
    const [x, y] = blobs(300, 7);
    const train = new data.DataLoader(new data.TensorDataset(x.narrow(0, 0, 200), y.narrow(0, 0, 200)), { batchSize: 20, shuffle: true, seed: 1 });
    const valid = new data.DataLoader(new data.TensorDataset(x.narrow(0, 200, 100), y.narrow(0, 200, 100)), { batchSize: 50 });
    torch.manualSeed(1);
    const student = new Mlp(6, 8, 3);
    const dir = tmp();
    const before = await settledMemory();
    const result = await training.fit({
      distiller: new distill.Distiller({ student, terms: [distill.terms.crossEntropy()] }),
      train, valid, epochs: 3, evalEvery: 3, outDir: dir, progress: 'none', restoreBest: true,
      optimizer: (p) => new optim.SGD(p, { lr: 0.5, momentum: 0.9 }),
    });
    // Checkpoints, evaluations and the optimizer's state leave nothing behind.
    expect(torch.memory().tensors).toBe(before);
    const best = result.best as { metrics: { accuracy: number; loss: number } };
    const again = training.evaluate(student, valid);
    expectClose(again.accuracy, best.metrics.accuracy, 0);
    expectClose(again.loss, best.metrics.loss, 1e-6);
    const fresh = new Mlp(6, 8, 3);
    training.loadCheckpointWeights(join(dir, 'checkpoint-best.safetensors'), fresh);
    expectClose(training.evaluate(fresh, valid).loss, best.metrics.loss, 1e-6);
    torch.dispose([x, y]);
  });

  it('restoreBest without outDir keeps the best weights in memory', async () => {
    const [x, y] = blobs(300, 7);
    const train = new data.DataLoader(new data.TensorDataset(x.narrow(0, 0, 200), y.narrow(0, 0, 200)), { batchSize: 20, shuffle: true, seed: 1 });
    const valid = new data.DataLoader(new data.TensorDataset(x.narrow(0, 200, 100), y.narrow(0, 200, 100)), { batchSize: 50 });
    torch.manualSeed(1);
    const student = new Mlp(6, 8, 3);
    const before = await settledMemory();
    // A learning rate that diverges late: the best evaluation is not the last one.
    const result = await training.fit({
      distiller: new distill.Distiller({ student, terms: [distill.terms.crossEntropy()] }),
      train, valid, epochs: 6, evalEvery: 5, progress: 'none', restoreBest: true, monitor: { metric: 'loss', mode: 'min' },
      optimizer: (p) => new optim.SGD(p, { lr: 0.3 }),
      scheduler: (o) => new optim.lrScheduler.LambdaLR(o, (step) => (step < 30 ? 1 : 20)),
    });
    const best = result.best as { step: number; metrics: { loss: number } };
    expect(best.step).toBeLessThan(result.steps);
    expectClose(training.evaluate(student, valid).loss, best.metrics.loss, 1e-6);
    expect(torch.memory().tensors).toBe(before);
    torch.dispose([x, y]);
  });

  it('teacher and student see the same augmented batch; events name their run', async () => {
    const [x, y] = blobs(64, 3);
    const images = x.reshape([64, 1, 2, 3]);
    const train = new data.DataLoader(new data.TensorDataset(images, y), { batchSize: 16 });
    torch.manualSeed(0);
    class Flat extends nn.Module {
      inner = this.registerModule('inner', new Mlp(6, 8, 3));
      forward(v: Tensor): Tensor {
        return this.inner.call(v.flatten(1));
      }
    }
    const teacher = new Flat();
    const student = new Flat();
    const flips: Tensor[] = [];
    const checks: boolean[] = [];
    const runs = new Set<string>();
    await training.fit({
      distiller: new distill.Distiller({
        student, teachers: [teacher], studentFeatures: ['inner.body.0'], teacherFeatures: ['inner.body.0'],
        terms: [distill.terms.kd(), distill.terms.custom('check', (ctx) => {
          // The teacher's logits are its output on the very input the student saw.
          checks.push(torch.tidy(() => teacher.forward(ctx.input).sub(ctx.teachers[0].logits).abs().max().item()) === 0);
          flips.push(torch.keep(ctx.input.clone()));
          return torch.zeros([]);
        })],
      }),
      train, epochs: 1, progress: 'none', name: 'augmented',
      augment: data.compose([data.randomHorizontalFlip({ p: 1 }), data.mixup({ alpha: 1 })]),
      onEvent: (e) => runs.add(e.run),
    });
    expect(checks).toEqual([true, true, true, true]);
    // The batches were augmented: flipped and mixed, so none equals its raw batch.
    expect(flips.every((f, k) => torch.tidy(() => f.sub(images.narrow(0, 16 * k, 16)).abs().max().item()) > 0)).toBe(true);
    expect([...runs]).toEqual(['augmented']);
    torch.dispose([flips, x, y, images]);
  });

  it('BSS, intra-distillation and spectral alignment work together in one run', async () => {
    torch.manualSeed(4);
    const [x0, y] = blobs(96, 9);
    const x = x0.reshape([96, 1, 2, 3]).repeat([1, 4, 2, 2]);
    class ConvNet extends nn.Module {
      body: nn.Sequential;
      constructor(c: number, p: number) {
        super();
        this.body = this.registerModule('body', new nn.Sequential(new nn.Conv2d(4, c, 3, { padding: 1 }), new nn.ReLU(), new nn.Conv2d(c, c, 3, { padding: 1 }),
          new nn.ReLU(), new nn.Dropout(p), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(c, 3)));
      }
      forward(v: Tensor): Tensor {
        return this.body.call(v) as Tensor;
      }
    }
    const teacher = new ConvNet(16, 0);
    const student = new ConvNet(4, 0.3);
    const selection = distill.spectralSelection(teacher, student, x.narrow(0, 0, 32), {
      teacherLayers: ['body.1', 'body.3'], studentLayers: ['body.1', 'body.3'], select: { strategy: 'top', k: 1 },
    });
    expect(selection.teacherProfile).toHaveLength(2);
    const train = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 32, shuffle: true, seed: 2 });
    const seen = new Set<string>();
    const result = await training.fit({
      distiller: new distill.Distiller({
        student, teachers: [teacher], terms: [distill.terms.crossEntropy(), distill.terms.kd(), selection.term],
        bss: { maxBase: 8, maxSteps: 3 }, intra: { passes: 2 },
      }),
      train, epochs: 3, logEvery: 1, progress: 'none',
      onEvent: (e) => { if (e.type === 'step') Object.keys(e.losses).forEach((k) => seen.add(k)); },
    });
    expect([...seen].sort()).toEqual(['bss', 'ce', 'intra', 'kd', 'loss', 'spectral']);
    expect(result.trainLog.every((r) => Object.values(r.losses).every(Number.isFinite))).toBe(true);
    torch.dispose([x0, x, y]);
  });

  it('NaN guard: skips non-finite steps with a warning, stops with a clear message after N in a row', async () => {
    const [x, y] = blobs(64, 3);
    const train = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 16 });
    torch.manualSeed(2);
    const student = new Mlp(6, 8, 3);
    const bad = new Set([2, 3]);
    const warnings: string[] = [];
    const weightsAt: number[] = [];
    const result = await training.fit({
      distiller: new distill.Distiller({
        student, terms: [distill.terms.crossEntropy(),
          distill.terms.custom('poison', (ctx) => (bad.has(ctx.step) ? torch.tensor(NaN) : torch.zeros([])))],
      }),
      train, epochs: 2, progress: 'none', optimizer: (p) => new optim.SGD(p, { lr: 0.1 }),
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.message);
        if (e.type === 'step') weightsAt.push(torch.tidy(() => student.body.at(0).parameters()[0].sum().item()));
      },
    });
    expect(result.steps).toBe(8);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^step 3: the loss is not finite \(loss NaN  ce [\d.]+  poison NaN\); the step was skipped$/);
    // Skipped steps leave the weights unchanged; the others move them.
    expect(weightsAt[2]).toBe(weightsAt[1]);
    expect(weightsAt[3]).toBe(weightsAt[1]);
    expect(weightsAt[4]).not.toBe(weightsAt[3]);

    const always = training.fit({
      distiller: new distill.Distiller({ student, terms: [distill.terms.custom('nan', () => torch.tensor(Infinity))] }),
      train, epochs: 5, progress: 'none', nanGuard: { maxConsecutive: 3 },
    });
    await expect(always).rejects.toThrow(/NaN or infinite for 3 steps in a row \(last step 3\)/);
    torch.dispose([x, y]);
  });

  it('early stopping after `patience` evaluations without improvement', async () => {
    const [x, y] = blobs(64, 3);
    const train = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 8 });
    const student = new Mlp(6, 8, 3);
    const scores = [0.5, 0.7, 0.69, 0.7, 0.65, 0.9];
    let calls = 0;
    const result = await training.fit({
      distiller: new distill.Distiller({ student, terms: [distill.terms.crossEntropy()] }),
      train, epochs: 10, evalEvery: 2, progress: 'none', earlyStopping: { patience: 3 },
      evaluate: () => ({ accuracy: scores[calls++], loss: 0 }),
    });
    expect(result.stopReason).toBe('early-stopping');
    expect(result.steps).toBe(10);
    expect(result.best).toEqual({ step: 4, metrics: { accuracy: 0.7, loss: 0 } });
    torch.dispose([x, y]);
  });

  it('trains under CPU autocast (bfloat16) with finite losses that go down', async () => {
    const [x, y] = blobs(256, 5);
    const train = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 32, shuffle: true, seed: 3 });
    torch.manualSeed(3);
    const student = new Mlp(6, 32, 3);
    const result = await training.fit({
      distiller: new distill.Distiller({ student, terms: [distill.terms.crossEntropy()] }),
      train, epochs: 4, amp: true, logEvery: 8, progress: 'none', clipGradNorm: 1,
      optimizer: (p) => new optim.AdamW(p, { lr: 1e-2 }),
    });
    const losses = result.trainLog.map((r) => r.losses.loss);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.6);
    torch.dispose([x, y]);
  });

  it('progress: plain lines when not a TTY, a redrawn bar on a TTY', async () => {
    const [x, y] = blobs(64, 3);
    const train = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 16 });
    const run = async (isTTY: boolean) => {
      let text = '';
      const stream = { isTTY, columns: 200, write: (s: string) => { text += s; } };
      await training.fit({
        distiller: new distill.Distiller({ student: new Mlp(6, 8, 3), terms: [distill.terms.crossEntropy()] }),
        train, epochs: 1, progress: 'auto', progressStream: stream, name: 'demo',
      });
      return text;
    };
    const lines = await run(false);
    expect(lines).toMatch(/^demo step 1\/4 \(.* it\/s, ETA .*\) loss \d\.\d{4}  ce \d\.\d{4}\n/);
    expect(lines).toMatch(/demo step 4\/4 .*\n/);
    // No valid set: the evaluation line gives the train loss, not an accuracy of NaN.
    expect(lines).toMatch(/\ndemo step 4: train loss \d\.\d{4} \(best\)\n/);
    expect(lines).not.toMatch(/NaN/);
    expect(lines).not.toMatch(/\r/);
    const bar = await run(true);
    expect(bar).toMatch(/\r\x1b\[2Kdemo █+░* \d\/4 [\d.]+ it\/s ETA \d\d:\d\d {2}loss/);
    expect(bar.endsWith('\n')).toBe(true);
    torch.dispose([x, y]);
  });

  it('refuses bad options with clear errors', () => {
    const [x, y] = blobs(8, 3);
    const train = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 4 });
    const distiller = new distill.Distiller({ student: new Mlp(6, 8, 3), terms: [distill.terms.crossEntropy()] });
    expect(() => new training.Trainer({ distiller, train, epochs: 0 })).toThrow(/epochs must be a positive integer/);
    expect(() => new training.Trainer({ distiller, train: [] as unknown as training.Loader })).toThrow(/must be a data.DataLoader/);
    expect(() => new training.Trainer({ distiller, train, resume: true })).toThrow(/resume needs outDir/);
    torch.dispose([x, y]);
  });
});

describe('runInWorker', () => {
  it('runs a training job in a worker thread: progress events arrive, the main loop stays free, cancel stops it', async () => {
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 5);
    const steps: number[] = [];
    const dir = tmp();
    const run = training.runInWorker<JobResult>({ module: FIXTURE, export: 'train', args: { outDir: dir, epochs: 50, slowMs: 2 } }, {
      onEvent: (e) => {
        if (e.type === 'step') {
          steps.push(e.step);
          if (e.step === 25) run.cancel();
        }
      },
    });
    const result = await run.result;
    clearInterval(timer);
    expect(result.stopReason).toBe('cancelled');
    expect(result.steps).toBeGreaterThanOrEqual(25);
    expect(result.steps).toBeLessThan(1000);
    expect(steps.slice(0, 25)).toEqual([...Array(25).keys()].map((i) => i + 1));
    // The main thread kept running timers while the worker trained.
    expect(ticks).toBeGreaterThan(5);
    // Cancelling wrote a last checkpoint at the step where the run stopped.
    const last = io.loadSafetensors(join(dir, 'checkpoint-last.safetensors'));
    expect((JSON.parse(last.metadata.state) as { step: number }).step).toBe(result.steps);
    torch.dispose(last.tensors);
  }, 60_000);

  it('runs a declarative configuration (distill --config) in a worker thread', async () => {
    const runs = new Set<string>();
    let steps = 0;
    const run = training.runConfigInWorker({
      data: { source: 'fashion-mnist', labelled: 256, testSamples: 128 },
      student: { arch: { name: 'mlp', hidden: [16] } }, terms: [{ type: 'ce' }], maxSteps: 6, progress: 'none',
    } as training.RunConfig, { onEvent: (e) => { runs.add(e.run); if (e.type === 'step') steps++; } });
    const result = await run.result;
    expect(result.fit.steps).toBe(6);
    expect(steps).toBe(6);
    expect([...runs]).toEqual(['student']);
    expect(result.student.accuracy).toBeGreaterThan(0);
  });

  it("reports the job's errors and a missing export", async () => {
    const missing = training.runInWorker({ module: FIXTURE, export: 'nope' });
    await expect(missing.result).rejects.toThrow(/exports no function 'nope'/);
    const failing = training.runInWorker({ module: FIXTURE, export: 'train', args: { outDir: tmp(), epochs: -1 } });
    await expect(failing.result).rejects.toThrow(/epochs must be a positive integer/);
    expect(existsSync(FIXTURE)).toBe(true);
  });
});
