// torch.optim.lr_scheduler: the learning-rate sequences are PyTorch 1.13's exactly, including the recursive
// (chainable) get_lr forms used by step() and the closed forms used by step(epoch).
import { TorchError } from '../torch';
import { argError, arrayArg, kindOf, numbersArg } from '../torch/errors';
import type { HyperValue, Optimizer, ParamGroupBase } from './optimizer';

/** The optimizer a scheduler drives: any torchkd optimizer. */
type AnyOptimizer = Optimizer;

/** A scheduler's state: its plain fields (PyTorch's state_dict is the scheduler's __dict__ minus the optimizer). */
export type SchedulerStateDict = { [key: string]: number | boolean | string | number[] | null | SchedulerStateDict[] };

type Group = ParamGroupBase & Record<string, HyperValue | ParamGroupBase['params']>;

/** Base class (PyTorch's _LRScheduler). lastEpoch counts step() calls; the constructor makes the first step. */
export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** The initial lr of each group (PyTorch's base_lrs). */
  baseLrs: number[];
  lastEpoch: number;
  protected stepCount = 0;
  protected lastLr: number[] = [];

  constructor(optimizer: AnyOptimizer, lastEpoch = -1, init = true) {
    if (!optimizer || !Array.isArray(optimizer.paramGroups)) throw new TorchError('lrScheduler: expected an Optimizer');
    this.optimizer = optimizer;
    for (const g of optimizer.paramGroups) {
      if (lastEpoch === -1) {
        if (g.initialLr === undefined) g.initialLr = g.lr;
      } else if (g.initialLr === undefined) {
        throw new TorchError("lrScheduler: param 'initialLr' is not specified in paramGroups when resuming an optimizer");
      }
    }
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
    if (init) this.initialStep();
  }

  protected get groups(): Group[] {
    return this.optimizer.paramGroups as unknown as Group[];
  }

  /** @internal PyTorch's _initial_step. */
  initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The chainable form (uses the groups' current lr). */
  protected abstract getLr(): number[];
  /** The closed form, used by step(epoch) when the scheduler has one. */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** Advances one epoch (or jumps to `epoch`, deprecated in PyTorch) and sets each group's lr. */
  step(epoch?: number): void {
    this.stepCount += 1;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch += 1;
      values = this.getLr();
    } else {
      this.lastEpoch = epoch;
      values = this.closedFormLr() ?? this.getLr();
    }
    this.groups.forEach((g, i) => { g.lr = values[i]; });
    this.lastLr = this.groups.map((g) => g.lr);
  }

  /** The lr of each group computed by the last step(). */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's fields (camelCase of PyTorch's: lastEpoch, baseLrs, stepCount, lastLr, ...). */
  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {};
    for (const [k, v] of Object.entries(this)) {
      if (k === 'optimizer' || typeof v === 'function' || k === 'lrLambdas' || k === 'schedulers') continue;
      out[k] = Array.isArray(v) ? [...v] : v;
    }
    return out;
  }

  loadStateDict(state: SchedulerStateDict): void {
    const self = this as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(state)) {
      if (k === 'schedulers') continue;
      self[k] = Array.isArray(v) ? [...v] : v;
    }
  }
}

/** lr = initialLr · lrLambda(epoch) (one function for every group, or one per group). */
export class LambdaLR extends LRScheduler {
  private lrLambdas: ((epoch: number) => number)[];
  constructor(optimizer: AnyOptimizer, lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[],
    { lastEpoch = -1 }: { lastEpoch?: number } = {}) {
    super(optimizer, lastEpoch, false);
    if (Array.isArray(lrLambda)) {
      if (lrLambda.length !== optimizer.paramGroups.length) {
        throw new TorchError(`LambdaLR: Expected ${optimizer.paramGroups.length} lr_lambdas, but got ${lrLambda.length}`);
      }
      this.lrLambdas = [...lrLambda];
    } else {
      this.lrLambdas = optimizer.paramGroups.map(() => lrLambda);
    }
    this.initialStep();
  }
  protected override getLr(): number[] {
    return this.baseLrs.map((b, i) => b * this.lrLambdas[i](this.lastEpoch));
  }
}

/** Multiplies lr by gamma (default 0.1) every stepSize epochs. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: AnyOptimizer, stepSize: number, { gamma = 0.1, lastEpoch = -1 }: { gamma?: number; lastEpoch?: number } = {}) {
    super(optimizer, lastEpoch, false);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.initialStep();
  }
  protected override getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** Multiplies lr by gamma (default 0.1) at each milestone epoch (a repeated milestone applies gamma again). */
export class MultiStepLR extends LRScheduler {
  milestones: number[];
  gamma: number;
  constructor(optimizer: AnyOptimizer, milestones: number[], { gamma = 0.1, lastEpoch = -1 }: { gamma?: number; lastEpoch?: number } = {}) {
    super(optimizer, lastEpoch, false);
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.gamma = gamma;
    this.initialStep();
  }
  protected override getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (count === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma ** count);
  }
  protected override closedFormLr(): number[] {
    const passed = this.milestones.filter((m) => m <= this.lastEpoch).length;
    return this.baseLrs.map((b) => b * this.gamma ** passed);
  }
}

/** Multiplies lr by gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  constructor(optimizer: AnyOptimizer, gamma: number, { lastEpoch = -1 }: { lastEpoch?: number } = {}) {
    super(optimizer, lastEpoch, false);
    this.gamma = gamma;
    this.initialStep();
  }
  protected override getLr(): number[] {
    if (this.lastEpoch === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}

/**
 * Cosine annealing, PyTorch's recursive form: lrₜ = (1 + cos(πt/T)) / (1 + cos(π(t−1)/T)) · (lrₜ₋₁ − ηmin) + ηmin
 * (closed form ηmin + (base − ηmin)(1 + cos(πt/T))/2 for step(epoch)). etaMin default 0.
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  constructor(optimizer: AnyOptimizer, tMax: number, { etaMin = 0, lastEpoch = -1 }: { etaMin?: number; lastEpoch?: number } = {}) {
    super(optimizer, lastEpoch, false);
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.initialStep();
  }
  protected override getLr(): number[] {
    const t = this.lastEpoch;
    const T = this.tMax;
    const e = this.etaMin;
    if (t === 0) return this.groups.map((g) => g.lr);
    if (this.stepCount === 1 && t > 0) {
      return this.baseLrs.map((b) => e + (b - e) * (1 + Math.cos(t * Math.PI / T)) / 2);
    }
    if (pyMod(t - 1 - T, 2 * T) === 0) {
      return this.groups.map((g, i) => g.lr + (this.baseLrs[i] - e) * (1 - Math.cos(Math.PI / T)) / 2);
    }
    return this.groups.map((g) =>
      (1 + Math.cos(Math.PI * t / T)) / (1 + Math.cos(Math.PI * (t - 1) / T)) * (g.lr - e) + e);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + (b - this.etaMin) * (1 + Math.cos(Math.PI * this.lastEpoch / this.tMax)) / 2);
  }
}

/** Python's % (the result has the divisor's sign). */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/**
 * Scales lr by a factor going linearly from startFactor (default 1/3) to endFactor (default 1) over
 * totalIters (default 5) epochs.
 */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  constructor(optimizer: AnyOptimizer, { startFactor = 1 / 3, endFactor = 1, totalIters = 5, lastEpoch = -1 }:
    { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number } = {}) {
    if (startFactor > 1 || startFactor < 0) throw new TorchError('LinearLR: Starting multiplicative factor expected to be between 0 and 1.');
    if (endFactor > 1 || endFactor < 0) throw new TorchError('LinearLR: Ending multiplicative factor expected to be between 0 and 1.');
    super(optimizer, lastEpoch, false);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.initialStep();
  }
  protected override getLr(): number[] {
    const t = this.lastEpoch;
    if (t === 0) return this.groups.map((g) => g.lr * this.startFactor);
    if (t > this.totalIters) return this.groups.map((g) => g.lr);
    const d = this.endFactor - this.startFactor;
    return this.groups.map((g) => g.lr * (1 + d / (this.totalIters * this.startFactor + (t - 1) * d)));
  }
  protected override closedFormLr(): number[] {
    const d = this.endFactor - this.startFactor;
    return this.baseLrs.map((b) => b * (this.startFactor + d * Math.min(this.totalIters, this.lastEpoch) / this.totalIters));
  }
}

export interface OneCycleLROptions {
  /** Total number of steps, or epochs × stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing lr (default 0.3). */
  pctStart?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (or Adam's β1) inversely to lr (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** initialLr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  threePhase?: boolean;
  lastEpoch?: number;
}

interface Phase { endStep: number; startLr: string; endLr: string; startMomentum: string; endMomentum: string }

/** The 1cycle policy (torch.optim.lr_scheduler.OneCycleLR); step() once per batch. */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  useBeta1 = false;
  private phases: Phase[];
  constructor(optimizer: AnyOptimizer, maxLr: number | number[], options: OneCycleLROptions = {}) {
    const {
      totalSteps, epochs, stepsPerEpoch, pctStart = 0.3, annealStrategy = 'cos', cycleMomentum = true,
      baseMomentum = 0.85, maxMomentum = 0.95, divFactor = 25, finalDivFactor = 1e4, threePhase = false, lastEpoch = -1,
    } = options;
    let total: number;
    if (totalSteps === undefined && (epochs === undefined || stepsPerEpoch === undefined)) {
      throw new TorchError('OneCycleLR: You must define either totalSteps OR (epochs AND stepsPerEpoch)');
    } else if (totalSteps !== undefined) {
      if (!(totalSteps > 0) || !Number.isInteger(totalSteps)) throw new TorchError(`OneCycleLR: Expected positive integer totalSteps, but got ${totalSteps}`);
      total = totalSteps;
    } else {
      if (!((epochs as number) > 0) || !Number.isInteger(epochs)) throw new TorchError(`OneCycleLR: Expected positive integer epochs, but got ${epochs}`);
      if (!((stepsPerEpoch as number) > 0) || !Number.isInteger(stepsPerEpoch)) throw new TorchError(`OneCycleLR: Expected positive integer stepsPerEpoch, but got ${stepsPerEpoch}`);
      total = (epochs as number) * (stepsPerEpoch as number);
    }
    if (pctStart < 0 || pctStart > 1) throw new TorchError(`OneCycleLR: Expected float between 0 and 1 pctStart, but got ${pctStart}`);
    if (annealStrategy !== 'cos' && annealStrategy !== 'linear') {
      throw new TorchError(`OneCycleLR: annealStrategy must by one of 'cos' or 'linear', instead got ${String(annealStrategy)}`);
    }
    const n = optimizer.paramGroups.length;
    const format = (name: string, v: number | number[]): number[] => {
      if (Array.isArray(v)) {
        if (v.length !== n) throw new TorchError(`OneCycleLR: expected ${n} values for ${name}, got ${v.length}`);
        return v;
      }
      return optimizer.paramGroups.map(() => v);
    };
    const groups = optimizer.paramGroups as unknown as Group[];
    const maxLrs = format('maxLr', maxLr);
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = g.initialLr / finalDivFactor;
      });
    }
    let useBeta1 = false;
    if (cycleMomentum) {
      const d = optimizer.defaults;
      if (!('momentum' in d) && !('betas' in d)) throw new TorchError('OneCycleLR: optimizer must support momentum with `cycleMomentum` option enabled');
      useBeta1 = 'betas' in d;
      const maxM = format('maxMomentum', maxMomentum);
      const baseM = format('baseMomentum', baseMomentum);
      if (lastEpoch === -1) {
        groups.forEach((g, i) => {
          if (useBeta1) g.betas = [maxM[i], (g.betas as [number, number])[1]];
          else g.momentum = maxM[i];
          g.maxMomentum = maxM[i];
          g.baseMomentum = baseM[i];
        });
      }
    }
    super(optimizer, lastEpoch, false);
    this.totalSteps = total;
    this.annealStrategy = annealStrategy;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.phases = threePhase
      ? [
        { endStep: pctStart * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
        { endStep: 2 * pctStart * total - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        { endStep: total - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
      ]
      : [
        { endStep: pctStart * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
        { endStep: total - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
      ];
    this.initialStep();
  }
  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'cos') return end + (start - end) / 2.0 * (Math.cos(Math.PI * pct) + 1);
    return (end - start) * pct + start;
  }
  protected override getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new TorchError(`OneCycleLR: Tried to step ${stepNum + 1} times. The specified number of total steps is ${this.totalSteps}`);
    }
    return this.groups.map((g) => {
      let startStep = 0;
      let lr = 0;
      let momentum = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i];
        if (stepNum <= ph.endStep || i === this.phases.length - 1) {
          const pct = (stepNum - startStep) / (ph.endStep - startStep);
          lr = this.anneal(g[ph.startLr] as number, g[ph.endLr] as number, pct);
          if (this.cycleMomentum) momentum = this.anneal(g[ph.startMomentum] as number, g[ph.endMomentum] as number, pct);
          break;
        }
        startStep = ph.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [momentum, (g.betas as [number, number])[1]];
        else g.momentum = momentum;
      }
      return lr;
    });
  }
}

/** Runs schedulers one after another, switching at the milestones (epochs). */
export class SequentialLR extends LRScheduler {
  schedulers: LRScheduler[];
  milestones: number[];
  constructor(optimizer: AnyOptimizer, schedulers: LRScheduler[], milestones: number[], { lastEpoch = -1 }: { lastEpoch?: number } = {}) {
    arrayArg('SequentialLR', 'schedulers', schedulers);
    numbersArg('SequentialLR', 'milestones', milestones, true);
    for (let i = 0; i < schedulers.length; i++) {
      const s = schedulers[i];
      if (!(s instanceof LRScheduler)) argError('SequentialLR', `schedulers[${i}] must be an LRScheduler, got ${kindOf(s)}`);
      if (s.optimizer !== optimizer) {
        throw new TorchError(`SequentialLR: Sequential Schedulers expects all schedulers to belong to the same optimizer, but got schedulers at index ${i} to be different than the optimizer passed in.`);
      }
    }
    if (milestones.length !== schedulers.length - 1) {
      throw new TorchError(`SequentialLR: expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers ${schedulers.length} and the number of milestones to be equal to ${milestones.length}`);
    }
    super(optimizer, -1, false);
    this.schedulers = schedulers;
    this.milestones = [...milestones];
    this.lastEpoch = lastEpoch + 1;
    for (const g of this.groups) g.lr = g.initialLr as number;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0].initialStep();
    this.lastLr = schedulers[0].getLastLr();
  }
  protected override getLr(): number[] {
    return this.groups.map((g) => g.lr);
  }
  override step(): void {
    this.lastEpoch += 1;
    const idx = this.milestones.filter((m) => m <= this.lastEpoch).length;
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }
  override stateDict(): SchedulerStateDict {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  override loadStateDict(state: SchedulerStateDict): void {
    super.loadStateDict(state);
    const subs = state.schedulers;
    if (Array.isArray(subs)) subs.forEach((s, i) => this.schedulers[i].loadStateDict(s as SchedulerStateDict));
  }
}
