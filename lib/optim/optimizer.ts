// torch.optim: the Optimizer base class and SGD, Adam, AdamW, RMSprop, Adagrad.
//
// The JS object holds the parameter groups (plain, mutable objects: `opt.paramGroups[0].lr = 0.01`) and the
// per-parameter state tensors; each step makes one native call per group (native/optim.cc) that applies
// PyTorch 1.13's single-tensor update formulas in place, under no-grad.
//
// stateDict() is PyTorch's state_dict, key for key, so that a checkpoint written with torch.save /
// io.save loads in Python's optimizer.load_state_dict and the other way round:
//   { state: Map { paramIndex => { step, exp_avg, ... } }, param_groups: [{ lr, betas, weight_decay, ...,
//     params: [indices] }] }
// The JS parameter groups and state use camelCase (weightDecay, expAvg, momentumBuffer...); the state dict
// uses PyTorch's snake_case names (weight_decay, exp_avg, momentum_buffer, initial_lr...). `step` is a
// float32 0-d tensor where PyTorch keeps one (Adam, AdamW, Adagrad; RMSprop from 2.0) and a number otherwise.
// loadStateDict also takes the camelCase layout of torchkd before 0.2 (paramGroups, numeric step).
import { enableGrad, fullLike, keep, Tensor, tensor, TorchError, zerosLike } from '../torch';
import type { Handle } from '../torch/native';
import { versionAtLeast } from '../torch/version';
import { ON } from './native';

/** A per-parameter state value: a state tensor, a step count, or null (SGD without momentum). */
export type StateValue = Tensor | number | null;
export type ParamState = Record<string, StateValue>;

/** A hyperparameter value as stored in a parameter group. */
export type HyperValue = number | boolean | [number, number] | undefined;

/** What every parameter group has; lr schedulers add initialLr (and OneCycleLR maxLr, minLr, ...). */
export interface ParamGroupBase {
  params: Tensor[];
  lr: number;
  /** PyTorch's initial_lr, set by the lr schedulers. */
  initialLr?: number;
  maxLr?: number;
  minLr?: number;
  maxMomentum?: number;
  baseMomentum?: number;
}

/** A parameter group as passed in: its tensors and any per-group option overrides. */
export type ParamGroupSpec<O> = { params: Iterable<Tensor> } & Partial<O>;

/** Parameters: tensors, or parameter groups with per-group options. */
export type Params<O> = Iterable<Tensor> | ParamGroupSpec<O>[];

/** A hyperparameter in a state dict's param_groups (Python's None for foreach, fused...). */
export type GroupValue = number | boolean | string | null | number[];

/**
 * PyTorch's optimizer state_dict (see the top of lib/optim/optimizer.ts). A type alias, so that it is a
 * torch.save-able value.
 */
export type OptimizerStateDict = {
  /** Per-parameter state by parameter index, PyTorch's key names (step, exp_avg, momentum_buffer...). */
  state: Map<number, Record<string, Tensor | number | null>>;
  /** The groups' hyperparameters (PyTorch's names) and their parameters' indices. */
  param_groups: (Record<string, GroupValue> & { params: number[] })[];
};

/** The camelCase layout of torchkd before 0.2, still accepted by loadStateDict. */
export interface LegacyOptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: (Record<string, HyperValue | number[]> & { params: number[] })[];
}

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string): string => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The loss closure of step(closure): re-evaluates the model and returns the loss. */
export type Closure = () => Tensor | number;

type Hypers = Record<string, HyperValue>;

/** Base class of the optimizers: parameter groups, state, zeroGrad, stateDict / loadStateDict. */
export abstract class Optimizer<D extends object = object> {
  /** The default hyperparameters (PyTorch's defaults, overridden by the constructor's options). */
  readonly defaults: D;
  /** The parameter groups; hyperparameters are read at every step, so they may be changed in place. */
  paramGroups: (D & ParamGroupBase)[] = [];
  /** Per-parameter state (step counts, moment estimates...), created at a parameter's first step. */
  state = new Map<Tensor, ParamState>();
  protected readonly name: string;

  protected constructor(name: string, params: Params<D>, defaults: D) {
    this.name = name;
    this.defaults = defaults;
    const list = Array.isArray(params) ? params as unknown[] : [...params as Iterable<unknown>];
    if (list.length === 0) throw new TorchError(`${name}(): optimizer got an empty parameter list`);
    if (list[0] instanceof Tensor) this.addParamGroup({ params: list as Tensor[] } as unknown as ParamGroupSpec<D>);
    else for (const g of list) this.addParamGroup(g as ParamGroupSpec<D>);
  }

  /** Adds a parameter group; options it does not set take the optimizer's defaults. */
  addParamGroup(group: ParamGroupSpec<D>): void {
    if (group === null || typeof group !== 'object' || !('params' in group)) {
      throw new TorchError(`${this.name}.addParamGroup(): a parameter group must be an object with 'params'`);
    }
    const params = group.params instanceof Tensor ? [group.params] : [...group.params];
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new TorchError(`${this.name}: params must be Tensors`);
      if (!p.isLeaf) throw new TorchError(`${this.name}: can't optimize a non-leaf Tensor`);
    }
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p);
    for (const p of params) {
      if (seen.has(p)) throw new TorchError(`${this.name}: some parameters appear in more than one parameter group`);
      seen.add(p);
    }
    const full = { ...this.defaults } as unknown as Hypers;
    for (const [k, v] of Object.entries(group)) if (k !== 'params' && v !== undefined) full[k] = v as HyperValue;
    if (typeof full.lr !== 'number') throw new TorchError(`${this.name}: parameter group didn't specify a value of required optimization parameter lr`);
    const g = { ...full, params } as unknown as D & ParamGroupBase;
    this.validate(g);
    this.paramGroups.push(g);
  }

  /** Checks a group's hyperparameters (PyTorch's constructor checks). */
  protected validate(group: D & ParamGroupBase): void {
    if (group.lr < 0) throw new TorchError(`${this.name}: Invalid learning rate: ${group.lr}`);
  }

  /**
   * Sets every parameter's grad to null (setToNone, the default as in PyTorch 2.x) or to zeros.
   */
  zeroGrad({ setToNone = true }: { setToNone?: boolean } = {}): void {
    ON.optimZeroGrad(this.paramGroups.flatMap((g) => g.params.map((p) => p.id)), setToNone);
  }

  /**
   * Performs one optimization step over every parameter that has a grad. With a closure, evaluates it
   * (with grad enabled) first and returns its loss.
   */
  step(closure?: Closure): Tensor | number | undefined {
    const loss = closure ? enableGrad(closure) : undefined;
    for (const group of this.paramGroups) {
      if (group.params.length === 0) continue;
      const has = ON.optimHasGrad(group.params.map((p) => p.id));
      const params = group.params.filter((_, i) => has[i]);
      if (params.length > 0) this.update(group, params);
    }
    return loss;
  }

  /** One group's update (one native call), for the params that have a grad. */
  protected abstract update(group: D & ParamGroupBase, params: Tensor[]): void;

  /** The state of p, created empty. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /** A state tensor, created (kept out of tidy scopes) when missing. */
  protected tensorState(s: ParamState, key: string, p: Tensor, fill = 0): Tensor {
    const v = s[key];
    if (v instanceof Tensor) return v;
    const t = keep(fill === 0 ? zerosLike(p) : fullLike(p, fill));
    s[key] = t;
    return t;
  }

  /** The step count of a state after incrementing it. */
  protected nextStep(s: ParamState): number {
    const step = (typeof s.step === 'number' ? s.step : 0) + 1;
    s.step = step;
    return step;
  }

  /** Whether PyTorch keeps this optimizer's `step` as a tensor (Adam, AdamW, Adagrad; RMSprop from 2.0). */
  protected get tensorStep(): boolean {
    return true;
  }

  /**
   * PyTorch's state_dict (optimizer.state_dict()): `{ state: Map<index, {...}>, param_groups: [...] }` with
   * PyTorch's key names, state keyed by parameter index in group order. Its tensors are new Tensor objects
   * sharing the optimizer's memory (as Module.stateDict: dispose them, torch.dispose(sd), or call inside
   * torch.tidy). Save it (torch.save / io.save) or load it into another optimizer; Python's
   * optimizer.load_state_dict accepts the saved file.
   */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const param_groups: OptimizerStateDict['param_groups'] = [];
    for (const g of this.paramGroups) {
      const ids: number[] = [];
      for (const p of g.params) {
        if (!index.has(p)) index.set(p, index.size);
        ids.push(index.get(p) as number);
      }
      const packed: Record<string, GroupValue> = {};
      for (const [k, v] of Object.entries(g)) {
        if (k !== 'params' && v !== undefined) packed[snake(k)] = Array.isArray(v) ? [...v] : v as GroupValue;
      }
      param_groups.push({ ...packed, params: ids });
    }
    const state: OptimizerStateDict['state'] = new Map();
    for (const [p, st] of this.state) {
      const i = index.get(p);
      if (i === undefined) continue;
      const out: Record<string, Tensor | number | null> = {};
      for (const [k, v] of Object.entries(st)) {
        out[snake(k)] = k === 'step' && typeof v === 'number' && this.tensorStep ? tensor(v, { dtype: 'float32' })
          : v instanceof Tensor ? v.detach() : v;
      }
      state.set(i, out);
    }
    return { state, param_groups };
  }

  /**
   * Loads a state_dict: one of stateDict(), or PyTorch's as io.load / torch.load reads it from a file
   * Python wrote (state a Map or an object keyed by index, PyTorch's key names, `step` a tensor or a
   * number), of an optimizer over parameters of the same shapes in the same groups. State tensors are
   * copied and cast to their parameter's device and (floating) dtype, as PyTorch does; the previous state
   * tensors are disposed. Hyperparameters PyTorch has and torchkd does not use (foreach, fused, ...) are
   * kept in the groups, so they are saved again.
   */
  loadStateDict(stateDict: OptimizerStateDict | LegacyOptimizerStateDict): void {
    const sd = stateDict as Partial<OptimizerStateDict & LegacyOptimizerStateDict>;
    const saved = (sd.param_groups ?? sd.paramGroups) as (Record<string, unknown> & { params: number[] })[] | undefined;
    if (!Array.isArray(saved) || saved.length !== this.paramGroups.length) {
      throw new TorchError(`${this.name}.loadStateDict(): loaded state dict has a different number of parameter groups`);
    }
    const byIndex = new Map<number, Tensor>();
    saved.forEach((sg, gi) => {
      const g = this.paramGroups[gi];
      if (!Array.isArray(sg.params) || sg.params.length !== g.params.length) {
        throw new TorchError(`${this.name}.loadStateDict(): loaded state dict contains a parameter group that doesn't match the size of optimizer's group`);
      }
      sg.params.forEach((id, k) => byIndex.set(Number(id), g.params[k]));
    });
    const entries: [unknown, unknown][] = sd.state instanceof Map ? [...sd.state] : Object.entries(sd.state ?? {});
    const state = new Map<Tensor, ParamState>();
    for (const [key, st] of entries) {
      const p = byIndex.get(Number(key));
      if (!p || st === null || typeof st !== 'object') continue;
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(st as Record<string, unknown>)) {
        const name = camel(k);
        if (name === 'step') copy.step = v instanceof Tensor ? v.item() : Number(v);
        else if (v instanceof Tensor) {
          const floating = v.dtype.startsWith('float') || v.dtype === 'bfloat16' || v.dtype.startsWith('complex');
          copy[name] = keep(v.to({ device: p.device, dtype: floating ? p.dtype : v.dtype, copy: true }).detach());
        } else {
          copy[name] = v as StateValue;
        }
      }
      state.set(p, copy);
    }
    this.disposeState();
    this.state = state;
    saved.forEach((sg, gi) => {
      const g = this.paramGroups[gi] as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(sg)) {
        if (k !== 'params') g[camel(k)] = Array.isArray(v) ? [...v] : v;
      }
    });
  }

  /** Frees every state tensor (the optimizer is unusable afterwards only if stepped again it recreates them). */
  disposeState(): void {
    for (const s of this.state.values()) {
      for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    }
    this.state.clear();
  }

  /** Same as disposeState(): frees the optimizer's state tensors. */
  dispose(): void {
    this.disposeState();
  }
}

const ids = (ts: Tensor[]): Handle[] => ts.map((t) => t.id);
const flag = (b: boolean | undefined): number => (b ? 1 : 0);

// -------------------------------------------------------------------------------------------------- SGD

export interface SGDOptions {
  /** Learning rate (required). */
  lr: number;
  /** Momentum factor μ (default 0). */
  momentum?: number;
  /** Dampening τ for momentum (default 0). */
  dampening?: number;
  /** L2 penalty λ added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening = 0). */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing (default false). */
  maximize?: boolean;
}
type SGDHypers = Required<SGDOptions>;

/**
 * Stochastic gradient descent (torch.optim.SGD): g = ∇ + λθ; b = g at the first step, else
 * b = μb + (1 − τ)g; g = g + μb (nesterov) or b; θ = θ − lr·g.
 */
export class SGD extends Optimizer<SGDHypers> {
  constructor(params: Params<SGDOptions>, options: SGDOptions) {
    if (!options || typeof options.lr !== 'number') throw new TorchError('SGD(): lr is required');
    super('SGD', params as Params<SGDHypers>, {
      lr: options.lr, momentum: options.momentum ?? 0, dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0, nesterov: options.nesterov ?? false, maximize: options.maximize ?? false,
    });
  }
  protected override validate(g: SGDHypers & ParamGroupBase): void {
    super.validate(g);
    if (g.momentum < 0) throw new TorchError(`SGD: Invalid momentum value: ${g.momentum}`);
    if (g.weightDecay < 0) throw new TorchError(`SGD: Invalid weight_decay value: ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new TorchError('SGD: Nesterov momentum requires a momentum and zero dampening');
    }
  }
  protected update(g: SGDHypers & ParamGroupBase, params: Tensor[]): void {
    const bufs: Handle[] = [];
    const fresh: number[] = [];
    for (const p of params) {
      const s = this.stateOf(p);
      if (g.momentum !== 0) {
        fresh.push(s.momentumBuffer instanceof Tensor ? 0 : 1);
        bufs.push(this.tensorState(s, 'momentumBuffer', p).id);
      } else {
        s.momentumBuffer = null;
        fresh.push(0);
      }
    }
    ON.optimStep('sgd', ids(params), [bufs], fresh,
      [g.lr, g.momentum, g.dampening, g.weightDecay, flag(g.nesterov), flag(g.maximize)]);
  }
}

// ------------------------------------------------------------------------------------------ Adam, AdamW

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Coefficients (β1, β2) of the running averages of the gradient and its square (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Term added to the denominator (default 1e-8). */
  eps?: number;
  /** Weight decay λ: L2 penalty for Adam (default 0); decoupled decay for AdamW (default 1e-2). */
  weightDecay?: number;
  /** Use the maximum of past squared-gradient averages (AMSGrad; default false). */
  amsgrad?: boolean;
  /** Maximize the objective (default false). */
  maximize?: boolean;
  /** Adam only: decay the weights as AdamW does instead of adding λθ to the gradient (default false). */
  decoupledWeightDecay?: boolean;
}
type AdamHypers = Required<AdamOptions>;

abstract class AdamBase extends Optimizer<AdamHypers> {
  protected override validate(g: AdamHypers & ParamGroupBase): void {
    super.validate(g);
    if (!(g.eps >= 0)) throw new TorchError(`${this.name}: Invalid epsilon value: ${g.eps}`);
    if (!(g.betas[0] >= 0 && g.betas[0] < 1)) throw new TorchError(`${this.name}: Invalid beta parameter at index 0: ${g.betas[0]}`);
    if (!(g.betas[1] >= 0 && g.betas[1] < 1)) throw new TorchError(`${this.name}: Invalid beta parameter at index 1: ${g.betas[1]}`);
    if (!(g.weightDecay >= 0)) throw new TorchError(`${this.name}: Invalid weight_decay value: ${g.weightDecay}`);
  }
  protected update(g: AdamHypers & ParamGroupBase, params: Tensor[]): void {
    const m: Handle[] = [];
    const v: Handle[] = [];
    const vmax: Handle[] = [];
    const steps: number[] = [];
    for (const p of params) {
      const s = this.stateOf(p);
      if (s.step === undefined) s.step = 0;
      m.push(this.tensorState(s, 'expAvg', p).id);
      v.push(this.tensorState(s, 'expAvgSq', p).id);
      if (g.amsgrad) vmax.push(this.tensorState(s, 'maxExpAvgSq', p).id);
      steps.push(this.nextStep(s));
    }
    ON.optimStep(g.decoupledWeightDecay ? 'adamw' : 'adam', ids(params), [m, v, vmax], steps,
      [g.lr, g.betas[0], g.betas[1], g.eps, g.weightDecay, flag(g.amsgrad), flag(g.maximize)]);
  }
}

const adamDefaults = (o: AdamOptions, wd: number, decoupled: boolean): AdamHypers => ({
  lr: o.lr ?? 1e-3, betas: o.betas ? [o.betas[0], o.betas[1]] : [0.9, 0.999], eps: o.eps ?? 1e-8,
  weightDecay: o.weightDecay ?? wd, amsgrad: o.amsgrad ?? false, maximize: o.maximize ?? false,
  decoupledWeightDecay: o.decoupledWeightDecay ?? decoupled,
});

/**
 * Adam (torch.optim.Adam): g = ∇ + λθ; m = β1·m + (1 − β1)g; v = β2·v + (1 − β2)g²;
 * θ = θ − lr/(1 − β1ᵗ) · m / (√v̂ / √(1 − β2ᵗ) + eps), v̂ = v or max(v̂, v) with amsgrad.
 * With decoupledWeightDecay (PyTorch 2.x's option) it is AdamW.
 */
export class Adam extends AdamBase {
  constructor(params: Params<AdamOptions>, options: AdamOptions = {}) {
    super('Adam', params as Params<AdamHypers>, adamDefaults(options, 0, false));
  }
}

/** AdamW (torch.optim.AdamW): Adam with decoupled weight decay θ = θ·(1 − lr·λ) before the update (λ default 1e-2). */
export class AdamW extends AdamBase {
  constructor(params: Params<Omit<AdamOptions, 'decoupledWeightDecay'>>, options: Omit<AdamOptions, 'decoupledWeightDecay'> = {}) {
    super('AdamW', params as Params<AdamHypers>, adamDefaults(options, 1e-2, true));
  }
}

// ---------------------------------------------------------------------------------------------- RMSprop

export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr?: number;
  /** Smoothing constant α (default 0.99). */
  alpha?: number;
  /** Term added to the denominator (default 1e-8). */
  eps?: number;
  /** L2 penalty (default 0). */
  weightDecay?: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Normalize by the estimated variance of the gradient (default false). */
  centered?: boolean;
  /** Maximize the objective (default false). */
  maximize?: boolean;
}
type RMSpropHypers = Required<RMSpropOptions>;

/**
 * RMSprop (torch.optim.RMSprop): v = αv + (1 − α)g²; avg = √(v − ḡ²) (centered, ḡ = αḡ + (1 − α)g) or √v,
 * plus eps; b = μb + g/avg, θ = θ − lr·b (momentum) or θ = θ − lr·g/avg.
 */
export class RMSprop extends Optimizer<RMSpropHypers> {
  /** PyTorch 1.13's RMSprop counts steps in a Python int, 2.x in a tensor. */
  protected override get tensorStep(): boolean {
    return versionAtLeast(2, 0);
  }
  constructor(params: Params<RMSpropOptions>, options: RMSpropOptions = {}) {
    super('RMSprop', params as Params<RMSpropHypers>, {
      lr: options.lr ?? 1e-2, alpha: options.alpha ?? 0.99, eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0, momentum: options.momentum ?? 0, centered: options.centered ?? false,
      maximize: options.maximize ?? false,
    });
  }
  protected override validate(g: RMSpropHypers & ParamGroupBase): void {
    super.validate(g);
    if (!(g.eps >= 0)) throw new TorchError(`RMSprop: Invalid epsilon value: ${g.eps}`);
    if (!(g.momentum >= 0)) throw new TorchError(`RMSprop: Invalid momentum value: ${g.momentum}`);
    if (!(g.weightDecay >= 0)) throw new TorchError(`RMSprop: Invalid weight_decay value: ${g.weightDecay}`);
    if (!(g.alpha >= 0)) throw new TorchError(`RMSprop: Invalid alpha value: ${g.alpha}`);
  }
  protected update(g: RMSpropHypers & ParamGroupBase, params: Tensor[]): void {
    const sq: Handle[] = [];
    const buf: Handle[] = [];
    const gavg: Handle[] = [];
    for (const p of params) {
      const s = this.stateOf(p);
      if (s.step === undefined) s.step = 0;
      sq.push(this.tensorState(s, 'squareAvg', p).id);
      if (g.momentum > 0) buf.push(this.tensorState(s, 'momentumBuffer', p).id);
      if (g.centered) gavg.push(this.tensorState(s, 'gradAvg', p).id);
      this.nextStep(s);
    }
    ON.optimStep('rmsprop', ids(params), [sq, buf, gavg], params.map(() => 0),
      [g.lr, g.alpha, g.eps, g.weightDecay, g.momentum, flag(g.centered), flag(g.maximize)]);
  }
}

// ---------------------------------------------------------------------------------------------- Adagrad

export interface AdagradOptions {
  /** Learning rate (default 1e-2). */
  lr?: number;
  /** Learning-rate decay: clr = lr / (1 + (t − 1)·lrDecay) (default 0). */
  lrDecay?: number;
  /** L2 penalty (default 0). */
  weightDecay?: number;
  /** Starting value of the squared-gradient sums (default 0). */
  initialAccumulatorValue?: number;
  /** Term added to the denominator (default 1e-10). */
  eps?: number;
  /** Maximize the objective (default false). */
  maximize?: boolean;
}
type AdagradHypers = Required<AdagradOptions>;

/** Adagrad (torch.optim.Adagrad): s = s + g²; θ = θ − clr · g / (√s + eps). State is created eagerly, as PyTorch does. */
export class Adagrad extends Optimizer<AdagradHypers> {
  constructor(params: Params<AdagradOptions>, options: AdagradOptions = {}) {
    super('Adagrad', params as Params<AdagradHypers>, {
      lr: options.lr ?? 1e-2, lrDecay: options.lrDecay ?? 0, weightDecay: options.weightDecay ?? 0,
      initialAccumulatorValue: options.initialAccumulatorValue ?? 0, eps: options.eps ?? 1e-10,
      maximize: options.maximize ?? false,
    });
    for (const g of this.paramGroups) for (const p of g.params) this.initState(g, p);
  }
  private initState(g: AdagradHypers & ParamGroupBase, p: Tensor): ParamState {
    const s = this.stateOf(p);
    if (s.step === undefined) s.step = 0;
    this.tensorState(s, 'sum', p, g.initialAccumulatorValue);
    return s;
  }
  protected override validate(g: AdagradHypers & ParamGroupBase): void {
    super.validate(g);
    if (!(g.lrDecay >= 0)) throw new TorchError(`Adagrad: Invalid lr_decay value: ${g.lrDecay}`);
    if (!(g.weightDecay >= 0)) throw new TorchError(`Adagrad: Invalid weight_decay value: ${g.weightDecay}`);
    if (!(g.initialAccumulatorValue >= 0)) throw new TorchError(`Adagrad: Invalid initial_accumulator_value value: ${g.initialAccumulatorValue}`);
    if (!(g.eps >= 0)) throw new TorchError(`Adagrad: Invalid epsilon value: ${g.eps}`);
  }
  protected update(g: AdagradHypers & ParamGroupBase, params: Tensor[]): void {
    const sums: Handle[] = [];
    const steps: number[] = [];
    for (const p of params) {
      const s = this.initState(g, p);
      sums.push((s.sum as Tensor).id);
      steps.push(this.nextStep(s));
    }
    ON.optimStep('adagrad', ids(params), [sums], steps,
      [g.lr, g.lrDecay, g.weightDecay, g.eps, flag(g.maximize)]);
  }
}
