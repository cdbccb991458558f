// Declarative distillation runs: a JSON-serialisable RunConfig (data, teachers, student, loss terms,
// optimizer, scheduler and every Trainer option), validated with errors naming the JSON path, and
// runConfig(), which builds everything and runs the Trainer (`torchkd distill --config run.json`; the
// hooks are plain callbacks so that a worker thread can run it and post the events).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as nn from '../nn';
import * as optim from '../optim';
import * as torch from '../torch';
import { TorchError } from '../torch/errors';
import { isTensor, type Tensor } from '../torch/tensor';
import { isFloatingPoint } from '../torch/dtype';
import {
  DataLoader, Generator, TensorDataset, fashionMnist, readIdx, FASHION_MNIST_ROOT, compose, mixup, randomCrop, randomHorizontalFlip,
  type Augmentation,
} from '../data';
import { atomicWrite } from '../data/idx';
import { ScriptModule, loadSafetensors, loadTorchScript } from '../io';
import { checkPath } from '../io/paths';
import type { Optimizer } from '../optim/optimizer';
import type { LRScheduler } from '../optim/lrScheduler';
import { Distiller, spectralSelection, type BssOptions, type IntraOptions, type Teacher } from '../distill/distiller';
import * as terms from '../distill/terms';
import type { EpochConvention, LossTerm, PairReduction } from '../distill/terms';
import type { KdDivergence, KdReduction } from '../distill/hinton';
import { bssWeights } from '../distill/bss';
import type { FeatureLayout, SelectOptions } from '../distill/spectral';
import type { ProgressMode } from './progress';
import { evaluate, fit, type BatchAugmentation, type FitResult, type Loader, type TrainerEvent } from './trainer';
import { buildModel, checkArch, loadWeights, readArch, resolveArch, saveModel, type ArchConfig } from '../models/arch';
import { ConfigError, Validator, show } from '../util/validate';

// ------------------------------------------------------------------------------------------ the schema

/**
 * Where a split's tensors come from. IDX: `x` and `y` are two IDX files (plain or gzipped). safetensors:
 * `x` is a file holding the inputs under `xKey` (default 'x') and the labels under `yKey` (default 'y'),
 * or the labels are in a second file `y`. Relative paths are relative to the configuration file.
 */
export interface SplitFiles {
  x: string;
  y?: string;
  xKey?: string;
  yKey?: string;
}

/**
 * The data. Inputs of dtype uint8 are scaled to float32 in [0, 1] and [N, H, W] images get a channel
 * axis ([N, 1, H, W]); other inputs are used as stored (int64 token ids, float features). Labels are
 * integer class indices 0..C−1 (C = the largest training label + 1).
 *
 * The training split is permuted with `seed`; the first `valid` samples are held out for model selection,
 * the next `labelled` are the labelled training set, the next `transfer` the unlabelled transfer set
 * (their labels are replaced by −1: only label-free terms such as kd learn from them). Without `valid`,
 * the test split (its first `testSamples`) is what the Trainer evaluates and selects on.
 */
export interface DataConfig {
  source: 'fashion-mnist' | 'idx' | 'safetensors';
  /** Fashion-MNIST's folder (default /usr/share/datasets/fashion-mnist). */
  root?: string;
  /** The splits' files (idx and safetensors sources). */
  train?: SplitFiles;
  test?: SplitFiles;
  /** Labelled training samples (default: every training sample not held out or used for transfer). */
  labelled?: number;
  /** Unlabelled transfer samples (default 0). */
  transfer?: number;
  /** Training samples held out for validation (default 0: validate on the test split). */
  valid?: number;
  /** Test samples used, from the start of the test split (default all). */
  testSamples?: number;
  /** Training batch size (default 64) and evaluation batch size (default 512). */
  batchSize?: number;
  evalBatchSize?: number;
  /** Seed of the split and of the shuffles (default 0). */
  seed?: number;
}

/**
 * A model: a built-in architecture (inline, or the path of an arch.json) with optional safetensors weights
 * (a state_dict, or a torchkd checkpoint's student), or a TorchScript file (teachers only).
 */
export type ModelSource = { arch: ArchConfig | string; weights?: string } | { torchscript: string };

/** Optional training of a built-in teacher from labels (cross entropy) before the distillation. */
export interface TeacherTrainConfig {
  epochs?: number;
  maxSteps?: number;
  /** Labelled samples the teacher trains on (default: every training sample not held out for validation). */
  labelled?: number;
  optimizer?: OptimizerConfig;
  scheduler?: SchedulerConfig;
  clipGradNorm?: number;
  evalEvery?: number;
  augment?: AugmentConfig[];
}

export type TeacherConfig = ModelSource & { train?: TeacherTrainConfig };

/**
 * Batch augmentations (data.augment): randomCrop (torchvision's RandomCrop per sample), randomHorizontalFlip,
 * mixup (the ce term then mixes the two samples' losses).
 */
export type AugmentConfig =
  | { type: 'randomCrop'; size: number | [number, number]; padding?: number; paddingMode?: 'constant' | 'reflect' | 'replicate'; fill?: number }
  | { type: 'randomHorizontalFlip'; p?: number }
  | { type: 'mixup'; alpha?: number };

/** A term's weight: a constant, or 'bss', BSS's schedule r(e) of the clean KD term (terms.bssKdWeight). */
export type TermWeight = number | 'bss';

/** The options every term takes: `name` defaults to the type and must be unique, `weight` to 1. */
interface TermBase {
  name?: string;
  weight?: TermWeight;
  /** The epoch that a 'bss' weight (and dkd's warm-up) reads: 'fractional' (default) or 'oneBased' (mdistiller's, BSS's). */
  epochConvention?: EpochConvention;
}

/** Over [student layer, teacher layer] module paths; `reduction` sums (default) or averages the pairs. */
interface PairTermBase extends TermBase {
  pairs: [string, string][];
  reduction?: PairReduction;
}

/** Loss terms (distill.terms) with their options as the functions name them. */
export type TermConfig =
  | ({ type: 'ce'; labelSmoothing?: number } & TermBase)
  | ({
    type: 'kd'; temperature?: number; mode?: 'avgLogits' | 'avgProbs' | 'sumKl'; teacherWeights?: number[];
    reduction?: Exclude<KdReduction, 'none'>; squareTemperature?: boolean; divergence?: KdDivergence;
  } & TermBase)
  | ({ type: 'dkd'; alpha?: number; beta?: number; temperature?: number; warmup?: number } & TermBase)
  | ({ type: 'hidden' } & PairTermBase)
  | ({ type: 'spectral'; layout?: FeatureLayout; prefixTokens?: number; grid?: [number, number] } & PairTermBase)
  | ({ type: 'attention'; mode?: 'mse' | 'kl' | 'crossEntropy' | 'tinybert'; scoreThreshold?: number } & PairTermBase);

/** SpectralKD layer selection on the first teacher; adds a spectral term over the selected pairs. */
export interface SpectralSelectionConfig {
  teacherLayers: string[];
  studentLayers: string[];
  layout?: FeatureLayout;
  select?: SelectOptions;
  weight?: number;
  /** Name of the added term (default 'spectral'). */
  name?: string;
  /** Training samples profiled (default 256). */
  samples?: number;
}

/** An optimizer by name with its torch.optim options (camelCase); default { name: 'adamw', lr: 1e-3 }. */
export type OptimizerConfig =
  | { name: 'sgd'; lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean }
  | { name: 'adam' | 'adamw'; lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; maximize?: boolean }
  | { name: 'rmsprop'; lr?: number; alpha?: number; eps?: number; weightDecay?: number; momentum?: number; centered?: boolean; maximize?: boolean }
  | { name: 'adagrad'; lr?: number; lrDecay?: number; weightDecay?: number; initialAccumulatorValue?: number; eps?: number; maximize?: boolean };

/**
 * An LR schedule over optimizer steps. cosine: CosineAnnealingLR with tMax = the remaining steps; step /
 * multistep / exponential: StepLR, MultiStepLR, ExponentialLR (in steps); linear: LinearLR (totalIters
 * default: the run's steps); onecycle: OneCycleLR over the run (maxLr default: the optimizer's lr).
 * warmupSteps prepends a LinearLR warm-up from lr/100 (SequentialLR); the main schedule's steps (stepSize,
 * milestones, totalIters) then count from the end of the warm-up.
 */
export type SchedulerConfig =
  | { name: 'cosine'; etaMin?: number; warmupSteps?: number }
  | { name: 'step'; stepSize: number; gamma?: number; warmupSteps?: number }
  | { name: 'multistep'; milestones: number[]; gamma?: number; warmupSteps?: number }
  | { name: 'exponential'; gamma: number; warmupSteps?: number }
  | { name: 'linear'; startFactor?: number; endFactor?: number; totalIters?: number; warmupSteps?: number }
  | {
    name: 'onecycle'; maxLr?: number; pctStart?: number; annealStrategy?: 'cos' | 'linear'; divFactor?: number;
    finalDivFactor?: number; threePhase?: boolean; cycleMomentum?: boolean; baseMomentum?: number; maxMomentum?: number;
  };

/** A whole run: what `torchkd distill --config run.json` reads. */
export interface RunConfig {
  /** Run name in progress output and logs (default 'student'). */
  name?: string;
  data: DataConfig;
  student: { arch: ArchConfig | string; weights?: string };
  teachers?: TeacherConfig[];
  terms: TermConfig[];
  spectralSelection?: SpectralSelectionConfig;
  /** Batch augmentations of the student's training, applied in order to the batch both models see. */
  augment?: AugmentConfig[];
  bss?: BssOptions;
  intra?: IntraOptions;
  optimizer?: OptimizerConfig;
  scheduler?: SchedulerConfig;
  /** Epochs (default 1) or optimizer steps. */
  epochs?: number;
  maxSteps?: number;
  clipGradNorm?: number;
  amp?: boolean | { dtype: 'bfloat16' | 'float16' };
  evalEvery?: number;
  logEvery?: number;
  /** Checkpoints, metrics.jsonl, metrics.json, model.safetensors (relative to the config file). */
  outDir?: string;
  resume?: boolean;
  /** Reload the best evaluation's weights before the final test (default true). */
  restoreBest?: boolean;
  monitor?: { metric: string; mode: 'max' | 'min' };
  earlyStopping?: { patience: number; minDelta?: number };
  nanGuard?: false | { maxConsecutive?: number };
  /** torch.manualSeed before the models are built and at the start of each training (default 0). */
  seed?: number;
  device?: string;
  progress?: ProgressMode;
  /**
   * Data-parallel over torch.distributed (the ranks of `torchkd run`, joined through env:// when no group
   * exists): every training of the run (trained teachers, the student) shards its data over the ranks, with
   * DistributedDataParallel's options; only rank 0 writes outDir's files. data.batchSize is per rank.
   */
  distributed?: boolean | { findUnusedParameters?: boolean; bucketCapMb?: number; broadcastBuffers?: boolean };
}

// -------------------------------------------------------------------------------------- validation

const TOP_KEYS = ['name', 'data', 'student', 'teachers', 'terms', 'spectralSelection', 'augment', 'bss', 'intra', 'optimizer', 'scheduler', 'epochs',
  'maxSteps', 'clipGradNorm', 'amp', 'evalEvery', 'logEvery', 'outDir', 'resume', 'restoreBest', 'monitor', 'earlyStopping', 'nanGuard',
  'seed', 'device', 'progress', 'distributed'];

const OPTIMIZER_KEYS: Record<string, string[]> = {
  sgd: ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize'],
  adam: ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'],
  adamw: ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'],
  rmsprop: ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize'],
  adagrad: ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps', 'maximize'],
};

const SCHEDULER_KEYS: Record<string, string[]> = {
  cosine: ['etaMin', 'warmupSteps'],
  step: ['stepSize', 'gamma', 'warmupSteps'],
  multistep: ['milestones', 'gamma', 'warmupSteps'],
  exponential: ['gamma', 'warmupSteps'],
  linear: ['startFactor', 'endFactor', 'totalIters', 'warmupSteps'],
  onecycle: ['maxLr', 'pctStart', 'annealStrategy', 'divFactor', 'finalDivFactor', 'threePhase', 'cycleMomentum', 'baseMomentum', 'maxMomentum'],
};

const TERM_KEYS: Record<string, string[]> = {
  ce: ['labelSmoothing'],
  kd: ['temperature', 'mode', 'teacherWeights', 'reduction', 'squareTemperature', 'divergence'],
  dkd: ['alpha', 'beta', 'temperature', 'warmup'],
  hidden: ['pairs', 'reduction'],
  spectral: ['pairs', 'reduction', 'layout', 'prefixTokens', 'grid'],
  attention: ['pairs', 'reduction', 'mode', 'scoreThreshold'],
};

const EPOCH_CONVENTIONS = ['fractional', 'oneBased'] as const;
const DIVERGENCES = ['kl', 'crossEntropy'] as const;
const pos = { gt: 0 };
const posInt = { integer: true, min: 1 };
const nonNeg = { min: 0 };
const nonNegInt = { integer: true, min: 0 };

function checkFile(v: Validator, value: unknown, path: string, baseDir: string): string | undefined {
  const p = v.string(value, path);
  if (p === undefined) return undefined;
  const abs = resolve(baseDir, p);
  if (!existsSync(abs)) return v.fail(path, `names a file that does not exist: ${abs}`);
  if (!statSync(abs).isFile()) return v.fail(path, `is not a file: ${abs}`);
  return p;
}

function checkSplit(v: Validator, value: unknown, path: string, source: string, baseDir: string): void {
  const o = v.object(value, path, source === 'idx' ? ['x', 'y'] : ['x', 'y', 'xKey', 'yKey']);
  if (!o) return;
  if (v.required(o, 'x', path, source === 'idx' ? 'the IDX file of the inputs' : 'the safetensors file of the inputs')) checkFile(v, o.x, `${path}.x`, baseDir);
  if (source === 'idx') {
    if (v.required(o, 'y', path, 'the IDX file of the labels')) checkFile(v, o.y, `${path}.y`, baseDir);
  } else {
    v.optional(o, 'y', path, (x, p) => checkFile(v, x, p, baseDir));
    v.optional(o, 'xKey', path, (x, p) => v.string(x, p));
    v.optional(o, 'yKey', path, (x, p) => v.string(x, p));
  }
}

function checkData(v: Validator, value: unknown, baseDir: string): void {
  const path = 'config.data';
  const o = v.object(value, path, ['source', 'root', 'train', 'test', 'labelled', 'transfer', 'valid', 'testSamples', 'batchSize', 'evalBatchSize', 'seed']);
  if (!o) return;
  const source = v.required(o, 'source', path, "'fashion-mnist', 'idx' or 'safetensors'") ? v.oneOf(o.source, `${path}.source`, ['fashion-mnist', 'idx', 'safetensors'] as const) : undefined;
  if (source === 'fashion-mnist') {
    for (const k of ['train', 'test']) if (o[k] !== undefined) v.fail(`${path}.${k}`, "is for the 'idx' and 'safetensors' sources ('fashion-mnist' reads its own files; see root)");
    v.optional(o, 'root', path, (x, p) => v.string(x, p));
  } else if (source !== undefined) {
    if (o.root !== undefined) v.fail(`${path}.root`, "is for the 'fashion-mnist' source");
    for (const k of ['train', 'test']) {
      if (v.required(o, k, path, `the ${k} split's files, {"x": ..., "y": ...}`)) checkSplit(v, o[k], `${path}.${k}`, source, baseDir);
    }
  }
  for (const k of ['labelled', 'testSamples', 'batchSize', 'evalBatchSize']) v.optional(o, k, path, (x, p) => v.number(x, p, posInt));
  for (const k of ['transfer', 'valid', 'seed']) v.optional(o, k, path, (x, p) => v.number(x, p, nonNegInt));
}

function checkModel(v: Validator, value: unknown, path: string, baseDir: string, teacher: boolean): void {
  const keys = teacher ? ['arch', 'weights', 'torchscript', 'train'] : ['arch', 'weights'];
  const o = v.object(value, path, keys);
  if (!o) return;
  if (o.torchscript !== undefined) {
    checkFile(v, o.torchscript, `${path}.torchscript`, baseDir);
    for (const k of ['arch', 'weights', 'train']) {
      if (o[k] !== undefined) v.fail(`${path}.${k}`, `cannot be combined with torchscript${k === 'train' ? ' (a TorchScript teacher is used as it is)' : ''}`);
    }
    return;
  }
  if (!v.required(o, 'arch', path, teacher ? 'a built-in architecture or an arch.json path; or give torchscript' : 'a built-in architecture, or the path of an arch.json')) return;
  if (typeof o.arch === 'string') checkFile(v, o.arch, `${path}.arch`, baseDir);
  else checkArch(v, o.arch, `${path}.arch`);
  v.optional(o, 'weights', path, (x, p) => checkFile(v, x, p, baseDir));
  if (teacher && o.train !== undefined) {
    const t = v.object(o.train, `${path}.train`, ['epochs', 'maxSteps', 'labelled', 'optimizer', 'scheduler', 'clipGradNorm', 'evalEvery', 'augment']);
    if (t) {
      v.optional(t, 'augment', `${path}.train`, (x, p) => checkAugment(v, x, p));
      for (const k of ['epochs', 'maxSteps', 'labelled', 'evalEvery']) v.optional(t, k, `${path}.train`, (x, p) => v.number(x, p, posInt));
      v.optional(t, 'clipGradNorm', `${path}.train`, (x, p) => v.number(x, p, pos));
      v.optional(t, 'optimizer', `${path}.train`, (x, p) => checkOptimizer(v, x, p));
      v.optional(t, 'scheduler', `${path}.train`, (x, p) => checkScheduler(v, x, p));
    }
  } else if (teacher && o.weights === undefined) {
    v.fail(path, 'needs trained weights: give weights (a safetensors file) or train ({"epochs": N}) — an untrained teacher teaches nothing');
  }
}

const AUGMENT_KEYS: Record<string, string[]> = {
  randomCrop: ['size', 'padding', 'paddingMode', 'fill'],
  randomHorizontalFlip: ['p'],
  mixup: ['alpha'],
};

function checkAugment(v: Validator, value: unknown, path: string): true | undefined {
  const list = v.array(value, path);
  list?.forEach((a, i) => {
    const p = `${path}[${i}]`;
    const type = a !== null && typeof a === 'object' ? (a as { type?: unknown }).type : undefined;
    const t = v.oneOf(type, `${p}.type`, Object.keys(AUGMENT_KEYS));
    if (t === undefined) return;
    const o = v.object(a, p, ['type', ...AUGMENT_KEYS[t]]);
    if (!o) return;
    if (t === 'randomCrop' && v.required(o, 'size', p, 'the crop height and width: N or [H, W]')) {
      if (Array.isArray(o.size)) {
        if (o.size.length !== 2) v.fail(`${p}.size`, `must be N or [H, W], got ${show(o.size)}`);
        else o.size.forEach((n, j) => v.number(n, `${p}.size[${j}]`, posInt));
      } else {
        v.number(o.size, `${p}.size`, posInt);
      }
    }
    v.optional(o, 'padding', p, (x, q) => v.number(x, q, nonNegInt));
    v.optional(o, 'paddingMode', p, (x, q) => v.oneOf(x, q, ['constant', 'reflect', 'replicate'] as const));
    v.optional(o, 'fill', p, (x, q) => v.number(x, q));
    v.optional(o, 'p', p, (x, q) => v.number(x, q, { min: 0, max: 1 }));
    v.optional(o, 'alpha', p, (x, q) => v.number(x, q, pos));
  });
  return list ? true : undefined;
}

function checkOptimizer(v: Validator, value: unknown, path: string): true | undefined {
  const name = value !== null && typeof value === 'object' ? (value as { name?: unknown }).name : undefined;
  const n = v.oneOf(name, `${path}.name`, Object.keys(OPTIMIZER_KEYS));
  if (n === undefined) return undefined;
  const o = v.object(value, path, ['name', ...OPTIMIZER_KEYS[n]]);
  if (!o) return undefined;
  if (n === 'sgd') v.required(o, 'lr', path, 'SGD has no default learning rate');
  v.optional(o, 'lr', path, (x, p) => v.number(x, p, pos));
  for (const k of ['momentum', 'dampening', 'weightDecay', 'eps', 'lrDecay', 'initialAccumulatorValue', 'alpha']) v.optional(o, k, path, (x, p) => v.number(x, p, nonNeg));
  for (const k of ['nesterov', 'maximize', 'amsgrad', 'centered']) v.optional(o, k, path, (x, p) => v.boolean(x, p));
  v.optional(o, 'betas', path, (x, p) => {
    const a = v.array(x, p);
    if (a && a.length !== 2) return v.fail(p, `must be [beta1, beta2], got ${show(x)}`);
    a?.forEach((b, i) => v.number(b, `${p}[${i}]`, { min: 0, max: 0.999999 }));
    return a;
  });
  return true;
}

function checkScheduler(v: Validator, value: unknown, path: string): true | undefined {
  const name = value !== null && typeof value === 'object' ? (value as { name?: unknown }).name : undefined;
  const n = v.oneOf(name, `${path}.name`, Object.keys(SCHEDULER_KEYS));
  if (n === undefined) return undefined;
  const o = v.object(value, path, ['name', ...SCHEDULER_KEYS[n]]);
  if (!o) return undefined;
  if (n === 'step') v.required(o, 'stepSize', path, 'steps between two decays');
  if (n === 'multistep') v.required(o, 'milestones', path, 'the steps at which lr decays');
  if (n === 'exponential') v.required(o, 'gamma', path, 'the decay factor per step');
  for (const k of ['stepSize', 'totalIters']) v.optional(o, k, path, (x, p) => v.number(x, p, posInt));
  v.optional(o, 'warmupSteps', path, (x, p) => v.number(x, p, nonNegInt));
  for (const k of ['gamma', 'maxLr', 'divFactor', 'finalDivFactor']) v.optional(o, k, path, (x, p) => v.number(x, p, pos));
  for (const k of ['etaMin', 'baseMomentum', 'maxMomentum']) v.optional(o, k, path, (x, p) => v.number(x, p, nonNeg));
  for (const k of ['startFactor', 'endFactor', 'pctStart']) v.optional(o, k, path, (x, p) => v.number(x, p, { min: 0, max: 1 }));
  for (const k of ['threePhase', 'cycleMomentum']) v.optional(o, k, path, (x, p) => v.boolean(x, p));
  v.optional(o, 'annealStrategy', path, (x, p) => v.oneOf(x, p, ['cos', 'linear'] as const));
  v.optional(o, 'milestones', path, (x, p) => {
    const a = v.array(x, p, 1);
    a?.forEach((m, i) => v.number(m, `${p}[${i}]`, posInt));
    return a;
  });
  return true;
}

function checkTerm(v: Validator, value: unknown, path: string, teachers: number): string | undefined {
  const type = value !== null && typeof value === 'object' ? (value as { type?: unknown }).type : undefined;
  const t = v.oneOf(type, `${path}.type`, Object.keys(TERM_KEYS));
  if (t === undefined) return undefined;
  const o = v.object(value, path, ['type', 'name', 'weight', 'epochConvention', ...TERM_KEYS[t]]);
  if (!o) return undefined;
  v.optional(o, 'name', path, (x, p) => v.string(x, p));
  if (o.name === 'loss') v.fail(`${path}.name`, "must not be 'loss' (the total)");
  v.optional(o, 'weight', path, (x, p) => (x === 'bss' ? x : typeof x === 'string' ? v.fail(p, `must be a non-negative number or 'bss' (BSS's schedule), got ${show(x)}`) : v.number(x, p, nonNeg)));
  if (t !== 'ce' && teachers === 0) v.fail(path, `('${t}') needs a teacher, and config.teachers is empty`);
  if (t === 'dkd' || t === 'hidden' || t === 'spectral' || t === 'attention') {
    if (teachers > 1) v.fail(path, `('${t}') uses only the first teacher; with ${teachers} teachers use kd (which combines them)`);
  }
  v.optional(o, 'epochConvention', path, (x, p) => v.oneOf(x, p, EPOCH_CONVENTIONS));
  if (o.epochConvention !== undefined && o.weight !== 'bss' && t !== 'dkd') v.fail(`${path}.epochConvention`, "applies to a 'bss' weight or a dkd term only");
  v.optional(o, 'temperature', path, (x, p) => v.number(x, p, pos));
  v.optional(o, 'labelSmoothing', path, (x, p) => v.number(x, p, { min: 0, max: 1 }));
  for (const k of ['alpha', 'beta', 'warmup']) v.optional(o, k, path, (x, p) => v.number(x, p, nonNeg));
  if (t === 'kd') {
    v.optional(o, 'mode', path, (x, p) => v.oneOf(x, p, ['avgLogits', 'avgProbs', 'sumKl'] as const));
    v.optional(o, 'teacherWeights', path, (x, p) => {
      const a = v.array(x, p);
      if (a && a.length !== teachers) return v.fail(p, `must have one weight per teacher (${teachers}), got ${a.length}`);
      a?.forEach((w, i) => v.number(w, `${p}[${i}]`, nonNeg));
      return a;
    });
    v.optional(o, 'reduction', path, (x, p) => v.oneOf(x, p, ['batchmean', 'mean', 'sum'] as const));
    v.optional(o, 'squareTemperature', path, (x, p) => v.boolean(x, p));
    v.optional(o, 'divergence', path, (x, p) => v.oneOf(x, p, DIVERGENCES));
    if (o.divergence === 'crossEntropy' && teachers > 1) v.fail(`${path}.divergence`, `'crossEntropy' takes a single teacher, and there are ${teachers}`);
  }
  if (t === 'hidden' || t === 'spectral' || t === 'attention') {
    if (v.required(o, 'pairs', path, '[[student layer, teacher layer], ...] module paths')) v.pairs(o.pairs, `${path}.pairs`);
    v.optional(o, 'reduction', path, (x, p) => v.oneOf(x, p, ['sum', 'mean'] as const));
  }
  if (t === 'spectral') {
    v.optional(o, 'layout', path, (x, p) => v.oneOf(x, p, ['BCHW', 'NLH', 'vit'] as const));
    for (const k of ['prefixTokens', 'grid']) {
      if (o[k] !== undefined && o.layout !== 'vit') v.fail(`${path}.${k}`, "applies to layout 'vit' only");
    }
    v.optional(o, 'prefixTokens', path, (x, p) => v.number(x, p, { integer: true, min: 0 }));
    v.optional(o, 'grid', path, (x, p) => {
      const a = v.array(x, p);
      if (a && a.length !== 2) return v.fail(p, `must be the patch grid [H, W], got ${a.length} numbers`);
      a?.forEach((n, i) => v.number(n, `${p}[${i}]`, posInt));
      return a;
    });
  }
  if (t === 'attention') {
    v.optional(o, 'mode', path, (x, p) => v.oneOf(x, p, ['mse', 'kl', 'crossEntropy', 'tinybert'] as const));
    if (o.scoreThreshold !== undefined && o.mode !== 'tinybert') v.fail(`${path}.scoreThreshold`, "applies to mode 'tinybert' only");
    v.optional(o, 'scoreThreshold', path, (x, p) => v.number(x, p));
  }
  return (o.name as string | undefined) ?? t;
}

/**
 * Checks a parsed JSON value against the RunConfig schema and returns it typed; throws a ConfigError
 * listing every problem by JSON path (unknown keys included). Files are checked to exist, relative to
 * `baseDir` (default: the working directory).
 */
export function validateConfig(json: unknown, options: { baseDir?: string } = {}): RunConfig {
  const baseDir = options.baseDir ?? process.cwd();
  const v = new Validator();
  const c = v.object(json, 'config', TOP_KEYS);
  if (!c) {
    v.throwIfAny();
    return json as RunConfig;
  }
  if (v.required(c, 'data', 'config', 'where the samples come from')) checkData(v, c.data, baseDir);
  if (v.required(c, 'student', 'config', 'the model to train')) checkModel(v, c.student, 'config.student', baseDir, false);
  let teachers = 0;
  if (c.teachers !== undefined) {
    const list = v.array(c.teachers, 'config.teachers');
    list?.forEach((t, i) => checkModel(v, t, `config.teachers[${i}]`, baseDir, true));
    teachers = list?.length ?? 0;
  }
  const names = new Map<string, string>();
  const addName = (name: string | undefined, path: string) => {
    if (name === undefined) return;
    const prev = names.get(name);
    if (prev) v.fail(path, `produces the loss '${name}' as ${prev} does; give one of them another "name"`);
    else names.set(name, path);
  };
  if (v.required(c, 'terms', 'config', 'the loss terms, e.g. [{"type": "ce"}, {"type": "kd"}]')) {
    const list = v.array(c.terms, 'config.terms', 1);
    list?.forEach((t, i) => addName(checkTerm(v, t, `config.terms[${i}]`, teachers), `config.terms[${i}]`));
  }
  if (c.spectralSelection !== undefined) {
    const p = 'config.spectralSelection';
    const s = v.object(c.spectralSelection, p, ['teacherLayers', 'studentLayers', 'layout', 'select', 'weight', 'name', 'samples']);
    if (s) {
      if (teachers === 0) v.fail(p, 'needs a teacher, and config.teachers is empty');
      for (const k of ['teacherLayers', 'studentLayers']) if (v.required(s, k, p, 'module paths in depth order')) v.strings(s[k], `${p}.${k}`);
      v.optional(s, 'layout', p, (x, q) => v.oneOf(x, q, ['BCHW', 'NLH'] as const));
      v.optional(s, 'weight', p, (x, q) => v.number(x, q, nonNeg));
      v.optional(s, 'samples', p, (x, q) => v.number(x, q, posInt));
      v.optional(s, 'name', p, (x, q) => v.string(x, q));
      v.optional(s, 'select', p, (x, q) => {
        const sel = v.object(x, q, ['strategy', 'k']);
        if (sel) {
          v.optional(sel, 'strategy', q, (y, r) => v.oneOf(y, r, ['top', 'edges', 'threshold'] as const));
          v.optional(sel, 'k', q, (y, r) => v.number(y, r, pos));
        }
        return sel;
      });
      addName((s.name as string | undefined) ?? 'spectral', p);
    }
  }
  if (c.bss !== undefined) {
    const b = v.object(c.bss, 'config.bss', ['maxBase', 'stepSize', 'maxSteps', 'temperature', 'clampMin', 'clampMax', 'divergence', 'epochConvention']);
    if (b) {
      if (teachers === 0) v.fail('config.bss', 'needs a teacher (the attack differentiates through it)');
      for (const k of ['maxBase', 'maxSteps']) v.optional(b, k, 'config.bss', (x, p) => v.number(x, p, posInt));
      for (const k of ['stepSize', 'temperature']) v.optional(b, k, 'config.bss', (x, p) => v.number(x, p, pos));
      for (const k of ['clampMin', 'clampMax']) v.optional(b, k, 'config.bss', (x, p) => v.number(x, p));
      v.optional(b, 'divergence', 'config.bss', (x, p) => v.oneOf(x, p, DIVERGENCES));
      v.optional(b, 'epochConvention', 'config.bss', (x, p) => v.oneOf(x, p, EPOCH_CONVENTIONS));
    }
  }
  if (c.intra !== undefined) {
    const o = v.object(c.intra, 'config.intra', ['passes', 'alpha', 'p', 'q', 'adaptive', 'reduction', 'ignoreIndex']);
    if (o) {
      v.optional(o, 'passes', 'config.intra', (x, p) => v.number(x, p, { integer: true, min: 2 }));
      for (const k of ['alpha', 'p', 'q']) v.optional(o, k, 'config.intra', (x, p) => v.number(x, p, nonNeg));
      v.optional(o, 'adaptive', 'config.intra', (x, p) => v.boolean(x, p));
      v.optional(o, 'reduction', 'config.intra', (x, p) => v.oneOf(x, p, ['mean', 'sum'] as const));
      v.optional(o, 'ignoreIndex', 'config.intra', (x, p) => v.number(x, p, { integer: true }));
    }
  }
  v.optional(c, 'augment', 'config', (x, p) => checkAugment(v, x, p));
  v.optional(c, 'optimizer', 'config', (x, p) => checkOptimizer(v, x, p));
  v.optional(c, 'scheduler', 'config', (x, p) => checkScheduler(v, x, p));
  for (const k of ['epochs', 'maxSteps', 'evalEvery', 'logEvery']) v.optional(c, k, 'config', (x, p) => v.number(x, p, posInt));
  if (c.epochs !== undefined && c.maxSteps !== undefined) v.fail('config.maxSteps', 'cannot be combined with config.epochs (give one run length)');
  v.optional(c, 'clipGradNorm', 'config', (x, p) => v.number(x, p, pos));
  v.optional(c, 'seed', 'config', (x, p) => v.number(x, p, nonNegInt));
  v.optional(c, 'name', 'config', (x, p) => v.string(x, p));
  v.optional(c, 'outDir', 'config', (x, p) => v.string(x, p));
  for (const k of ['resume', 'restoreBest']) v.optional(c, k, 'config', (x, p) => v.boolean(x, p));
  if (c.resume === true && c.outDir === undefined) v.fail('config.resume', 'needs config.outDir (where the last checkpoint is)');
  v.optional(c, 'progress', 'config', (x, p) => v.oneOf(x, p, ['auto', 'bar', 'lines', 'none'] as const));
  v.optional(c, 'device', 'config', (x, p) => (typeof x === 'string' && /^(cpu|cuda(:\d+)?)$/.test(x) ? x : v.fail(p, `must be 'cpu', 'cuda' or 'cuda:N', got ${show(x)}`)));
  v.optional(c, 'amp', 'config', (x, p) => {
    if (typeof x === 'boolean') return x;
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return v.fail(p, `must be true, false or {"dtype": "bfloat16" | "float16"}, got ${show(x)}`);
    const a = v.object(x, p, ['dtype']);
    if (a && v.required(a, 'dtype', p, "'bfloat16' or 'float16'")) v.oneOf(a.dtype, `${p}.dtype`, ['bfloat16', 'float16'] as const);
    return a;
  });
  v.optional(c, 'distributed', 'config', (x, p) => {
    if (typeof x === 'boolean') return x;
    const d = v.object(x, p, ['findUnusedParameters', 'bucketCapMb', 'broadcastBuffers']);
    if (d) {
      for (const k of ['findUnusedParameters', 'broadcastBuffers']) v.optional(d, k, p, (y, q) => v.boolean(y, q));
      v.optional(d, 'bucketCapMb', p, (y, q) => v.number(y, q, pos));
    }
    return d;
  });
  v.optional(c, 'monitor', 'config', (x, p) => {
    const m = v.object(x, p, ['metric', 'mode']);
    if (m) {
      if (v.required(m, 'metric', p, "e.g. 'accuracy' or 'loss'")) v.string(m.metric, `${p}.metric`);
      if (v.required(m, 'mode', p, "'max' or 'min'")) v.oneOf(m.mode, `${p}.mode`, ['max', 'min'] as const);
    }
    return m;
  });
  v.optional(c, 'earlyStopping', 'config', (x, p) => {
    const e = v.object(x, p, ['patience', 'minDelta']);
    if (e) {
      if (v.required(e, 'patience', p, 'evaluations without improvement before stopping')) v.number(e.patience, `${p}.patience`, posInt);
      v.optional(e, 'minDelta', p, (y, q) => v.number(y, q, nonNeg));
    }
    return e;
  });
  v.optional(c, 'nanGuard', 'config', (x, p) => {
    if (x === false) return x;
    const g = v.object(x, p, ['maxConsecutive']);
    if (g) v.optional(g, 'maxConsecutive', p, (y, q) => v.number(y, q, posInt));
    return g;
  });
  v.throwIfAny();
  return json as RunConfig;
}

/** Reads a JSON configuration file and validates it (relative paths are relative to the file). */
export function readConfig(path: string): RunConfig {
  checkPath('readConfig', path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TorchError(`cannot read the configuration ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TorchError(`${path}: invalid JSON (${(e as Error).message})`);
  }
  try {
    return validateConfig(json, { baseDir: dirname(resolve(path)) });
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.errors, `${path}: invalid configuration`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------- building

interface Split {
  x: Tensor;
  y: Tensor;
}

/** uint8 inputs → float32 in [0, 1] (with a channel axis for [N, H, W]); integer labels → int64. */
function prepare(x: Tensor, y: Tensor, what: string): Split {
  return torch.tidy(() => {
    if (y.ndim !== 1 || isFloatingPoint(y.dtype) || y.dtype === 'bool' || y.dtype.startsWith('complex')) {
      throw new TorchError(`${what}: labels must be a 1-D integer tensor, got ${y.dtype} [${y.shape.join(', ')}]`);
    }
    if (x.ndim < 2 || x.shape[0] !== y.shape[0]) {
      throw new TorchError(`${what}: inputs [${x.shape.join(', ')}] and labels [${y.shape.join(', ')}] do not have the same number of samples`);
    }
    let xs = x;
    if (x.dtype === 'uint8') {
      xs = x.to('float32').div(255);
      if (xs.ndim === 3) xs = xs.unsqueeze(1);
    }
    const ys = y.to('int64');
    if (ys.shape[0] > 0 && ys.min().item() < 0) throw new TorchError(`${what}: labels must be non-negative class indices`);
    return { x: xs, y: ys };
  });
}

/** prepare() of tensors read for it: those it does not return (as they are) are freed. */
function prepareLoaded(loaded: Tensor[], x: () => Tensor, y: () => Tensor, what: string): Split {
  let out: Split | null = null;
  try {
    out = prepare(x(), y(), what);
    return out;
  } finally {
    for (const t of loaded) if (t !== out?.x && t !== out?.y) t.dispose();
  }
}

function loadSplit(d: DataConfig, split: 'train' | 'test', baseDir: string): Split {
  if (d.source === 'fashion-mnist') {
    const { images, labels } = fashionMnist({ split, root: d.root === undefined ? FASHION_MNIST_ROOT : resolve(baseDir, d.root) });
    return prepareLoaded([images, labels], () => images, () => labels, `Fashion-MNIST ${split}`);
  }
  const files = d[split] as SplitFiles;
  const xPath = resolve(baseDir, files.x);
  if (d.source === 'idx') {
    const x = readIdx(xPath);
    let y: Tensor;
    try {
      y = readIdx(resolve(baseDir, files.y as string));
    } catch (e) {
      x.dispose();
      throw e;
    }
    return prepareLoaded([x, y], () => x, () => y, `config.data.${split} (${files.x}, ${files.y})`);
  }
  const xKey = files.xKey ?? 'x';
  const yKey = files.yKey ?? 'y';
  const xs = loadSafetensors(xPath).tensors;
  let ys = xs;
  if (files.y !== undefined) {
    try {
      ys = loadSafetensors(resolve(baseDir, files.y)).tensors;
    } catch (e) {
      torch.dispose(xs);
      throw e;
    }
  }
  const loaded = [...Object.values(xs), ...(ys === xs ? [] : Object.values(ys))];
  return prepareLoaded(loaded, () => {
    const x = xs[xKey];
    if (!x) throw new TorchError(`config.data.${split}.x: ${files.x} has no tensor '${xKey}' (it has ${Object.keys(xs).join(', ') || 'none'})`);
    return x;
  }, () => {
    const y = ys[yKey];
    if (!y) throw new TorchError(`config.data.${split}: ${files.y ?? files.x} has no tensor '${yKey}' (it has ${Object.keys(ys).join(', ') || 'none'})`);
    return y;
  }, `config.data.${split}`);
}

function indexRows(t: Tensor, rows: number[]): Tensor {
  return torch.tidy(() => t.indexSelect(0, torch.tensor(Int32Array.from(rows), { dtype: 'int64' })));
}

/** Wraps a TorchScript model as an nn.Module returning its logits (for evaluation and layer profiles). */
class ScriptClassifier extends nn.Module {
  constructor(readonly script: ScriptModule) {
    super();
  }
  forward(x: Tensor): Tensor {
    const out = this.script.forward(x);
    if (isTensor(out)) return out;
    const logits = Array.isArray(out) ? out[0] : out !== null && typeof out === 'object' ? (out as Record<string, unknown>).logits : undefined;
    if (!isTensor(logits)) throw new TorchError("a TorchScript classifier must return a tensor, a tuple starting with the logits, or a dict with 'logits'");
    return logits;
  }
  override train(mode = true): this {
    this.script.train(mode);
    return super.train(mode);
  }
}

function makeAugment(list: AugmentConfig[] | undefined): BatchAugmentation | undefined {
  if (!list || list.length === 0) return undefined;
  const augs = list.map((a): Augmentation => {
    switch (a.type) {
      case 'randomCrop': return randomCrop({ size: a.size, padding: a.padding, paddingMode: a.paddingMode, fill: a.fill });
      case 'randomHorizontalFlip': return randomHorizontalFlip({ p: a.p });
      case 'mixup': return mixup({ alpha: a.alpha });
    }
  });
  return augs.length === 1 ? augs[0] : compose(augs);
}

function makeOptimizer(cfg: OptimizerConfig | undefined): (params: Tensor[]) => Optimizer {
  const { name, ...options } = cfg ?? { name: 'adamw' as const, lr: 1e-3 };
  return (params) => {
    switch (name) {
      case 'sgd': return new optim.SGD(params, options as optim.SGDOptions);
      case 'adam': return new optim.Adam(params, options as optim.AdamOptions);
      case 'adamw': return new optim.AdamW(params, options as optim.AdamOptions);
      case 'rmsprop': return new optim.RMSprop(params, options as optim.RMSpropOptions);
      case 'adagrad': return new optim.Adagrad(params, options as optim.AdagradOptions);
    }
  };
}

function makeScheduler(cfg: SchedulerConfig | undefined): ((o: Optimizer, totalSteps: number) => LRScheduler) | undefined {
  if (!cfg) return undefined;
  const S = optim.lrScheduler;
  return (opt, totalSteps) => {
    if (cfg.name === 'onecycle') {
      const { name: _, maxLr, ...o } = cfg;
      return new S.OneCycleLR(opt, maxLr ?? opt.paramGroups[0].lr, { ...o, totalSteps });
    }
    const warmup = Math.min(cfg.warmupSteps ?? 0, Math.max(totalSteps - 1, 0));
    const rest = totalSteps - warmup;
    let main: LRScheduler;
    switch (cfg.name) {
      case 'cosine': main = new S.CosineAnnealingLR(opt, Math.max(rest, 1), { etaMin: cfg.etaMin ?? 0 }); break;
      case 'step': main = new S.StepLR(opt, cfg.stepSize, { gamma: cfg.gamma }); break;
      case 'multistep': main = new S.MultiStepLR(opt, cfg.milestones, { gamma: cfg.gamma }); break;
      case 'exponential': main = new S.ExponentialLR(opt, cfg.gamma); break;
      case 'linear': main = new S.LinearLR(opt, { startFactor: cfg.startFactor, endFactor: cfg.endFactor, totalIters: cfg.totalIters ?? rest }); break;
    }
    if (warmup === 0) return main;
    const warm = new S.LinearLR(opt, { startFactor: 0.01, endFactor: 1, totalIters: warmup });
    return new S.SequentialLR(opt, [warm, main], [warmup]);
  };
}

function makeTerm(t: TermConfig): LossTerm {
  const name = t.name ?? t.type;
  const { epochConvention } = t;
  const weight = t.weight === 'bss' ? terms.epochSchedule((e, epochs) => bssWeights(e, epochs).r, { epochConvention }) : t.weight;
  switch (t.type) {
    case 'ce': return terms.crossEntropy({ name, weight, labelSmoothing: t.labelSmoothing });
    case 'kd':
      return terms.kd({
        name, weight, temperature: t.temperature, mode: t.mode, teacherWeights: t.teacherWeights, reduction: t.reduction,
        squareTemperature: t.squareTemperature, divergence: t.divergence,
      });
    case 'dkd': return terms.dkd({ name, weight, alpha: t.alpha, beta: t.beta, temperature: t.temperature, warmup: t.warmup, epochConvention });
    case 'hidden': return terms.hidden({ name, weight, pairs: t.pairs, reduction: t.reduction });
    case 'spectral':
      return terms.spectral({ name, weight, pairs: t.pairs, reduction: t.reduction, layout: t.layout, prefixTokens: t.prefixTokens, grid: t.grid });
    case 'attention': return terms.attention({ name, weight, pairs: t.pairs, reduction: t.reduction, mode: t.mode, scoreThreshold: t.scoreThreshold });
  }
}

/** Module paths of a model, for "no such layer" messages. */
function modulePaths(model: nn.Module): string {
  const paths = model.namedModules().map(([p]) => p).filter((p) => p !== '');
  return paths.length > 12 ? `${paths.slice(0, 12).join(', ')}, ...` : paths.join(', ');
}

/** Each feature path of the terms and the spectral selection must name a module (TorchScript teachers: output keys). */
function checkLayers(config: RunConfig, student: nn.Module, teacher: Teacher | undefined): void {
  const v = new Validator();
  const check = (model: nn.Module, layer: string, path: string, who: string) => {
    try {
      model.getSubmodule(layer);
    } catch {
      v.fail(path, `names no module of the ${who}: '${layer}' (its modules: ${modulePaths(model)})`);
    }
  };
  config.terms.forEach((t, i) => {
    if (!('pairs' in t)) return;
    t.pairs.forEach(([s, te], j) => {
      check(student, s, `config.terms[${i}].pairs[${j}][0]`, 'student');
      if (teacher instanceof nn.Module) check(teacher, te, `config.terms[${i}].pairs[${j}][1]`, 'teacher');
    });
  });
  const sel = config.spectralSelection;
  if (sel) {
    sel.studentLayers.forEach((l, j) => check(student, l, `config.spectralSelection.studentLayers[${j}]`, 'student'));
    if (teacher instanceof nn.Module) sel.teacherLayers.forEach((l, j) => check(teacher, l, `config.spectralSelection.teacherLayers[${j}]`, 'teacher'));
  }
  v.throwIfAny();
}

// ------------------------------------------------------------------------------------------ running

export interface RunHooks {
  /** Every Trainer event; event.run is 'teacher-0', ... or the student run's name. */
  onEvent?: (event: TrainerEvent) => void;
  /** Aborting stops the current training after its step (a last checkpoint is written). */
  signal?: AbortSignal;
  /** Directory that relative paths of the configuration are relative to (default: the working directory). */
  baseDir?: string;
}

export interface ModelSummary {
  /** Test accuracy in [0, 1] and mean test cross entropy. */
  accuracy: number;
  loss: number;
  parameters: number;
  /** 'arch:mlp', 'torchscript:path', ... */
  source: string;
}

export interface RunResult {
  student: ModelSummary;
  teachers: ModelSummary[];
  /** The student's training, and each teacher's when it was trained here. */
  fit: FitResult;
  teacherFits: (FitResult | null)[];
  spectral: { teacherProfile: number[]; studentProfile: number[]; selected: number[]; pairs: [string, string][] } | null;
  /** This process's rank in a distributed run (0 otherwise); only rank 0 wrote outDir's files. */
  rank: number;
  data: { labelled: number; transfer: number; valid: number; test: number; classes: number; sampleShape: number[]; validation: 'valid' | 'test' };
  seconds: number;
  outDir: string | null;
}

function summarize(model: nn.Module, source: string, test: Loader, device: string): ModelSummary {
  const m = evaluate(model, test, { device });
  const parameters = model instanceof ScriptClassifier ? model.script.parameters().reduce((n, p) => {
    const k = p.numel();
    p.dispose();
    return n + k;
  }, 0) : model.numParameters();
  return { accuracy: m.accuracy, loss: m.loss, parameters, source };
}

function sourceName(m: ModelSource): string {
  if ('torchscript' in m) return `torchscript:${m.torchscript}`;
  const arch = typeof m.arch === 'string' ? m.arch : `arch:${m.arch.name}`;
  return m.weights ? `${arch} + ${m.weights}` : arch;
}

/**
 * Runs a configuration: loads and splits the data, builds or loads the teachers (training those with a
 * `train` block from labels), builds the student, optionally selects layers spectrally, and trains the
 * student with the Trainer. With outDir, writes there the checkpoints and metrics.jsonl (the Trainer's),
 * teacher-i/ for trained teachers (with their model.safetensors and arch.json), model.safetensors + arch.json (the student), config.json (the
 * configuration with the architectures' sizes filled in) and metrics.json (the returned summary).
 */
export async function runConfig(config: RunConfig, hooks: RunHooks = {}): Promise<RunResult> {
  const started = Date.now();
  const baseDir = hooks.baseDir ?? process.cwd();
  validateConfig(config, { baseDir });
  const device = config.device ?? 'cpu';
  if (device.startsWith('cuda') && !torch.cuda.isAvailable()) throw new TorchError(`config.device '${device}': CUDA is not available (run torchkd doctor)`);
  const seed = config.seed ?? 0;
  const progress = config.progress ?? 'auto';
  const outDir = config.outDir === undefined ? null : resolve(baseDir, config.outDir);
  // One group for every training of the run; joined here (and left at the end) when a launcher set up env://.
  const joined = config.distributed && !torch.distributed.isInitialized();
  if (joined) torch.distributed.initProcessGroup();
  const rank = config.distributed ? torch.distributed.getRank() : 0;
  const writer = rank === 0;
  const d = config.data;
  const owned: Tensor[] = [];
  const modules: nn.Module[] = [];
  const scripts: ScriptModule[] = [];
  const keep = <T extends Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  try {
    // Data.
    const train = loadSplit(d, 'train', baseDir);
    owned.push(train.x, train.y);
    const test0 = loadSplit(d, 'test', baseDir);
    owned.push(test0.x, test0.y);
    const n = train.x.shape[0];
    const validCount = d.valid ?? 0;
    const transfer = d.transfer ?? 0;
    const labelled = d.labelled ?? n - validCount - transfer;
    if (validCount + labelled + transfer > n || labelled < 1) {
      throw new TorchError(`config.data: valid (${validCount}) + labelled (${labelled}) + transfer (${transfer}) samples exceed the ${n} training samples`);
    }
    const testCount = Math.min(d.testSamples ?? test0.x.shape[0], test0.x.shape[0]);
    if (testCount === 0) throw new TorchError('config.data: the test split is empty');
    const order = new Generator(d.seed ?? 0).permutation(n);
    const validRows = order.slice(0, validCount);
    const labelledRows = order.slice(validCount, validCount + labelled);
    const transferRows = order.slice(validCount + labelled, validCount + labelled + transfer);
    const numClasses = torch.tidy(() => train.y.max().item()) + 1;
    const sampleShape = train.x.shape.slice(1);
    const trainX = keep(indexRows(train.x, [...labelledRows, ...transferRows]));
    const trainY = keep(torch.tidy(() => torch.cat([
      train.y.indexSelect(0, torch.tensor(Int32Array.from(labelledRows), { dtype: 'int64' })),
      torch.full([transfer], -1, { dtype: 'int64' }),
    ])));
    const testX = keep(test0.x.narrow(0, 0, testCount));
    const testY = keep(test0.y.narrow(0, 0, testCount));
    const batchSize = d.batchSize ?? 64;
    const evalBatch = d.evalBatchSize ?? 512;
    const trainLoader = new DataLoader(new TensorDataset(trainX, trainY), { batchSize, shuffle: true, seed: d.seed ?? 0 }) as Loader;
    const testLoader = new DataLoader(new TensorDataset(testX, testY), { batchSize: evalBatch }) as Loader;
    let evalLoader = testLoader;
    if (validCount > 0) {
      evalLoader = new DataLoader(new TensorDataset(keep(indexRows(train.x, validRows)), keep(indexRows(train.y, validRows))), { batchSize: evalBatch }) as Loader;
    }
    const shape = { sampleShape, numClasses };

    // Models.
    torch.manualSeed(seed);
    const loadArch = (a: ArchConfig | string) => (typeof a === 'string' ? readArch(resolve(baseDir, a)) : a);
    const teacherList = config.teachers ?? [];
    const teachers: Teacher[] = [];
    const teacherModules: nn.Module[] = [];
    const teacherFits: (FitResult | null)[] = [];
    const runFit = async (run: string, model: nn.Module, distiller: Distiller, opts: {
      epochs?: number; maxSteps?: number; optimizer?: OptimizerConfig; scheduler?: SchedulerConfig; clipGradNorm?: number; evalEvery?: number;
      augment?: AugmentConfig[]; loader: Loader;
    }): Promise<FitResult> => {
      const dir = outDir === null ? undefined : run === (config.name ?? 'student') ? outDir : join(outDir, run);
      try {
        return await fit({
          distiller, train: opts.loader, valid: evalLoader, epochs: opts.maxSteps === undefined ? (opts.epochs ?? 1) : undefined, maxSteps: opts.maxSteps,
          optimizer: makeOptimizer(opts.optimizer), scheduler: makeScheduler(opts.scheduler), clipGradNorm: opts.clipGradNorm,
          amp: config.amp, evalEvery: opts.evalEvery, logEvery: config.logEvery, outDir: dir, resume: config.resume,
          augment: makeAugment(opts.augment), restoreBest: config.restoreBest ?? true, monitor: config.monitor, earlyStopping: config.earlyStopping,
          nanGuard: config.nanGuard, seed, device, progress, name: run, signal: hooks.signal,
          onEvent: hooks.onEvent, distributed: config.distributed,
        });
      } finally {
        distiller.dispose();
      }
    };
    for (const [i, t] of teacherList.entries()) {
      const run = `teacher-${i}`;
      if ('torchscript' in t) {
        const script = loadTorchScript(resolve(baseDir, t.torchscript), { device }).eval();
        scripts.push(script);
        teachers.push(script);
        teacherModules.push(new ScriptClassifier(script));
        teacherFits.push(null);
        continue;
      }
      const model = buildModel(loadArch(t.arch), shape);
      modules.push(model);
      if (t.weights) loadWeights(model, resolve(baseDir, t.weights));
      let result: FitResult | null = null;
      if (t.train) {
        const count = Math.min(t.train.labelled ?? n - validCount, n - validCount);
        const rows = order.slice(validCount, validCount + count);
        const loader = new DataLoader(new TensorDataset(keep(indexRows(train.x, rows)), keep(indexRows(train.y, rows))), { batchSize, shuffle: true, seed: d.seed ?? 0 }) as Loader;
        result = await runFit(run, model, new Distiller({ student: model, terms: [terms.crossEntropy()] }), { ...t.train, loader });
        if (result.stopReason === 'cancelled') throw new TorchError(`runConfig(): cancelled while training ${run}${outDir ? ` (its last checkpoint is in ${join(outDir, run)})` : ''}`);
        if (outDir !== null && writer) saveModel(join(outDir, run), model, resolveArch(loadArch(t.arch), shape));
      }
      teachers.push(model);
      teacherModules.push(model);
      teacherFits.push(result);
    }
    const studentArch = resolveArch(loadArch(config.student.arch), shape);
    torch.manualSeed(seed);
    const student = buildModel(studentArch, shape);
    modules.push(student);
    if (config.student.weights) loadWeights(student, resolve(baseDir, config.student.weights));
    checkLayers(config, student, teachers[0]);

    // Loss terms, with the spectrally selected pairs.
    const lossTerms = config.terms.map(makeTerm);
    let spectral: RunResult['spectral'] = null;
    const sel = config.spectralSelection;
    if (sel) {
      student.to(device);
      teachers[0].to(device);
      const sample = torch.tidy(() => trainX.narrow(0, 0, Math.min(sel.samples ?? 256, trainX.shape[0])).to(device));
      try {
        // tidy: frees what the profiled forward passes leave (a TorchScript teacher's other outputs).
        const r = torch.tidy(() => spectralSelection(teachers[0], student, sample, {
          teacherLayers: sel.teacherLayers, studentLayers: sel.studentLayers, layout: sel.layout, select: sel.select,
        }));
        spectral = { teacherProfile: r.teacherProfile, studentProfile: r.studentProfile, selected: r.selected, pairs: r.pairs };
        lossTerms.push(terms.spectral({ pairs: r.pairs, layout: sel.layout, weight: sel.weight, name: sel.name ?? 'spectral' }));
      } catch (e) {
        throw new TorchError(`config.spectralSelection: ${(e as Error).message}`);
      } finally {
        sample.dispose();
      }
    }

    const runName = config.name ?? 'student';
    const distiller = new Distiller({ student, teachers, terms: lossTerms, bss: config.bss, intra: config.intra });
    const result = await runFit(runName, student, distiller, {
      epochs: config.epochs, maxSteps: config.maxSteps, optimizer: config.optimizer, scheduler: config.scheduler,
      clipGradNorm: config.clipGradNorm, evalEvery: config.evalEvery, augment: config.augment, loader: trainLoader,
    });

    const summary: RunResult = {
      student: summarize(student, sourceName(config.student), testLoader, device),
      teachers: teacherModules.map((m, i) => summarize(m, sourceName(teacherList[i]), testLoader, device)),
      fit: result, teacherFits, spectral, rank,
      data: { labelled, transfer, valid: validCount, test: testCount, classes: numClasses, sampleShape, validation: validCount > 0 ? 'valid' : 'test' },
      seconds: (Date.now() - started) / 1000,
      outDir,
    };
    if (outDir !== null && writer) {
      saveModel(outDir, student, studentArch);
      atomicWrite(join(outDir, 'config.json'), `${JSON.stringify({ ...config, student: { ...config.student, arch: studentArch } }, null, 2)}\n`);
      const { history: _h, trainLog: _t, ...fitSummary } = result;
      atomicWrite(join(outDir, 'metrics.json'), `${JSON.stringify({ ...summary, fit: fitSummary, teacherFits: teacherFits.map((f) => f && { steps: f.steps, best: f.best, seconds: f.seconds }) }, null, 2)}\n`);
    }
    return summary;
  } finally {
    for (const m of modules) m.dispose();
    for (const s of scripts) s.dispose();
    torch.dispose(owned);
    if (joined && torch.distributed.isInitialized()) torch.distributed.destroyProcessGroup();
  }
}
