// Teacher-assistant chains and the TA-size search (Mirzadeh et al. 2020) on small MLPs and a synthetic
// 4-class problem: stage order, each stage taught by the previous stage's best checkpoint, parameter
// counts, checkpoints, the search's criterion, the interpolation helpers, errors and memory.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { data, distill, io, nn, optim, torch, train as training, TorchError, type Tensor } from '../dist/index.js';
import { collectGarbage } from './helpers';

class MLP extends nn.Module {
  body: nn.Sequential;
  constructor(readonly width: number) {
    super();
    this.body = this.registerModule('body', new nn.Sequential(new nn.Linear(16, width), new nn.ReLU(), new nn.Linear(width, width), new nn.ReLU(), new nn.Linear(width, 4)));
  }
  forward(x: Tensor): Tensor {
    return this.body.call(x) as Tensor;
  }
}

/** Parameters of MLP(h): 16h + h + h² + h + 4h + 4. */
const mlpParameters = (h: number) => h * h + 22 * h + 4;

type Loader = training.Loader;
let train: Loader;
let valid: Loader;
let teacher: MLP;
let dir: string;
const adam = (p: Tensor[]) => new optim.Adam(p, { lr: 1e-2 });
const stageFit = { epochs: 3, evalEvery: 4, logEvery: 4, seed: 2, optimizer: adam, progress: 'none' as const };

/** Parameters and buffers by key, as nested arrays. */
function weights(m: nn.Module): Record<string, unknown> {
  return torch.tidy(() => Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, v.toArray()])));
}

/** The student weights stored in a trainer checkpoint, as nested arrays. */
function checkpointWeights(path: string): Record<string, unknown> {
  const { tensors } = io.loadSafetensors(path);
  try {
    return Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith('student.')).map(([k, v]) => [k.slice('student.'.length), v.toArray()]));
  } finally {
    torch.dispose(tensors);
  }
}

async function rejection(p: Promise<unknown>): Promise<TorchError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TorchError);
    return e as TorchError;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  torch.manualSeed(0);
  const w = torch.randn([16, 4]);
  const x = torch.randn([768, 16]);
  const y = torch.tidy(() => x.matmul(w).add(x.pow(2).matmul(w).mul(0.5)).argmax(1));
  train = new data.DataLoader(new data.TensorDataset(x.narrow(0, 0, 512), y.narrow(0, 0, 512)), { batchSize: 64, shuffle: true, seed: 1 });
  valid = new data.DataLoader(new data.TensorDataset(x.narrow(0, 512, 256), y.narrow(0, 512, 256)), { batchSize: 256 });
  teacher = new MLP(64);
  await training.fit({ distiller: new distill.Distiller({ student: teacher, terms: [distill.terms.crossEntropy()] }), train, valid, epochs: 10, seed: 1, optimizer: adam, progress: 'none' });
  dir = mkdtempSync(join(tmpdir(), 'tachain-test-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('taChain', () => {
  it('runs T → TA1 → TA2 → S, each stage taught by the previous stage\'s best checkpoint, with a report per stage', async () => {
    const stages = [{ name: 'ta1', model: new MLP(32) }, { name: 'ta2', model: new MLP(16) }, { name: 'student', model: new MLP(6) }];
    const outDir = join(dir, 'chain');
    const probe = torch.randn([8, 16]);
    // At the start of stage k, its teacher (stage k − 1's model) must hold stage k − 1's best checkpoint.
    const teacherChecks: boolean[] = [];
    let started = 0;
    const onEvent = (e: training.TrainerEvent) => {
      if (e.type !== 'start') return;
      const k = started++;
      if (k > 0) {
        const prev = stages[k - 1];
        expect(weights(prev.model)).toEqual(checkpointWeights(join(outDir, `${k - 1}-${prev.name}`, 'checkpoint-best.safetensors')));
        teacherChecks.push(true);
      }
    };
    const seen: distill.StageReport[] = [];
    const { stages: reports, student } = await distill.taChain({
      teacher, stages, train, valid, outDir, fit: { ...stageFit, onEvent }, onStage: (r) => seen.push(r),
    });

    expect(student).toBe(stages[2].model);
    expect(teacherChecks).toEqual([true, true]);
    expect(seen).toEqual(reports);
    expect(reports.map((r) => [r.index, r.name, r.teacher])).toEqual([[0, 'ta1', 'teacher'], [1, 'ta2', 'ta1'], [2, 'student', 'ta2']]);
    expect(reports.map((r) => r.parameters)).toEqual([1732, 612, 172]);
    expect(reports.map((r) => r.parameters)).toEqual([32, 16, 6].map(mlpParameters));
    for (const [i, r] of reports.entries()) {
      const stageDir = join(outDir, `${i}-${r.name}`);
      expect(r.result.checkpoints).toEqual({ last: join(stageDir, 'checkpoint-last.safetensors'), best: join(stageDir, 'checkpoint-best.safetensors') });
      expect(existsSync(r.result.checkpoints.best as string) && existsSync(join(stageDir, 'metrics.jsonl'))).toBe(true);
      expect(r.result.steps).toBe(24);
      expect(r.best).toEqual((r.result.best as { metrics: training.EvalMetrics }).metrics);
      expect(r.seconds).toBeGreaterThan(0);
      // Default terms: CE + KD.
      expect(Object.keys(r.result.trainLog[0].losses).sort()).toEqual(['ce', 'kd', 'loss']);
      // Every model ends with its best weights (restoreBest), which score the reported best.
      const model = stages[i].model;
      expect(weights(model)).toEqual(checkpointWeights(r.result.checkpoints.best as string));
      const m = training.evaluate(model, valid);
      expect(m.accuracy).toBe(r.best.accuracy);
      expect(m.loss).toBeCloseTo(r.best.loss, 5);
    }
    // The assistants were frozen teachers: their logits did not move while the next stage trained.
    for (const [i, s] of stages.slice(0, 2).entries()) {
      expect(s.model.parameters().every((p) => !p.requiresGrad)).toBe(true);
      const fresh = new MLP(s.model.width);
      training.loadCheckpointWeights(reports[i].result.checkpoints.best as string, fresh);
      fresh.eval();
      s.model.eval();
      expect(torch.noGrad(() => s.model.call(probe).toArray())).toEqual(torch.noGrad(() => fresh.call(probe).toArray()));
    }
    expect(stages[2].model.parameters().every((p) => p.requiresGrad)).toBe(true);
  });

  it('hands the best weights on, not the last, also without outDir (kept in memory)', async () => {
    const ta = new MLP(24);
    const student = new MLP(6);
    // "Best" = the highest validation loss: the first evaluation, so best and last differ.
    const { stages } = await distill.taChain({
      teacher, stages: [{ name: 'ta', model: ta }, { name: 'student', model: student }], train, valid,
      fit: { ...stageFit, monitor: { metric: 'loss', mode: 'max' } },
      terms: (i) => [distill.terms.crossEntropy(), distill.terms.kd({ temperature: i === 0 ? 2 : 4, weight: 0.5 })],
    });
    for (const [i, r] of stages.entries()) {
      expect(r.result.checkpoints).toEqual({});
      expect((r.result.best as { step: number }).step).toBe(4);
      expect(r.result.steps).toBe(24);
      const m = training.evaluate([ta, student][i], valid);
      expect(m.loss).toBeCloseTo(r.best.loss, 5);
      expect(Math.abs(m.loss - (r.result.last as training.EvalMetrics).loss)).toBeGreaterThan(1e-3);
    }
    expect(stages[0].best.loss).toBeGreaterThan((stages[0].result.last as training.EvalMetrics).loss);
  });

  it('resumes from outDir: completed stages are restored from their checkpoints, not retrained', async () => {
    const outDir = join(dir, 'resume');
    const run = (models: MLP[]) => distill.taChain({
      teacher, stages: [{ name: 'ta', model: models[0] }, { name: 'student', model: models[1] }], train, valid, outDir, fit: { ...stageFit, resume: true },
    });
    const first = await run([new MLP(24), new MLP(6)]);
    const again = [new MLP(24), new MLP(6)];
    const second = await run(again);
    for (const [i, r] of second.stages.entries()) {
      expect(r.result.steps).toBe(24);
      expect(r.best).toEqual(first.stages[i].best);
      expect(r.result.history).toEqual(first.stages[i].result.history);
      expect(weights(again[i])).toEqual(checkpointWeights(r.result.checkpoints.best as string));
    }
  });
});

describe('searchTeacherAssistant', () => {
  it('distils each candidate TA from the teacher and a student from each TA, and picks the TA of the best student', async () => {
    const students: MLP[] = [];
    const tas: MLP[] = [];
    let initial: Record<string, unknown> | null = null;
    const studentStarts: Record<string, unknown>[] = [];
    let started = 0;
    const seen: distill.TaCandidate[] = [];
    const result = await distill.searchTeacherAssistant({
      teacher, train, valid, direct: true, outDir: join(dir, 'search'),
      student: () => {
        const s = new MLP(6);
        initial ??= weights(s);
        students.push(s);
        return s;
      },
      candidate: (f) => {
        const ta = new MLP(distill.interpolateWidths([6], [64], f)[0]);
        tas.push(ta);
        return ta;
      },
      // Stages run TA, student per candidate, then the direct student: record each student's starting weights.
      fit: {
        ...stageFit,
        onEvent: (e) => {
          if (e.type !== 'start') return;
          const k = started++;
          if (k % 2 === 1 || k === 6) studentStarts.push(weights(students[students.length - 1]));
        },
      },
      onCandidate: (c) => seen.push(c),
    });

    const { candidates, best } = result;
    expect(candidates.map((c) => c.fraction)).toEqual([0.25, 0.5, 0.75]);
    expect(seen).toEqual(candidates);
    // Widths 6 + f·58 rounded, halves up: 20.5 → 21, 35, 49.5 → 50.
    expect(tas.map((t) => t.width)).toEqual([21, 35, 50]);
    expect(candidates.map((c) => c.parameters)).toEqual([21, 35, 50].map(mlpParameters));
    expect(result.studentParameters).toBe(mlpParameters(6));
    for (const c of candidates) {
      expect(c.stages.map((s) => [s.name, s.teacher])).toEqual([['ta', 'teacher'], ['student', 'ta']]);
      expect(c.best).toEqual(c.stages[0].best);
      expect(c.studentBest).toEqual(c.stages[1].best);
      expect(existsSync(join(dir, 'search', `ta-${c.fraction}`, '1-student', 'checkpoint-best.safetensors'))).toBe(true);
    }
    // The criterion: the best distilled student (the first one on ties).
    const accs = candidates.map((c) => c.studentBest.accuracy);
    const argmax = accs.indexOf(Math.max(...accs));
    expect(best.fraction).toBe(candidates[argmax].fraction);
    expect(best.ta).toBe(tas[argmax]);
    expect(best.student).toBe(students[argmax]);
    expect(training.evaluate(best.student, valid).accuracy).toBe(best.studentBest.accuracy);
    expect(training.evaluate(best.ta, valid).accuracy).toBe(best.best.accuracy);
    // Every student (the direct one too) started from the same weights.
    expect(studentStarts.length).toBe(4);
    for (const w of studentStarts) expect(w).toEqual(initial);
    expect(result.direct?.teacher).toBe('teacher');
    expect(result.direct?.parameters).toBe(mlpParameters(6));
    expect(existsSync(join(dir, 'search', 'direct', '0-student', 'checkpoint-best.safetensors'))).toBe(true);
  });
});

describe('interpolation helpers', () => {
  it('interpolateWidths: round(s + f·(t − s)) per layer, halves up', () => {
    expect(distill.interpolateWidths([8, 4], [64, 32], 0.5)).toEqual([36, 18]);
    expect(distill.interpolateWidths([8, 4], [64, 32], 0)).toEqual([8, 4]);
    expect(distill.interpolateWidths([8, 4], [64, 32], 1)).toEqual([64, 32]);
    expect(distill.interpolateWidths([1, 3, 10], [2, 4, 20], 0.25)).toEqual([1, 3, 13]);
    expect(distill.interpolateWidths([1, 3], [2, 6], 0.5)).toEqual([2, 5]);
    // Teacher narrower than the student is allowed.
    expect(distill.interpolateWidths([10], [4], 0.5)).toEqual([7]);
    // 1 + 0.58·25 computes as 15.499999999999998; the exact value is a half.
    expect(distill.interpolateWidths([1], [26], 0.58)).toEqual([16]);
    expect(distill.interpolateWidths([], [], 0.5)).toEqual([]);
  });

  it('interpolateDepth: round(s + f·(t − s)), halves up', () => {
    expect(distill.interpolateDepth(2, 10, 0.25)).toBe(4);
    expect(distill.interpolateDepth(3, 8, 0.5)).toBe(6);
    expect(distill.interpolateDepth(2, 10, 0.3)).toBe(4);
    expect(distill.interpolateDepth(8, 110, 0.5)).toBe(59);
    expect(distill.interpolateDepth(1, 86, 0.7)).toBe(61);
    expect(distill.interpolateDepth(5, 5, 0.5)).toBe(5);
  });
});

describe('errors', () => {
  it('rejects bad options with TorchErrors naming the function and the option', async () => {
    const stages = () => [{ name: 'student', model: new MLP(6) }];
    const base = () => ({ teacher, stages: stages(), train, valid });
    const chain = (o: unknown) => rejection(distill.taChain(o as distill.TaChainOptions));
    expect((await chain(null)).message).toMatch(/taChain\(\): options must be an object/);
    expect((await chain({ ...base(), teacher: {} })).message).toMatch(/options.teacher must be an nn.Module or an io.ScriptModule/);
    expect((await chain({ ...base(), train: [] })).message).toMatch(/options.train must be a data.DataLoader/);
    expect((await chain({ ...base(), valid: undefined })).message).toMatch(/options.valid must be a data.DataLoader/);
    expect((await chain({ ...base(), stages: [] })).message).toMatch(/options.stages must be a non-empty array/);
    expect((await chain({ ...base(), stages: [{ name: 'a/b', model: new MLP(6) }] })).message).toMatch(/stages\[0\].name must be a non-empty string without path separators/);
    expect((await chain({ ...base(), stages: [{ name: 's', model: {} }] })).message).toMatch(/stages\[0\].model \('s'\) must be an nn.Module/);
    expect((await chain({ ...base(), stages: [{ name: 's', model: teacher }] })).message).toMatch(/is the teacher or an earlier stage's model/);
    const shared = new MLP(6);
    expect((await chain({ ...base(), stages: [{ name: 'a', model: shared }, { name: 'b', model: shared }] })).message).toMatch(/stages\[1\].model \('b'\) is the teacher or an earlier stage's model/);
    expect((await chain({ ...base(), terms: [distill.terms.kd()] })).message).toMatch(/options.terms must be a function/);
    expect((await chain({ ...base(), terms: () => distill.terms.kd() })).message).toMatch(/options.terms\(0\) must return an array/);
    expect((await chain({ ...base(), fit: { outDir: dir } })).message).toMatch(/fit.outDir is set by the chain for each stage; use options.outDir/);
    expect((await chain({ ...base(), fit: { restoreBest: false } })).message).toMatch(/fit.restoreBest is set by the chain/);
    expect((await chain({ ...base(), fit: { resume: true } })).message).toMatch(/fit.resume needs options.outDir/);
    expect((await chain({ ...base(), fit: { epochs: 0 } })).message).toMatch(/Trainer: epochs must be a positive integer/);
    const aborted = new AbortController();
    aborted.abort();
    expect((await chain({ ...base(), fit: { ...stageFit, signal: aborted.signal } })).message).toMatch(/taChain\(\): cancelled during stage 0 \('student'\) at step 1/);

    const sbase = { teacher, train, valid, student: () => new MLP(6), candidate: () => new MLP(12) };
    const search = (o: unknown) => rejection(distill.searchTeacherAssistant(o as distill.TaSearchOptions));
    expect((await search({ ...sbase, fractions: [0, 0.5] })).message).toMatch(/searchTeacherAssistant\(\): each fraction must be a number in \(0, 1\).*got 0/);
    expect((await search({ ...sbase, fractions: [0.5, 1.5] })).message).toMatch(/got 1.5/);
    expect((await search({ ...sbase, fractions: [0.5, 0.5] })).message).toMatch(/options.fractions has duplicates/);
    expect((await search({ ...sbase, fractions: [] })).message).toMatch(/options.fractions must be a non-empty array/);
    expect((await search({ ...sbase, student: new MLP(6) })).message).toMatch(/options.student must be a function/);
    expect((await search({ ...sbase, student: () => 1 })).message).toMatch(/options.student\(\) must return an nn.Module/);
    expect((await search({ ...sbase, candidate: () => null })).message).toMatch(/options.candidate\(0.25\) must return an nn.Module/);
    expect((await search({ ...sbase, teacher: null })).message).toMatch(/searchTeacherAssistant\(\): options.teacher must be/);

    const thrown = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(TorchError);
        return (e as Error).message;
      }
      throw new Error('expected a TorchError');
    };
    expect(thrown(() => distill.interpolateWidths([8], [64, 32], 0.5))).toMatch(/interpolateWidths\(\): studentWidths \(1\) and teacherWidths \(2\) must have the same length/);
    expect(thrown(() => distill.interpolateWidths([8.5], [64], 0.5))).toMatch(/studentWidths\[0\] must be a positive integer, got 8.5/);
    expect(thrown(() => distill.interpolateWidths([8], [0], 0.5))).toMatch(/teacherWidths\[0\] must be a positive integer, got 0/);
    expect(thrown(() => distill.interpolateWidths([8], [64], 1.5))).toMatch(/fraction must be a number in \[0, 1\]/);
    expect(thrown(() => distill.interpolateWidths(8 as unknown as number[], [64], 0.5))).toMatch(/must be arrays of positive integers/);
    expect(thrown(() => distill.interpolateDepth(2, 10, NaN))).toMatch(/interpolateDepth\(\): fraction must be a number in \[0, 1\]/);
    expect(thrown(() => distill.interpolateDepth(0, 10, 0.5))).toMatch(/studentDepth must be a positive integer, got 0/);
  });
});

describe('memory', () => {
  it('leaves no tensors behind but the models (the search keeps only the winner\'s)', async () => {
    const stages = [{ name: 'ta', model: new MLP(24) }, { name: 'student', model: new MLP(6) }];
    await collectGarbage();
    let before = torch.memory().tensors;
    await distill.taChain({ teacher, stages, train, valid, fit: stageFit });
    await collectGarbage();
    expect(torch.memory().tensors).toBe(before);

    const made: nn.Module[] = [];
    const keep = <M extends nn.Module>(m: M) => (made.push(m), m);
    before = torch.memory().tensors;
    const { best } = await distill.searchTeacherAssistant({
      teacher, train, valid, fractions: [0.25, 0.75], direct: true, fit: stageFit,
      student: () => keep(new MLP(6)), candidate: (f) => keep(new MLP(distill.interpolateWidths([6], [64], f)[0])),
    });
    await collectGarbage();
    // The losers are disposed even though `made` still references them.
    expect(made.length).toBe(5);
    expect(torch.memory().tensors - before).toBe(best.ta.parameters().length + best.student.parameters().length);
  });
});
