// The main job (`npm run demo`, `npx torchkd demo`): on Fashion-MNIST,
//   1. train a teacher CNN (six conv layers) or reuse the one cached by an earlier run;
//   2. profile the teacher's layers spectrally (SpectralKD), print and plot the profile, select layers;
//   3. train a small student CNN four ways with the same data and step budget: labels only, Hinton KD,
//      KD + spectral feature alignment on the selected layers, KD + intra-distillation; the student sees a
//      small labelled subset plus the rest of the train split as an unlabelled transfer set;
//   4. print a table (test accuracy, parameters, latency per image, training time) and write
//      metrics.json and report.html.
import { mkdirSync, existsSync } from 'node:fs';
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
import { atomicWrite } from './data/idx';
import { Distiller, spectralSelection } from './distill/distiller';
import { crossEntropy, kd, type LossTerm } from './distill/terms';
import { evaluate, fit, type FitResult } from './train/trainer';
import { TeacherCache, cacheTeacher } from './distill/cache';

export interface DemoOptions {
  /** Output directory of metrics.json, report.html and the runs' logs (default 'demo-output'). */
  out?: string;
  device?: Device | string;
  /** Labelled training samples (default 1000); the next `transfer` train samples are unlabelled (default 20000). */
  labelled?: number;
  transfer?: number;
  /** Test samples evaluated (default all 10,000). */
  test?: number;
  /** Teacher training epochs (default 1) over the first `teacherSamples` train images (default 55000). */
  teacherEpochs?: number;
  teacherSamples?: number;
  /** Student training epochs over labelled + transfer samples (default 4); every run gets the same steps. */
  studentEpochs?: number;
  /** Student width multiplier (default 2: conv widths 16, 32, 64). */
  studentWidth?: number;
  /** Where the trained teacher is cached between runs (default $XDG_CACHE_HOME/torchkd or ~/.cache/torchkd). */
  cacheDir?: string;
  seed?: number;
  /** 'auto' (default) draws a bar on a TTY; 'none' is silent. */
  progress?: 'auto' | 'bar' | 'lines' | 'none';
}

export interface DemoRow {
  run: string;
  accuracy: number;
  parameters: number;
  latencyMs: number;
  trainSeconds: number;
}

export interface DemoResult {
  /** The teacher, then one row per student run. */
  rows: DemoRow[];
  spectral: { layers: string[]; teacher: number[]; student: number[]; studentLayers: string[]; selected: string[] };
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

function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'torchkd');
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const started = Date.now();
  const {
    out = 'demo-output', device = 'cpu', labelled = 1000, transfer = 20000, test = 10000,
    teacherEpochs = 1, teacherSamples = 55000, studentEpochs = 4, studentWidth = 2, seed = 0, progress = 'auto',
  } = options;
  for (const [k, v] of Object.entries({ labelled, transfer, test, teacherEpochs, teacherSamples, studentEpochs })) {
    if (!Number.isInteger(v) || v < (k === 'transfer' ? 0 : 1)) throw new TorchError(`runDemo(): ${k} must be a ${k === 'transfer' ? 'non-negative' : 'positive'} integer, got ${v}`);
  }
  if (labelled + transfer > 55000) throw new TorchError(`runDemo(): labelled + transfer must be at most 55000 (the train split less 5000 held out), got ${labelled + transfer}`);
  if (teacherSamples > 55000) throw new TorchError(`runDemo(): teacherSamples must be at most 55000, got ${teacherSamples}`);
  if (!(studentWidth > 0)) throw new TorchError(`runDemo(): studentWidth must be positive, got ${studentWidth}`);
  const outDir = resolve(out);
  const cacheDir = resolve(options.cacheDir ?? defaultCacheDir());
  mkdirSync(outDir, { recursive: true });
  mkdirSync(cacheDir, { recursive: true });
  const say = (s: string) => { if (progress !== 'none') console.log(s); };

  // Every tensor of the run (datasets and their views) is freed at the end.
  const owned: Tensor[] = [];
  const own = (t: Tensor) => {
    owned.push(t);
    return t;
  };
  const trainAll = loadSplit('train', 60000);
  const testSet = loadSplit('test', test);
  owned.push(trainAll.x, trainAll.y, testSet.x, testSet.y);
  const testLoader = new data.DataLoader(new data.TensorDataset(testSet.x, testSet.y), { batchSize: 1000 });
  const rows: DemoRow[] = [];
  const curves: report.CurvePoint[] = [];
  const addCurves = (run: string, r: FitResult) => {
    for (const t of r.trainLog) curves.push({ run, step: t.step, metric: 'train loss', value: t.losses.loss });
    for (const h of r.history) curves.push({ run, step: h.step, metric: 'valid accuracy', value: h.metrics.accuracy });
  };

  // 1. The teacher: trained on the whole labelled train split, cached by its recipe.
  const teacher = new FashionCnn(TEACHER_BLOCKS).to(device);
  const teacherFile = join(cacheDir, `fashion-teacher-${TEACHER_BLOCKS.map(([c, p]) => `${c}${p ? 'p' : ''}`).join('-')}-n${teacherSamples}-e${teacherEpochs}-s${seed}.safetensors`);
  let teacherSeconds = 0;
  // Held-out samples for model selection: the last 5000 of the train split (never used by the students).
  const holdout = { x: own(trainAll.x.narrow(0, 55000, 5000)), y: own(trainAll.y.narrow(0, 55000, 5000)) };
  const validLoader = new data.DataLoader(new data.TensorDataset(holdout.x, holdout.y), { batchSize: 1000 });
  if (existsSync(teacherFile)) {
    const saved = io.loadSafetensors(teacherFile, { device });
    torch.noGrad(() => teacher.loadStateDict(saved.tensors));
    torch.dispose(saved.tensors);
    teacherSeconds = Number(saved.metadata.trainSeconds ?? 0);
    say(`teacher: reusing ${teacherFile}`);
  } else {
    say(`teacher: training a ${teacher.numParameters()}-parameter CNN on ${teacherSamples} images (${teacherEpochs} epochs); cached afterwards in ${cacheDir}`);
    const trainLoader = new data.DataLoader(new data.TensorDataset(own(trainAll.x.narrow(0, 0, teacherSamples)), own(trainAll.y.narrow(0, 0, teacherSamples))),
      { batchSize: 128, shuffle: true, seed });
    const result = await fit({
      distiller: new Distiller({ student: teacher, terms: [crossEntropy()] }),
      train: trainLoader, valid: validLoader, epochs: teacherEpochs, seed, device, progress, name: 'teacher',
      optimizer: (p) => new optim.AdamW(p, { lr: 3e-3, weightDecay: 1e-4 }),
      scheduler: (o, total) => new optim.lrScheduler.OneCycleLR(o, 3e-3, { totalSteps: total }),
      outDir: join(outDir, 'teacher'), restoreBest: true,
    });
    teacherSeconds = result.seconds;
    addCurves('teacher', result);
    const weights = teacher.stateDict();
    io.saveSafetensors(teacherFile, weights, { metadata: { trainSeconds: String(teacherSeconds), recipe: 'torchkd demo teacher' } });
    torch.dispose(weights);
  }
  teacher.eval();
  rows.push({
    run: 'teacher', accuracy: evaluate(teacher, testLoader, { device }).accuracy, parameters: teacher.numParameters(),
    latencyMs: latencyPerImage(teacher, device), trainSeconds: teacherSeconds,
  });

  // 2. The spectral profile of the teacher's conv layers on 256 held-out images, and the selection.
  const makeStudent = () => new FashionCnn(studentBlocks(studentWidth), 0.2).to(device);
  const sample = torch.tidy(() => holdout.x.narrow(0, 0, 256).to(device));
  torch.manualSeed(seed);
  const probe = makeStudent();
  const selection = spectralSelection(teacher, probe, sample, {
    teacherLayers: teacher.layerPaths, studentLayers: probe.layerPaths, layout: 'BCHW', select: { strategy: 'top', k: 2 },
  });
  sample.dispose();
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
  const batchSize = 128;
  const transferLoader = new data.DataLoader(withTransfer, { batchSize, shuffle: true, seed: seed + 1 });
  const steps = studentEpochs * transferLoader.length;
  const labelsOnly = new data.DataLoader(new data.TensorDataset(own(studentX.narrow(0, 0, labelled)), own(studentY.narrow(0, 0, labelled))),
    { batchSize, shuffle: true, seed: seed + 1 });

  // Offline distillation: the teacher's logits over the student's training samples, computed once.
  const cache: TeacherCache = cacheTeacher((x) => ({ logits: teacher.call(x.to(device)) }), withTransfer,
    { dir: join(outDir, 'teacher-cache'), batchSize: 500, shardSize: labelled + transfer, fingerprint: teacherFile });
  const kdTerms = (): LossTerm[] => [crossEntropy(), kd({ temperature: 4 })];
  const runs: { run: string; distiller: () => Distiller; loader: data.DataLoader<Tensor[], Tensor[]> }[] = [
    { run: 'labels only', loader: labelsOnly, distiller: () => new Distiller({ student: makeStudent(), terms: [crossEntropy()] }) },
    { run: 'Hinton KD', loader: transferLoader, distiller: () => new Distiller({ student: makeStudent(), teacherCache: cache, terms: kdTerms() }) },
    {
      run: 'KD + spectral', loader: transferLoader,
      distiller: () => new Distiller({ student: makeStudent(), teachers: [teacher], terms: [...kdTerms(), { ...selection.term, weight: 0.5 }] }),
    },
    {
      run: 'KD + intra', loader: transferLoader,
      distiller: () => new Distiller({ student: makeStudent(), teacherCache: cache, terms: kdTerms(), intra: { passes: 2, alpha: 1 } }),
    },
  ];
  let studentProfile = selection.studentProfile;
  for (const { run, distiller, loader } of runs) {
    torch.manualSeed(seed);
    const d = distiller();
    const result = await fit({
      distiller: d, train: loader, valid: validLoader, maxSteps: steps, evalEvery: Math.ceil(steps / 4), seed, device, progress, name: run,
      optimizer: (p) => new optim.AdamW(p, { lr: 1e-2, weightDecay: 1e-4 }),
      scheduler: (o, total) => new optim.lrScheduler.OneCycleLR(o, 1e-2, { totalSteps: total }),
      outDir: join(outDir, run.replace(/[^a-z0-9]+/gi, '-').toLowerCase()), restoreBest: true,
    });
    addCurves(run, result);
    const student = d.student as FashionCnn;
    rows.push({
      run, accuracy: evaluate(student, testLoader, { device }).accuracy, parameters: student.numParameters(),
      latencyMs: latencyPerImage(student, device), trainSeconds: result.seconds,
    });
    if (run === 'KD + spectral') {
      const probeSample = torch.tidy(() => holdout.x.narrow(0, 0, 256).to(device));
      studentProfile = spectralSelection(teacher, student, probeSample, { teacherLayers: teacher.layerPaths, studentLayers: student.layerPaths }).studentProfile;
      probeSample.dispose();
    }
    d.dispose();
    student.dispose();
  }
  cache.dispose();

  // 4. The table, metrics.json and the report.
  const table = {
    columns: ['run', 'test accuracy', 'parameters', 'latency / image (ms)', 'training (s)'],
    rows: rows.map((r) => [r.run, Number(r.accuracy.toFixed(4)), r.parameters, Number(r.latencyMs.toFixed(3)), Number(r.trainSeconds.toFixed(1))]),
  };
  say(`\n${table.columns[0].padEnd(16)}${table.columns.slice(1).map((c) => c.padStart(22)).join('')}`);
  for (const r of table.rows) say(`${String(r[0]).padEnd(16)}${r.slice(1).map((v) => String(v).padStart(22)).join('')}`);
  const spectral = {
    layers: teacher.layerPaths, teacher: selection.teacherProfile, studentLayers: probe.layerPaths, student: studentProfile,
    selected: selection.selected.map((i) => teacher.layerPaths[i]),
  };
  const metricsPath = join(outDir, 'metrics.json');
  const seconds = (Date.now() - started) / 1000;
  atomicWrite(metricsPath, `${JSON.stringify({
    dataset: 'Fashion-MNIST', device, labelled, transfer, test: testSet.y.size(0), studentSteps: steps, seed, seconds,
    runs: rows, spectral,
  }, null, 2)}\n`);
  const reportPath = await report.writeReport(outDir, {
    title: 'torchkd demo: distilling a Fashion-MNIST CNN',
    subtitle: `${labelled} labelled + ${transfer} unlabelled training images, ${steps} student steps each, ${testSet.y.size(0)} test images, device ${device}`,
    spectral: [
      { model: 'teacher', layers: teacher.layerPaths.map((_, i) => `conv${i + 1}`), intensity: selection.teacherProfile, selected: selection.selected },
      { model: 'student (KD + spectral)', layers: probe.layerPaths.map((_, i) => `conv${i + 1}`), intensity: studentProfile },
    ],
    curves, table,
    notes: [
      'Spectral intensity: the mean magnitude of the FFT of each layer\'s activations along the channel axis (SpectralKD). The two most intense teacher layers are aligned with the student layers at the same relative depth.',
      'Every student run takes the same number of optimizer steps; "labels only" sees only the labelled subset, the others also the unlabelled transfer set through the teacher.',
    ],
  });
  say(`\nreport: ${reportPath}\nmetrics: ${metricsPath}\ntotal ${seconds.toFixed(0)} s`);
  torch.dispose(owned);
  probe.dispose();
  teacher.dispose();
  return { rows, spectral, reportPath, metricsPath, seconds };
}
