// The main job (`npm run demo`, `npx torchkd demo`): on Fashion-MNIST,
//   1. train a teacher CNN (six conv layers, 10 epochs with crop and flip augmentation) or reuse the one
//      cached by an earlier run with the same recipe;
//   2. profile the teacher's layers spectrally (SpectralKD), print and plot the profile, select layers;
//   3. train a small student CNN four ways with the same data and step budget (batch 32, AdamW with a one-cycle
//      learning rate peaking at 1e-2), once per seed: labels only, Hinton KD (0.1·CE + 0.9·T²·KL, T = 4),
//      KD + spectral feature alignment on the selected layers, KD + intra-distillation; the student sees a
//      small labelled subset plus the next train images as an unlabelled transfer set;
//   4. summarise each method as mean ± std over the seeds, test each difference against the seed-to-seed
//      noise (paired t-test: runs with the same seed share initial weights and data order), print a table and
//      write metrics.json and report.html (spectral profiles of the teacher and each student, learning curves,
//      confusion matrices of the teacher and students, the comparisons).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import * as nn from './nn';
import * as optim from './optim';
import * as torch from './torch';
import * as data from './data';
import * as io from './io';
import * as report from './report';
import { TorchError } from './torch/errors';
import type { Tensor } from './torch/tensor';
import type { Device } from './torch/dtype';
import { atomicWrite, FASHION_MNIST_CLASSES } from './data/idx';
import { Distiller, captureLayers, spectralSelection } from './distill/distiller';
import { spectralProfile } from './distill/spectral';
import { crossEntropy, kd, type LossTerm } from './distill/terms';
import { fit, type FitResult } from './train/trainer';
import { TeacherCache, cacheTeacher } from './distill/cache';
import { pairedTTest, summarize, type PairedComparison, type Summary } from './report/stats';

export interface DemoOptions {
  /** Output directory of metrics.json, report.html and the runs' logs (default 'demo-output'). */
  out?: string;
  device?: Device | string;
  /** The CI size: every size not given explicitly takes its value from QUICK_DEMO (a minute on 2 cores). */
  quick?: boolean;
  /** Labelled training samples (default 1000); the next `transfer` train samples are unlabelled (default 15000). */
  labelled?: number;
  transfer?: number;
  /** Test samples evaluated (default all 10,000). */
  test?: number;
  /** Teacher training epochs (default 10) over the first `teacherSamples` train images (default 55000). */
  teacherEpochs?: number;
  teacherSamples?: number;
  /** Student training epochs over labelled + transfer samples (default 2); every run gets the same steps. */
  studentEpochs?: number;
  /** Student width multiplier (default 2: conv widths 16, 32, 64). */
  studentWidth?: number;
  /** Seeds per method (default 3): the runs use seeds seed, seed + 1, ... */
  seeds?: number;
  /** Where the trained teacher is cached between runs (default $XDG_CACHE_HOME/torchkd or ~/.cache/torchkd). */
  cacheDir?: string;
  /** The first seed (default 0); the teacher is trained with it. */
  seed?: number;
  /** 'auto' (default) draws a bar on a TTY; 'none' is silent. */
  progress?: 'auto' | 'bar' | 'lines' | 'none';
}

/** The sizes of `quick: true` (the test suite's and CI's run). */
export const QUICK_DEMO = {
  labelled: 300, transfer: 1500, test: 1000, teacherSamples: 3000, teacherEpochs: 1, studentEpochs: 2, studentWidth: 1, seeds: 2,
} as const;

export interface DemoRow {
  run: string;
  /** Test accuracy: the mean over the seeds, and each seed's value (in seed order). */
  accuracy: number;
  accuracyStd: number;
  accuracies: number[];
  parameters: number;
  latencyMs: number;
  /** Mean training seconds per run. */
  trainSeconds: number;
}

/** One method against a reference method, over the same seeds. */
export interface DemoComparison extends PairedComparison {
  run: string;
  baseline: string;
}

export interface DemoResult {
  /** The teacher (one run, std 0), then one row per student method. */
  rows: DemoRow[];
  comparisons: DemoComparison[];
  seeds: number[];
  spectral: {
    layers: string[]; teacher: number[]; selected: string[];
    /** Each method's student (first seed) on the student layers. */
    studentLayers: string[]; students: Record<string, number[]>;
  };
  reportPath: string;
  metricsPath: string;
  seconds: number;
}

/** Fashion-MNIST's pixel mean and standard deviation over the train split. */
const MEAN = 0.2860;
const STD = 0.3530;

type Conv = [channels: number, pool: boolean];

/** A plain CNN: conv-BN-ReLU blocks (max-pooled where asked), global average pooling, a linear classifier. */
export class FashionCnn extends nn.Module {
  readonly features: nn.Sequential;
  readonly classifier: nn.Sequential;
  /** The ReLU of each conv block, by module path (the layers the spectral profile looks at). */
  readonly layerPaths: string[] = [];

  constructor(blocks: Conv[], dropout = 0) {
    super();
    const layers: nn.Module[] = [];
    let inChannels = 1;
    for (const [channels, pool] of blocks) {
      layers.push(new nn.Conv2d(inChannels, channels, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(channels), new nn.ReLU());
      this.layerPaths.push(`features.${layers.length - 1}`);
      if (pool) layers.push(new nn.MaxPool2d(2));
      inChannels = channels;
    }
    this.features = this.registerModule('features', new nn.Sequential(...layers));
    this.classifier = this.registerModule('classifier', new nn.Sequential(
      new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Dropout(dropout), new nn.Linear(inChannels, 10)));
  }

  forward(x: Tensor): Tensor {
    return this.classifier.call(this.features.call(x)) as Tensor;
  }
}

export const TEACHER_BLOCKS: Conv[] = [[16, false], [16, true], [32, false], [32, true], [64, false], [64, false]];
const studentBlocks = (w: number): Conv[] => [[Math.round(8 * w), true], [Math.round(16 * w), true], [Math.round(32 * w), false]];

/** The teacher's recipe; its cache file is named after it, so a changed recipe trains a new teacher. */
const TEACHER_RECIPE = { batchSize: 128, lr: 3e-3, weightDecay: 5e-4, crop: 2 };

function loadSplit(split: 'train' | 'test', count: number): { x: Tensor; y: Tensor } {
  const { images, labels } = data.fashionMnist({ split });
  try {
    return torch.tidy(() => {
      const n = Math.min(count, images.size(0));
      return {
        x: torch.keep(images.narrow(0, 0, n).to('float32').div(255).sub(MEAN).div(STD).unsqueeze(1)),
        y: torch.keep(labels.narrow(0, 0, n).clone()),
      };
    });
  } finally {
    images.dispose();
    labels.dispose();
  }
}

/** Median forward time of one image, in eval mode without grad (ms). */
function latencyPerImage(model: FashionCnn, device: Device | string): number {
  const wasTraining = model.training;
  model.eval();
  const x = torch.randn([1, 1, 28, 28], { device });
  try {
    const times: number[] = [];
    for (let i = 0; i < 230; i++) {
      const t0 = process.hrtime.bigint();
      torch.tidy(() => {
        const out = torch.noGrad(() => model.call(x));
        if (String(device).startsWith('cuda')) torch.cuda.synchronize();
        return out.dispose();
      });
      if (i >= 30) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  } finally {
    x.dispose();
    model.train(wasTraining);
  }
}

/** A model's test accuracy and its 10×10 confusion counts (counts[true][predicted]), from one pass over the test set. */
function testResults(model: nn.Module, loader: data.DataLoader<Tensor[], Tensor[]>, device: Device | string): { accuracy: number; counts: number[][] } {
  const wasTraining = model.training;
  model.eval();
  const counts = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
  try {
    for (const batch of loader) {
      const [truth, predicted] = torch.tidy(() => {
        const [x, y] = batch;
        const logits = torch.noGrad(() => (model as FashionCnn).call(x.to(device)));
        return [y.toArray() as number[], logits.argmax(1).cpu().toArray() as number[]];
      });
      torch.dispose(batch);
      truth.forEach((t, i) => { counts[t][predicted[i]] += 1; });
    }
  } finally {
    model.train(wasTraining);
  }
  const correct = counts.reduce((sum, row, i) => sum + row[i], 0);
  const total = counts.flat().reduce((a, b) => a + b, 0);
  return { accuracy: correct / total, counts };
}

/** The spectral intensity of each of `layers` of `model` on `sample` (distill.spectralProfile). */
function profileOf(model: nn.Module, layers: string[], sample: Tensor): number[] {
  const feats = captureLayers(model, layers, sample);
  try {
    return spectralProfile(feats, { layout: 'BCHW' });
  } finally {
    torch.dispose(feats);
  }
}

function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'torchkd');
}

const pct = (v: number, digits = 2) => (100 * v).toFixed(digits);

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const started = Date.now();
  const preset = options.quick ? QUICK_DEMO : {};
  const {
    out = 'demo-output', device = 'cpu', labelled = 1000, transfer = 15000, test = 10000, teacherEpochs = 10, teacherSamples = 55000,
    studentEpochs = 2, studentWidth = 2, seeds: seedCount = 3, seed = 0, progress = 'auto',
  } = { ...preset, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as DemoOptions;
  for (const [k, v] of Object.entries({ labelled, transfer, test, teacherEpochs, teacherSamples, studentEpochs, seeds: seedCount })) {
    if (!Number.isInteger(v) || v < (k === 'transfer' ? 0 : 1)) throw new TorchError(`runDemo(): ${k} must be a ${k === 'transfer' ? 'non-negative' : 'positive'} integer, got ${v}`);
  }
  if (!Number.isInteger(seed) || seed < 0) throw new TorchError(`runDemo(): seed must be a non-negative integer, got ${seed}`);
  if (labelled + transfer > 55000) throw new TorchError(`runDemo(): labelled + transfer must be at most 55000 (the train split less 5000 held out), got ${labelled + transfer}`);
  if (teacherSamples > 55000) throw new TorchError(`runDemo(): teacherSamples must be at most 55000, got ${teacherSamples}`);
  if (!(studentWidth > 0)) throw new TorchError(`runDemo(): studentWidth must be positive, got ${studentWidth}`);
  const outDir = resolve(out);
  const cacheDir = resolve(options.cacheDir ?? defaultCacheDir());
  mkdirSync(outDir, { recursive: true });
  mkdirSync(cacheDir, { recursive: true });
  const say = (s: string) => { if (progress !== 'none') console.log(s); };
  const seeds = Array.from({ length: seedCount }, (_, i) => seed + i);

  // Every tensor of the run (datasets and their views) is freed at the end.
  const owned: Tensor[] = [];
  const own = (t: Tensor) => {
    owned.push(t);
    return t;
  };
  const trainAll = loadSplit('train', 60000);
  const testSet = loadSplit('test', test);
  owned.push(trainAll.x, trainAll.y, testSet.x, testSet.y);
  const testLoader = new data.DataLoader(new data.TensorDataset(testSet.x, testSet.y), { batchSize: 250 });
  const curves: report.CurvePoint[] = [];

  // 1. The teacher: trained on the labelled train split with augmentation, cached by its recipe.
  const teacher = new FashionCnn(TEACHER_BLOCKS).to(device);
  const recipe = `${TEACHER_BLOCKS.map(([c, p]) => `${c}${p ? 'p' : ''}`).join('-')}-n${teacherSamples}-e${teacherEpochs}-s${seed}-wd${TEACHER_RECIPE.weightDecay}-aug`;
  const teacherFile = join(cacheDir, `fashion-teacher-${recipe}.safetensors`);
  const teacherRunDir = join(cacheDir, `fashion-teacher-${recipe}-training`);
  let teacherSeconds = 0;
  // Held-out samples for model selection: the last 5000 of the train split (never used by the students).
  const holdout = { x: own(trainAll.x.narrow(0, 55000, 5000)), y: own(trainAll.y.narrow(0, 55000, 5000)) };
  const validLoader = new data.DataLoader(new data.TensorDataset(holdout.x, holdout.y), { batchSize: 250 });
  if (existsSync(teacherFile)) {
    const saved = io.loadSafetensors(teacherFile, { device });
    torch.noGrad(() => teacher.loadStateDict(saved.tensors));
    torch.dispose(saved.tensors);
    teacherSeconds = Number(saved.metadata.trainSeconds ?? 0);
    say(`teacher: reusing ${teacherFile}`);
  } else {
    say(`teacher: training a ${teacher.numParameters()}-parameter CNN on ${teacherSamples} images (${teacherEpochs} epochs, random crops and flips); ` +
      `cached afterwards in ${cacheDir}`);
    const trainLoader = new data.DataLoader(new data.TensorDataset(own(trainAll.x.narrow(0, 0, teacherSamples)), own(trainAll.y.narrow(0, 0, teacherSamples))),
      { batchSize: TEACHER_RECIPE.batchSize, shuffle: true, seed });
    const result = await fit({
      distiller: new Distiller({ student: teacher, terms: [crossEntropy()] }),
      train: trainLoader, valid: validLoader, epochs: teacherEpochs, seed, device, progress, name: 'teacher',
      optimizer: (p) => new optim.AdamW(p, { lr: TEACHER_RECIPE.lr, weightDecay: TEACHER_RECIPE.weightDecay }),
      scheduler: (o, total) => new optim.lrScheduler.OneCycleLR(o, TEACHER_RECIPE.lr, { totalSteps: total }),
      augment: data.compose([data.randomCrop({ size: 28, padding: TEACHER_RECIPE.crop }), data.randomHorizontalFlip()]),
      // Checkpointed every epoch next to the cache, so an interrupted first run continues where it stopped.
      outDir: teacherRunDir, resume: true, restoreBest: true,
    });
    teacherSeconds = result.seconds; // after a resume: the seconds since it
    const weights = teacher.stateDict();
    io.saveSafetensors(teacherFile, weights, { metadata: { trainSeconds: String(teacherSeconds), recipe: `torchkd demo teacher ${recipe}` } });
    torch.dispose(weights);
    rmSync(teacherRunDir, { recursive: true, force: true });
  }
  teacher.eval();
  const { accuracy: teacherAccuracy, counts: teacherConfusion } = testResults(teacher, testLoader, device);
  const rows: DemoRow[] = [{
    run: 'teacher', accuracy: teacherAccuracy, accuracyStd: 0, accuracies: [teacherAccuracy], parameters: teacher.numParameters(),
    latencyMs: latencyPerImage(teacher, device), trainSeconds: teacherSeconds,
  }];
  say(`teacher: test accuracy ${pct(teacherAccuracy)}%`);

  // 2. The spectral profile of the teacher's conv layers on 256 held-out images, and the selection.
  const makeStudent = () => new FashionCnn(studentBlocks(studentWidth), 0.1).to(device);
  const sample = own(torch.tidy(() => holdout.x.narrow(0, 0, 256).to(device)));
  torch.manualSeed(seed);
  const probe = makeStudent();
  const studentLayers = probe.layerPaths;
  const selection = spectralSelection(teacher, probe, sample, {
    teacherLayers: teacher.layerPaths, studentLayers, layout: 'BCHW', select: { strategy: 'top', k: 2 },
  });
  probe.dispose();
  say('\nspectral profile of the teacher (mean FFT magnitude along channels):');
  const maxIntensity = Math.max(...selection.teacherProfile);
  selection.teacherProfile.forEach((v, i) => {
    const bar = '█'.repeat(Math.round((30 * v) / maxIntensity));
    say(`  conv${i + 1} ${teacher.layerPaths[i].padEnd(12)} ${v.toFixed(3).padStart(8)} ${bar}${selection.selected.includes(i) ? '  ← selected' : ''}`);
  });
  say(`aligned pairs (student ← teacher): ${selection.pairs.map(([s, t]) => `${s} ← ${t}`).join(', ')}\n`);

  // 3. The students: labelled subset + unlabelled transfer set (label -1), the same steps for every run.
  const studentX = own(trainAll.x.narrow(0, 0, labelled + transfer));
  const studentY = own(torch.tidy(() => torch.cat([trainAll.y.narrow(0, 0, labelled), torch.full([transfer], -1, { dtype: 'int64' })])));
  const withTransfer = new data.TensorDataset(studentX, studentY);
  const labelsOnlySet = new data.TensorDataset(own(studentX.narrow(0, 0, labelled)), own(studentY.narrow(0, 0, labelled)));
  const batchSize = 32;
  const steps = studentEpochs * Math.ceil((labelled + transfer) / batchSize);

  // Offline distillation: the teacher's logits over the student's training samples, computed once.
  const cache: TeacherCache = cacheTeacher((x) => ({ logits: teacher.call(x.to(device)) }), withTransfer,
    { dir: join(outDir, 'teacher-cache'), batchSize: 500, shardSize: labelled + transfer, fingerprint: teacherFile });
  // Hinton et al.'s mix: (1 − α)·CE on the labelled samples + α·T²·KL, α = 0.9, T = 4 (mdistiller's CIFAR-100
  // KD weights, recipes.mdistillerKd). With about 2 labelled samples in a batch of 32, an equally weighted CE
  // (1·CE + 1·T²·KL) is mostly noise: it cost the student about 4 points of test accuracy when measured.
  const kdTerms = (): LossTerm[] => [crossEntropy({ weight: 0.1 }), kd({ temperature: 4, weight: 0.9 })];
  const methods: { run: string; transfer: boolean; distiller: () => Distiller }[] = [
    { run: 'labels only', transfer: false, distiller: () => new Distiller({ student: makeStudent(), terms: [crossEntropy()] }) },
    { run: 'Hinton KD', transfer: true, distiller: () => new Distiller({ student: makeStudent(), teacherCache: cache, terms: kdTerms() }) },
    {
      run: 'KD + spectral', transfer: true,
      distiller: () => new Distiller({ student: makeStudent(), teachers: [teacher], terms: [...kdTerms(), { ...selection.term, weight: 0.5 }] }),
    },
    {
      run: 'KD + intra', transfer: true,
      distiller: () => new Distiller({ student: makeStudent(), teacherCache: cache, terms: kdTerms(), intra: { passes: 2, alpha: 1 } }),
    },
  ];
  const accuracies = new Map<string, number[]>(methods.map((m) => [m.run, []]));
  const seconds = new Map<string, number[]>(methods.map((m) => [m.run, []]));
  const validCurves = new Map<string, Map<number, number[]>>(methods.map((m) => [m.run, new Map()]));
  const lossCurves = new Map<string, Map<number, number[]>>(methods.map((m) => [m.run, new Map()]));
  const studentProfiles: Record<string, number[]> = {};
  const confusion = new Map<string, number[][]>();
  let studentParameters = 0;
  let studentLatency = 0;
  const add = (curve: Map<number, number[]>, step: number, value: number) => curve.set(step, [...(curve.get(step) ?? []), value]);
  for (const s of seeds) {
    for (const m of methods) {
      torch.manualSeed(s);
      const d = m.distiller();
      const loader = new data.DataLoader(m.transfer ? withTransfer : labelsOnlySet, { batchSize, shuffle: true, seed: s + 1 });
      const runDir = join(outDir, m.run.replace(/[^a-z0-9]+/gi, '-').toLowerCase(), `seed-${s}`);
      const result: FitResult = await fit({
        distiller: d, train: loader, valid: validLoader, maxSteps: steps, evalEvery: Math.ceil(steps / 4), seed: s, device, progress,
        name: seeds.length > 1 ? `${m.run} (seed ${s})` : m.run,
        optimizer: (p) => new optim.AdamW(p, { lr: 1e-2, weightDecay: 1e-4 }),
        scheduler: (o, total) => new optim.lrScheduler.OneCycleLR(o, 1e-2, { totalSteps: total }),
        outDir: runDir, restoreBest: true,
      });
      for (const h of result.history) add(validCurves.get(m.run)!, h.step, h.metrics.accuracy);
      for (const t of result.trainLog) add(lossCurves.get(m.run)!, t.step, t.losses.loss);
      const student = d.student as FashionCnn;
      const tested = testResults(student, testLoader, device);
      accuracies.get(m.run)!.push(tested.accuracy);
      seconds.get(m.run)!.push(result.seconds);
      if (s === seeds[0]) {
        studentProfiles[m.run] = profileOf(student, studentLayers, sample);
        confusion.set(m.run, tested.counts);
        if (studentLatency === 0) {
          studentParameters = student.numParameters();
          studentLatency = latencyPerImage(student, device);
        }
      }
      d.dispose();
      student.dispose();
    }
  }
  cache.dispose();

  // 4. Mean ± std per method, paired comparisons, the table, metrics.json and the report.
  const summaries = new Map<string, Summary>(methods.map((m) => [m.run, summarize(accuracies.get(m.run)!)]));
  for (const m of methods) {
    const sm = summaries.get(m.run)!;
    rows.push({
      run: m.run, accuracy: sm.mean, accuracyStd: sm.std, accuracies: accuracies.get(m.run)!, parameters: studentParameters,
      latencyMs: studentLatency, trainSeconds: summarize(seconds.get(m.run)!).mean,
    });
  }
  const comparisons: DemoComparison[] = [];
  for (const baseline of ['labels only', 'Hinton KD']) {
    for (const m of methods) {
      if (m.run === baseline || (baseline === 'Hinton KD' && m.run === 'labels only')) continue;
      comparisons.push({ run: m.run, baseline, ...pairedTTest(accuracies.get(m.run)!, accuracies.get(baseline)!) });
    }
  }
  const noise = summarize(methods.map((m) => summaries.get(m.run)!.std)).mean;

  const pm = (r: DemoRow) => (r.run === 'teacher' ? `${pct(r.accuracy)}` : `${pct(r.accuracy)} ± ${pct(r.accuracyStd)}`);
  say(`\ntest accuracy (%) over ${seeds.length} seed${seeds.length > 1 ? 's' : ''} (${seeds.join(', ')}), ${steps} student steps each:`);
  say(`${'run'.padEnd(16)}${'accuracy (%)'.padStart(16)}${'per seed'.padStart(26)}${'parameters'.padStart(12)}${'ms / image'.padStart(12)}${'train s'.padStart(10)}`);
  for (const r of rows) {
    say(`${r.run.padEnd(16)}${pm(r).padStart(16)}${r.accuracies.map((a) => pct(a)).join(' ').padStart(26)}${String(r.parameters).padStart(12)}` +
      `${r.latencyMs.toFixed(3).padStart(12)}${r.trainSeconds.toFixed(1).padStart(10)}`);
  }
  const verdict = (c: DemoComparison) => (c.p === null ? 'one seed: no test' : c.significant ? 'larger than the noise' : 'within the noise');
  say('\npaired differences over the seeds (percentage points, 95% interval, paired t-test):');
  for (const c of comparisons) {
    const ci = c.ci ? `[${pct(c.ci[0])}, ${pct(c.ci[1])}]` : '';
    say(`  ${`${c.run} − ${c.baseline}`.padEnd(30)} ${(c.meanDiff >= 0 ? '+' : '') + pct(c.meanDiff)} ${ci.padEnd(18)} ` +
      `${c.p === null ? '' : `p = ${c.p.toFixed(3)}`}  ${verdict(c)}`);
  }

  const spectral = {
    layers: teacher.layerPaths, teacher: selection.teacherProfile, selected: selection.selected.map((i) => teacher.layerPaths[i]),
    studentLayers, students: studentProfiles,
  };
  const metricsPath = join(outDir, 'metrics.json');
  const totalSeconds = (Date.now() - started) / 1000;
  atomicWrite(metricsPath, `${JSON.stringify({
    dataset: 'Fashion-MNIST', device, labelled, transfer, test: testSet.y.size(0), studentSteps: steps, seeds, seconds: totalSeconds,
    runs: rows, comparisons, spectral,
  }, null, 2)}\n`);

  const meanCurve = (run: string, metric: string, curve: Map<number, number[]>) =>
    [...curve].filter(([, vs]) => vs.length === seeds.length).map(([step, vs]) => ({ run, step, metric, value: summarize(vs).mean }));
  for (const m of methods) {
    curves.push(...meanCurve(m.run, 'valid accuracy', validCurves.get(m.run)!), ...meanCurve(m.run, 'train loss', lossCurves.get(m.run)!));
  }
  const best = methods.slice(1).reduce((a, b) => (summaries.get(b.run)!.mean > summaries.get(a.run)!.mean ? b : a)).run;
  const classes = [...FASHION_MNIST_CLASSES];
  const reportPath = await report.writeReport(outDir, {
    title: 'torchkd demo: distilling a Fashion-MNIST CNN',
    subtitle: `${labelled} labelled + ${transfer} unlabelled training images, ${steps} student steps per run, ${seeds.length} seed${seeds.length > 1 ? 's' : ''} ` +
      `per method, ${testSet.y.size(0)} test images, device ${device}`,
    spectral: [
      { model: 'teacher', layers: teacher.layerPaths.map((_, i) => `conv${i + 1}`), intensity: selection.teacherProfile, selected: selection.selected },
      ...methods.map((m) => ({ model: `student: ${m.run}`, layers: studentLayers.map((_, i) => `conv${i + 1}`), intensity: studentProfiles[m.run] })),
    ],
    curves,
    table: {
      columns: ['run', 'test accuracy (%)', '± std', 'parameters', 'latency / image (ms)', 'training (s)'],
      rows: rows.map((r) => [r.run, Number(pct(r.accuracy)), Number(pct(r.accuracyStd)), r.parameters, Number(r.latencyMs.toFixed(3)), Number(r.trainSeconds.toFixed(1))]),
      errors: { 'test accuracy (%)': '± std' },
    },
    tables: [{
      title: 'Which differences exceed the noise',
      caption: `Per-seed differences of test accuracy (percentage points) between methods trained with the same seeds (the same initial weights and data order), ` +
        `their 95% confidence interval and the two-sided paired t-test. A difference is larger than the noise when its interval excludes 0 (p < 0.05). ` +
        `The mean seed-to-seed standard deviation of one method is ${pct(noise)} points.`,
      table: {
        columns: ['comparison', 'mean difference (points)', 'interval low', 'interval high', 'p', 'verdict'],
        rows: comparisons.map((c) => [`${c.run} − ${c.baseline}`, Number(pct(c.meanDiff)), c.ci ? Number(pct(c.ci[0])) : 'n/a', c.ci ? Number(pct(c.ci[1])) : 'n/a',
          c.p === null ? 'n/a' : Number(c.p.toFixed(4)), verdict(c)]),
      },
    }],
    confusion: [
      { model: `teacher (${pct(teacherAccuracy)}%)`, classes, counts: teacherConfusion },
      { model: `student: labels only (seed ${seeds[0]})`, classes, counts: confusion.get('labels only')! },
      { model: `student: ${best} (seed ${seeds[0]})`, classes, counts: confusion.get(best)! },
    ],
    notes: [
      `Each student method ran once per seed (${seeds.join(', ')}); the table shows the mean test accuracy ± the sample standard deviation over the seeds, ` +
        'and the learning curves the mean over the seeds.',
      'Spectral intensity: the mean magnitude of the FFT of each layer\'s activations along the channel axis (SpectralKD). The two most intense teacher layers are ' +
        'aligned with the student layers at the same relative depth in "KD + spectral"; the student profiles are those of the first seed\'s students.',
      `Every student run takes the same number of optimizer steps (${steps}, batch ${batchSize}); "labels only" sees only the labelled subset, the others also ` +
        'the unlabelled transfer set through the teacher. The KD loss is 0.1·CE (labelled samples) + 0.9·T²·KL(teacher ‖ student), T = 4.',
    ],
  });
  say(`\nreport: ${reportPath}\nmetrics: ${metricsPath}\ntotal ${totalSeconds.toFixed(0)} s`);
  torch.dispose(owned);
  teacher.dispose();
  return { rows, comparisons, seeds, spectral, reportPath, metricsPath, seconds: totalSeconds };
}
