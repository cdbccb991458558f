// The training loop around a Distiller: optimizer and scheduler, gradient clipping, AMP, evaluation every N
// steps, atomic best/last checkpoints with exact resume, a JSONL metrics log, early stopping, a NaN/inf
// guard, seeds, progress output and events, cancellation. A Distiller with only a cross-entropy term and no
// teacher trains a model from labels with the same loop.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as nn from '../nn';
import * as optim from '../optim';
import * as torch from '../torch';
import { argError, kindOf, optionsArg, TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import type { Device, DType } from '../torch/dtype';
import type { DataLoader } from '../data/loader';
import { atomicWrite } from '../data/idx';
import type { Optimizer } from '../optim/optimizer';
import type { LRScheduler } from '../optim/lrScheduler';
import { loadCheckpoint, saveCheckpoint, type CheckpointParts } from './checkpoint';
import type { Distiller } from '../distill/distiller';
import { formatLosses, ProgressReporter, type ProgressMode, type ProgressStream } from './progress';
import { TrainingGroup, type DistributedTrainingOptions } from './distributed';

/** A batch transformation applied before both models see the batch (e.g. data.augment's). */
export type BatchAugmentation = (batch: { input: Tensor; target?: Tensor }) => { input: Tensor; target?: Tensor; mix?: { targetB: Tensor; lam: number } };

/** Batches of [input, target] (target int64; negative = unlabelled). */
export type Loader = DataLoader<Tensor[], Tensor[]>;

export interface EvalMetrics {
  /** NaN when the run has neither `valid` nor `evaluate` (then `loss` is the train loss since the last evaluation). */
  accuracy: number;
  loss: number;
  [name: string]: number;
}

/** What the trainer reports through onEvent; `run` is the run's name (options.name). */
export type TrainerEvent = { run: string } & (
  | { type: 'start'; totalSteps: number; stepsPerEpoch: number; resumedFrom: number | null }
  | { type: 'step'; step: number; totalSteps: number; losses: Record<string, number>; lr: number; stepsPerSecond: number }
  | { type: 'eval'; step: number; epoch: number; metrics: EvalMetrics; best: boolean }
  | { type: 'checkpoint'; step: number; path: string; kind: 'last' | 'best' }
  | { type: 'warning'; step: number; message: string }
  | { type: 'end'; result: FitResult });

type EventBody = TrainerEvent extends infer E ? (E extends { run: string } ? Omit<E, 'run'> : never) : never;

export interface TrainerOptions {
  distiller: Distiller;
  /** The training batches; a sampler with setEpoch (data.DistributedSampler) has it called at each epoch's start. */
  train: Loader;
  valid?: Loader;
  /** Length of the run: epochs over `train` (default 1) or a number of optimizer steps. */
  epochs?: number;
  maxSteps?: number;
  /** Builds the optimizer over the trainable parameters (default AdamW, lr 1e-3, PyTorch's other defaults). */
  optimizer?: (params: Tensor[]) => Optimizer;
  /** Builds an LR scheduler, stepped after every optimizer step. */
  scheduler?: (optimizer: Optimizer, totalSteps: number) => LRScheduler;
  /** Clip the gradients' total 2-norm to this value (nn.utils.clipGradNorm_). */
  clipGradNorm?: number;
  /** Mixed precision: autocast (bfloat16 on CPU, float16 on CUDA with a GradScaler). */
  amp?: boolean | { dtype?: DType };
  augment?: BatchAugmentation;
  /** Evaluate (and checkpoint) every N steps (default: once per epoch) and at the end. */
  evalEvery?: number;
  /** Directory of checkpoint-last/-best.safetensors and metrics.jsonl (no files without it). */
  outDir?: string;
  /** Continue from outDir/checkpoint-last.safetensors when it exists. */
  resume?: boolean;
  /** What "best" means: a valid metric (default accuracy, 'max') or, without valid, the train loss ('min'). */
  monitor?: { metric: string; mode: 'max' | 'min' };
  /** Stop after `patience` evaluations without an improvement larger than minDelta. */
  earlyStopping?: { patience: number; minDelta?: number };
  /** Skip steps whose loss is NaN/±inf (with a warning); stop after maxConsecutive in a row (default 5). */
  nanGuard?: { maxConsecutive?: number } | false;
  /** torch.manualSeed at the start (before the optimizer and any random op of the run). */
  seed?: number;
  /** Mean train losses are written every N steps (default 50). */
  logEvery?: number;
  progress?: ProgressMode;
  progressStream?: ProgressStream;
  /** Run name used in progress output and the metrics log. */
  name?: string;
  onEvent?: (event: TrainerEvent) => void;
  /** Aborting stops the run after the current step (a last checkpoint is written). */
  signal?: AbortSignal;
  device?: Device | string;
  /** Load the best evaluation's weights into the student at the end (default false); kept in memory without outDir. */
  restoreBest?: boolean;
  /** Replaces the default evaluation (accuracy and cross entropy on `valid`); run on every rank when distributed. */
  evaluate?: (model: nn.Module) => EvalMetrics;
  /**
   * Data-parallel training over torch.distributed (initialized from env:// when needed, as `torchkd run`
   * sets it up): the trainable modules in one DistributedDataParallel, each rank on its shard of every
   * epoch (DistributedSampler semantics over `train`'s order, or `train`'s own DistributedSampler), the
   * teachers evaluated per rank on its shard, losses and evaluations reduced over the ranks, and only rank
   * 0 writing checkpoints, metrics.jsonl and progress. `train`'s batchSize is per rank.
   */
  distributed?: boolean | DistributedTrainingOptions;
}

export interface FitResult {
  steps: number;
  stopReason: 'completed' | 'early-stopping' | 'cancelled';
  /** Metrics of the last evaluation and of the best one (by `monitor`). */
  last: EvalMetrics | null;
  best: { step: number; metrics: EvalMetrics } | null;
  history: { step: number; metrics: EvalMetrics }[];
  /** Train-loss means per log interval. */
  trainLog: { step: number; losses: Record<string, number> }[];
  /** Wall-clock seconds of this call (without the part done before a resume). */
  seconds: number;
  checkpoints: { last?: string; best?: string };
}

/**
 * Accuracy and mean cross entropy of a classifier on a loader, in eval mode and without grad. With a
 * training group, each rank evaluates every worldSize-th sample and the sums are reduced over the ranks.
 */
export function evaluate(model: nn.Module, loader: Loader, options?: { device?: Device | string; amp?: TrainerOptions['amp']; group?: TrainingGroup }): EvalMetrics {
  if (!(model instanceof nn.Module)) argError('evaluate', `model must be an nn.Module, got ${kindOf(model)}`);
  if (loader === null || typeof loader !== 'object' || !(Symbol.iterator in loader)) argError('evaluate', `loader must be a DataLoader (an iterable of [input, target] batches), got ${kindOf(loader)}`);
  options = optionsArg('evaluate', options);
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  let loss = 0;
  let n = 0;
  const batches: Iterable<Tensor[]> = options.group
    ? options.group.evalBatches(loader).map((indices) => loader.batch(indices))
    : loader;
  try {
    for (const batch of batches) {
      torch.tidy(() => {
        const [x0, y0] = batch;
        const x = options.device ? x0.to(options.device) : x0;
        const y = options.device ? y0.to(options.device) : y0;
        const logits = torch.noGrad(() => withAutocast(options.amp, x.device, () => (model as nn.Module & { call(x: Tensor): Tensor }).call(x))).float();
        const labelled = y.ge(0);
        const stats = torch.stack([
          logits.argmax(1).eq(y).logicalAnd(labelled).sum().double(),
          nn.functional.crossEntropy(logits, y.clamp(0), { reduction: 'none' }).mul(labelled).sum().double(),
          labelled.sum().double(),
        ]).toArray() as number[];
        correct += stats[0];
        loss += stats[1];
        n += stats[2];
      });
      torch.dispose(batch);
    }
  } finally {
    model.train(wasTraining);
  }
  if (options.group) [correct, loss, n] = options.group.sum([correct, loss, n]);
  if (n === 0) throw new TorchError('evaluate(): the loader has no labelled samples');
  return { accuracy: correct / n, loss: loss / n };
}

function withAutocast<T>(amp: TrainerOptions['amp'], device: string, fn: () => T): T {
  if (!amp) return fn();
  const deviceType = device.startsWith('cuda') ? 'cuda' : 'cpu';
  return torch.autocast({ deviceType, dtype: typeof amp === 'object' ? amp.dtype : undefined }, fn);
}

/** Trainer state that a checkpoint carries (everything needed to continue bit for bit). */
interface RunState {
  step: number;
  best: { step: number; metrics: EvalMetrics } | null;
  badEvals: number;
  nanStreak: number;
  /** Running sums of the current log interval, and of the loss since the last evaluation. */
  sums: Record<string, number>;
  count: number;
  sinceEval: { loss: number; count: number };
  history: { step: number; metrics: EvalMetrics }[];
  trainLog: { step: number; losses: Record<string, number> }[];
}

const CKPT_LAST = 'checkpoint-last.safetensors';
const CKPT_BEST = 'checkpoint-best.safetensors';
const METRICS = 'metrics.jsonl';

/** Loads the student weights (or another module prefix) of a checkpoint into a module. */
export function loadCheckpointWeights(path: string, model: nn.Module, prefix = 'student'): void {
  loadCheckpoint(path, { modules: { [prefix]: model } });
}

export class Trainer {
  readonly options: TrainerOptions;

  constructor(options: TrainerOptions) {
    if (!options || !options.distiller) throw new TorchError('Trainer: options.distiller is required');
    if (!options.train || typeof options.train.batchIndices !== 'function') throw new TorchError('Trainer: options.train must be a data.DataLoader');
    for (const [k, v] of [['epochs', options.epochs], ['maxSteps', options.maxSteps], ['evalEvery', options.evalEvery], ['logEvery', options.logEvery]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new TorchError(`Trainer: ${k} must be a positive integer, got ${String(v)}`);
    }
    if (options.resume && !options.outDir) throw new TorchError('Trainer: resume needs outDir (where the last checkpoint is)');
    if (options.earlyStopping && !(options.earlyStopping.patience >= 1)) throw new TorchError('Trainer: earlyStopping.patience must be at least 1');
    this.options = options;
  }

  async fit(): Promise<FitResult> {
    const group = TrainingGroup.join(this.options.distributed);
    try {
      return await this.run(group);
    } finally {
      group?.close();
    }
  }

  private async run(group: TrainingGroup | null): Promise<FitResult> {
    const o = this.options;
    const started = Date.now();
    const { distiller, train } = o;
    const device = o.device ?? 'cpu';
    const cuda = String(device).startsWith('cuda');
    // Only rank 0 writes files and progress; every rank reads the checkpoint to resume.
    const writer = group === null || group.rank === 0;
    const stepsPerEpoch = group ? group.stepsPerEpoch(train) : train.length;
    if (stepsPerEpoch === 0) throw new TorchError('Trainer: the train loader has no batches');
    const totalSteps = o.maxSteps ?? (o.epochs ?? 1) * stepsPerEpoch;
    const epochs = totalSteps / stepsPerEpoch;
    const evalEvery = o.evalEvery ?? stepsPerEpoch;
    const logEvery = o.logEvery ?? 50;
    // Without validation there is no accuracy: "best" is the lowest train loss, and only that is printed and logged.
    const validated = Boolean(o.valid || o.evaluate);
    const monitor = o.monitor ?? (validated ? { metric: 'accuracy', mode: 'max' as const } : { metric: 'loss', mode: 'min' as const });
    const maxNan = o.nanGuard === false ? 0 : (o.nanGuard?.maxConsecutive ?? 5);
    const label = o.name ?? 'train';

    if (o.seed !== undefined) torch.manualSeed(o.seed);
    distiller.to(device);
    distiller.student.train();
    this.materializeTermModules(device);

    const params = distiller.trainableParameters();
    if (params.length === 0) throw new TorchError('Trainer: the student has no trainable parameters');
    const optimizer = o.optimizer ? o.optimizer(params) : new optim.AdamW(params, { lr: 1e-3 });
    const scheduler = o.scheduler?.(optimizer, totalSteps);
    const scaler = o.amp && cuda ? new torch.amp.GradScaler() : undefined;
    const parts: CheckpointParts = {
      modules: distiller.trainableModules(), optimizer, scheduler, scaler,
      cudaDevice: cuda ? Number(String(device).split(':')[1] ?? 0) : undefined,
    };

    let state: RunState = { step: 0, best: null, badEvals: 0, nanStreak: 0, sums: {}, count: 0, sinceEval: { loss: 0, count: 0 }, history: [], trainLog: [] };
    let resumedFrom: number | null = null;
    const paths = o.outDir ? { last: join(o.outDir, CKPT_LAST), best: join(o.outDir, CKPT_BEST), metrics: join(o.outDir, METRICS) } : null;
    if (paths && writer) mkdirSync(o.outDir as string, { recursive: true });
    if (paths && o.resume && existsSync(paths.last)) {
      state = loadCheckpoint(paths.last, parts) as unknown as RunState;
      resumedFrom = state.step;
      // The log keeps what the checkpoint had seen; steps after it will be written again.
      const kept = !writer ? [] : existsSync(paths.metrics)
        ? readFileSync(paths.metrics, 'utf8').split('\n').filter((line) => {
          try {
            return (JSON.parse(line) as { step: number }).step <= state.step;
          } catch {
            return false;
          }
        })
        : [];
      if (writer) atomicWrite(paths.metrics, kept.map((l) => `${l}\n`).join(''));
    } else if (paths && writer) {
      atomicWrite(paths.metrics, '');
    }
    // After every rank has loaded the checkpoint: DDP broadcasts rank 0's weights (the same) at construction.
    const ddp = group?.wrap(distiller.trainableModules(), typeof o.distributed === 'object' ? o.distributed : {});
    const log = (record: object) => {
      if (paths && writer) appendFileSync(paths.metrics, `${JSON.stringify({ run: label, ...record })}\n`);
    };
    const emit = (e: EventBody) => o.onEvent?.({ run: label, ...e } as TrainerEvent);
    emit({ type: 'start', totalSteps, stepsPerEpoch, resumedFrom });

    const progress = new ProgressReporter(writer ? o.progress ?? 'auto' : 'none', totalSteps, label, o.progressStream);
    const rateStart = { time: Date.now(), step: state.step };
    let stopReason: FitResult['stopReason'] = 'completed';
    const epochBatches = new Map<number, number[][]>();
    let lastLosses: Record<string, number> = {};

    // Without outDir, restoreBest keeps a copy of the best weights in memory.
    let bestWeights: Record<string, Tensor> | null = null;
    const checkpoint = (kind: 'last' | 'best') => {
      if (!paths || !writer) {
        if (kind === 'best' && o.restoreBest) {
          if (bestWeights) torch.dispose(bestWeights);
          bestWeights = torch.tidy(() => Object.fromEntries(Object.entries(distiller.student.stateDict()).map(([k, t]) => [k, t.clone()])));
        }
        return;
      }
      saveCheckpoint(paths[kind], parts, state as unknown as Parameters<typeof saveCheckpoint>[2]);
      emit({ type: 'checkpoint', step: state.step, path: paths[kind], kind });
    };

    const runEval = (): boolean => {
      let metrics: EvalMetrics;
      if (o.evaluate) metrics = o.evaluate(distiller.student);
      else if (o.valid) metrics = evaluate(distiller.student, o.valid, { device, amp: o.amp, group: group ?? undefined });
      else metrics = { accuracy: NaN, loss: state.sinceEval.count > 0 ? state.sinceEval.loss / state.sinceEval.count : NaN };
      state.sinceEval = { loss: 0, count: 0 };
      const value = metrics[monitor.metric];
      if (value === undefined) throw new TorchError(`Trainer: monitor metric '${monitor.metric}' is not among the evaluation's (${Object.keys(metrics).join(', ')})`);
      const minDelta = o.earlyStopping?.minDelta ?? 0;
      const prev = state.best?.metrics[monitor.metric];
      const improved = prev === undefined || (monitor.mode === 'max' ? value > prev + minDelta : value < prev - minDelta);
      state.history.push({ step: state.step, metrics });
      if (improved) {
        state.best = { step: state.step, metrics };
        state.badEvals = 0;
      } else {
        state.badEvals++;
      }
      log({ type: 'eval', step: state.step, epoch: state.step / stepsPerEpoch, ...(validated ? metrics : { loss: metrics.loss }) });
      emit({ type: 'eval', step: state.step, epoch: state.step / stepsPerEpoch, metrics, best: improved });
      progress.message(`${label} step ${state.step}: ${formatLosses(validated ? metrics : { 'train loss': metrics.loss })}${improved ? ' (best)' : ''}`);
      if (improved) checkpoint('best');
      checkpoint('last');
      return o.earlyStopping !== undefined && state.badEvals >= o.earlyStopping.patience;
    };

    try {
      while (state.step < totalSteps) {
        const epoch = Math.floor(state.step / stepsPerEpoch);
        if (!epochBatches.has(epoch)) {
          epochBatches.clear();
          // As Hugging Face's Trainer: a sampler with setEpoch (a data.DistributedSampler) draws this epoch's order.
          const sampler = train.sampler as { setEpoch?: (epoch: number) => void } | null;
          if (typeof sampler?.setEpoch === 'function') sampler.setEpoch(epoch);
          epochBatches.set(epoch, group ? group.epochBatches(train, epoch) : train.batchIndices(epoch));
        }
        const indices = (epochBatches.get(epoch) as number[][])[state.step % stepsPerEpoch];
        const { losses: values, finite, stop } = this.trainStep(indices, { params, optimizer, scheduler, scaler, device, state, totalSteps, epochs, stepsPerEpoch, group, ddp });
        state.step++;
        if (!finite) {
          state.nanStreak++;
          const message = `step ${state.step}: the loss is not finite (${formatLosses(values)}); the step was skipped`;
          emit({ type: 'warning', step: state.step, message });
          progress.message(`warning: ${message}`);
          log({ type: 'warning', step: state.step, message });
          if (maxNan > 0 && state.nanStreak >= maxNan) {
            throw new TorchError(`Trainer: the loss was NaN or infinite for ${state.nanStreak} steps in a row (last step ${state.step}); stopping. Lower the learning rate, enable clipGradNorm, or check the inputs.`);
          }
        } else {
          state.nanStreak = 0;
          lastLosses = values;
          for (const [k, v] of Object.entries(values)) state.sums[k] = (state.sums[k] ?? 0) + v;
          state.count++;
          state.sinceEval.loss += values.loss;
          state.sinceEval.count++;
        }
        if (state.step % logEvery === 0 && state.count > 0) {
          const means = Object.fromEntries(Object.entries(state.sums).map(([k, v]) => [k, v / state.count]));
          state.trainLog.push({ step: state.step, losses: means });
          log({ type: 'train', step: state.step, epoch: state.step / stepsPerEpoch, lr: optimizer.paramGroups[0].lr, ...means });
          state.sums = {};
          state.count = 0;
        }
        const rate = (state.step - rateStart.step) / Math.max((Date.now() - rateStart.time) / 1000, 1e-9);
        emit({ type: 'step', step: state.step, totalSteps, losses: lastLosses, lr: optimizer.paramGroups[0].lr, stepsPerSecond: rate });
        progress.update(state.step, lastLosses);
        if (state.step % evalEvery === 0 || state.step === totalSteps) {
          if (runEval()) {
            stopReason = 'early-stopping';
            break;
          }
        }
        // Lets timers, worker messages and abort signals through between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (stop || (group === null && o.signal?.aborted)) {
          stopReason = 'cancelled';
          checkpoint('last');
          break;
        }
      }
    } finally {
      progress.done();
      // The optimizer was built for this run: its state tensors go with it.
      optimizer.dispose();
    }
    if (o.restoreBest && state.best) {
      if (paths && writer) loadCheckpointWeights(paths.best, distiller.student);
      else if (bestWeights) {
        const weights: Record<string, Tensor> = bestWeights;
        torch.noGrad(() => distiller.student.loadStateDict(weights));
        torch.dispose(weights);
      }
    }
    const result: FitResult = {
      steps: state.step, stopReason,
      last: state.history.length ? state.history[state.history.length - 1].metrics : null,
      best: state.best, history: state.history, trainLog: state.trainLog,
      seconds: (Date.now() - started) / 1000,
      checkpoints: paths ? { last: paths.last, best: state.best ? paths.best : undefined } : {},
    };
    emit({ type: 'end', result });
    return result;
  }

  /** Runs the terms once without grad so that lazily built term modules (projections) exist before the optimizer. */
  private materializeTermModules(device: Device | string): void {
    const { distiller, train } = this.options;
    if (!distiller.terms.some((t) => t.modules !== undefined)) return;
    const indices = train.batchIndices(0)[0];
    const wasTraining = distiller.student.training;
    distiller.student.eval();
    try {
      torch.tidy(() => {
        const [x, y] = train.batch(indices);
        torch.noGrad(() => distiller.step({ input: x.to(device), target: y?.to(device), indices }, { step: 0, totalSteps: 1, epoch: 0, epochs: 1 }));
      });
    } finally {
      distiller.student.train(wasTraining);
    }
  }

  /**
   * One optimisation step; returns the losses as numbers (the step is skipped when one is not finite).
   * Distributed: the forward runs under DDP, the losses are averaged over the ranks, and `stop` says whether
   * any rank's signal was aborted (all ranks stop after the same step).
   */
  private trainStep(indices: number[], s: {
    params: Tensor[]; optimizer: Optimizer; scheduler?: LRScheduler; scaler?: InstanceType<typeof torch.amp.GradScaler>;
    device: Device | string; state: RunState; totalSteps: number; epochs: number; stepsPerEpoch: number;
    group: TrainingGroup | null; ddp?: nn.parallel.DistributedDataParallel;
  }): { losses: Record<string, number>; finite: boolean; stop: boolean } {
    const o = this.options;
    const { distiller } = o;
    return torch.tidy(() => {
      const raw = o.train.batch(indices);
      const [x0, y0] = raw;
      let batch: { input: Tensor; target?: Tensor; mix?: { targetB: Tensor; lam: number } } = {
        input: x0.to(s.device), target: y0?.to(s.device),
      };
      if (o.augment) batch = o.augment(batch);
      const info = { step: s.state.step, totalSteps: s.totalSteps, epoch: s.state.step / s.stepsPerEpoch, epochs: s.epochs };
      const forward = () => withAutocast(o.amp, String(s.device), () => distiller.step({ ...batch, indices }, info));
      const losses = s.ddp ? s.ddp.runForward(forward) : forward();
      const names = Object.keys(losses);
      let values = torch.stack(names.map((k) => losses[k].detach().float())).toArray() as number[];
      let stop = false;
      if (s.group) {
        const sums = s.group.sum([...values, o.signal?.aborted ? 1 : 0]);
        stop = sums[values.length] > 0;
        values = sums.slice(0, values.length).map((v) => v / s.group!.worldSize);
      }
      const named = Object.fromEntries(names.map((k, i) => [k, values[i]]));
      if (!values.every(Number.isFinite)) {
        s.optimizer.zeroGrad();
        return { losses: named, finite: false, stop };
      }
      const loss = s.scaler ? s.scaler.scale(losses.loss) : losses.loss;
      loss.backward();
      if (s.scaler) s.scaler.unscale_(s.optimizer);
      if (o.clipGradNorm !== undefined) nn.utils.clipGradNorm_(s.params, o.clipGradNorm);
      if (s.scaler) {
        s.scaler.step(s.optimizer);
        s.scaler.update();
      } else {
        s.optimizer.step();
      }
      s.optimizer.zeroGrad();
      s.scheduler?.step();
      return { losses: named, finite: true, stop };
    });
  }
}

/** Trains with a Trainer built from these options: `await fit({ distiller, train, valid, epochs: 3 })`. */
export function fit(options: TrainerOptions): Promise<FitResult> {
  return new Trainer(options).fit();
}
