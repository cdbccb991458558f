// Mixed precision: torch.autocast and torch.amp.GradScaler.
import { dtypeCode, dtypeName, type DType } from './dtype';
import { Validator, type NumberRule } from '../util/validate';
import { argError, formatValue, kindOf, TorchError } from './errors';
import { N as native } from './native';
import { asTensor, type Tensor } from './tensor';

interface AmpNative {
  autocastState(deviceType: string): [boolean, number];
  autocastSet(deviceType: string, enabled: boolean, dtype: number): void;
  autocastEnter(): number;
  autocastExit(): void;
}
const N = native as unknown as AmpNative;

export interface AutocastOptions {
  deviceType: 'cpu' | 'cuda';
  /** Lower-precision dtype: default float16 on cuda, bfloat16 on cpu (PyTorch's defaults). */
  dtype?: DType;
  /** false runs fn without autocast (handy to switch it off by a flag). */
  enabled?: boolean;
}

/**
 * Runs fn with autocast on: ops on PyTorch's lower-precision list (matmul, linear, conv, ...) compute in
 * `dtype`, those needing range (softmax, losses, reductions) in float32, as in PyTorch's autocast.
 * fn must be synchronous; the previous state is restored when it returns or throws.
 */
export function autocast<T>(options: AutocastOptions, fn: () => T): T {
  const { deviceType, enabled = true } = options ?? ({} as AutocastOptions);
  if (deviceType !== 'cpu' && deviceType !== 'cuda') argError('autocast', `deviceType must be 'cpu' or 'cuda', got ${String(deviceType)}`);
  if (typeof fn !== 'function') argError('autocast', 'fn must be a function');
  const dtype = options.dtype ?? (deviceType === 'cuda' ? 'float16' : 'bfloat16');
  const [wasEnabled, previousDtype] = N.autocastState(deviceType);
  N.autocastSet(deviceType, enabled, dtypeCode(dtype, 'autocast'));
  N.autocastEnter();
  try {
    const result = fn();
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      throw new TorchError('autocast(options, fn): fn returned a Promise; autocast regions are synchronous');
    }
    return result;
  } finally {
    N.autocastExit();
    N.autocastSet(deviceType, wasEnabled, previousDtype);
  }
}

/** Whether autocast is on for the device type, and its dtype. */
export function autocastState(deviceType: 'cpu' | 'cuda'): { enabled: boolean; dtype: DType } {
  const [enabled, dtype] = N.autocastState(deviceType);
  return { enabled, dtype: dtypeName(dtype) };
}

/** What GradScaler needs of an optimizer. */
export interface ScalableOptimizer {
  paramGroups: { params: Tensor[] }[];
  step(): unknown;
}

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  enabled?: boolean;
}

export interface GradScalerState {
  scale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  growthTracker: number;
}

/**
 * torch.amp.GradScaler: multiplies the loss by a scale so small float16 gradients do not flush to zero,
 * unscales the gradients before the optimizer step, skips steps whose gradients hold inf/NaN, and adapts
 * the scale: × backoffFactor after an overflow, × growthFactor after growthInterval clean steps.
 * Defaults are PyTorch's (2^16, 2, 0.5, 2000). The scale lives in JS (reading overflow flags syncs the
 * device once per step, where PyTorch keeps them on the device).
 */
export class GradScaler {
  private scaleValue: number;
  private growthTracker = 0;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  readonly enabled: boolean;
  /** Per optimizer: whether its gradients were unscaled this step and whether they overflowed. */
  private perOptimizer = new Map<ScalableOptimizer, { unscaled: boolean; foundInf: boolean }>();

  constructor(options: GradScalerOptions = {}) {
    checkScaler(options, 'options', ['initScale', 'growthFactor', 'backoffFactor', 'growthInterval', 'enabled']);
    this.scaleValue = options.initScale ?? 2 ** 16;
    this.growthFactor = options.growthFactor ?? 2;
    this.backoffFactor = options.backoffFactor ?? 0.5;
    this.growthInterval = options.growthInterval ?? 2000;
    this.enabled = options.enabled ?? true;
  }

  /** outputs × scale (unchanged when disabled). */
  scale(outputs: Tensor): Tensor;
  scale(outputs: Tensor[]): Tensor[];
  scale(outputs: Tensor | Tensor[]): Tensor | Tensor[] {
    if (Array.isArray(outputs)) return outputs.map((o) => this.scale(o));
    const t = asTensor(outputs, 'GradScaler.scale', 'outputs');
    return this.enabled ? t.mul(this.scaleValue) : t;
  }

  getScale(): number {
    return this.enabled ? this.scaleValue : 1;
  }

  /** Divides the optimizer's gradients by the scale (once per step) and records whether any overflowed. */
  unscale_(optimizer: ScalableOptimizer): void {
    checkOptimizer(optimizer, 'GradScaler.unscale_');
    if (!this.enabled) return;
    const state = this.perOptimizer.get(optimizer);
    if (state?.unscaled) throw new TorchError('unscale_() has already been called on this optimizer since the last update().');
    let foundInf = false;
    const inv = 1 / this.scaleValue;
    for (const group of optimizer.paramGroups) {
      for (const p of group.params) {
        const g = p.grad;
        if (g === null) continue;
        const finite = g.isfinite().all();
        if (finite.item() === 0) foundInf = true;
        finite.dispose();
        g.mul_(inv);
        g.dispose();
      }
    }
    this.perOptimizer.set(optimizer, { unscaled: true, foundInf });
  }

  /** Unscales if needed, then runs optimizer.step() unless the gradients overflowed. */
  step(optimizer: ScalableOptimizer): unknown {
    checkOptimizer(optimizer, 'GradScaler.step');
    if (!this.enabled) return optimizer.step();
    if (!this.perOptimizer.get(optimizer)?.unscaled) this.unscale_(optimizer);
    return this.perOptimizer.get(optimizer)!.foundInf ? undefined : optimizer.step();
  }

  /** Adapts the scale after the step(s) of this iteration (or sets newScale). */
  update(newScale?: number): void {
    if (!this.enabled) return;
    if (newScale !== undefined) {
      if (typeof newScale !== 'number' || !(newScale > 0) || !Number.isFinite(newScale)) {
        argError('GradScaler.update', `newScale must be a positive finite number, got ${formatValue(newScale)}`);
      }
      this.scaleValue = newScale;
    } else {
      const foundInf = [...this.perOptimizer.values()].some((s) => s.foundInf);
      if (foundInf) {
        this.scaleValue *= this.backoffFactor;
        this.growthTracker = 0;
      } else if (++this.growthTracker === this.growthInterval) {
        this.scaleValue *= this.growthFactor;
        this.growthTracker = 0;
      }
    }
    this.perOptimizer.clear();
  }

  stateDict(): GradScalerState {
    return {
      scale: this.scaleValue, growthFactor: this.growthFactor, backoffFactor: this.backoffFactor,
      growthInterval: this.growthInterval, growthTracker: this.growthTracker,
    };
  }

  loadStateDict(state: GradScalerState): void {
    const keys = ['scale', 'growthFactor', 'backoffFactor', 'growthInterval', 'growthTracker'];
    checkScaler(state, 'state', keys, keys);
    ({ scale: this.scaleValue, growthFactor: this.growthFactor, backoffFactor: this.backoffFactor,
      growthInterval: this.growthInterval, growthTracker: this.growthTracker } = state);
  }
}

function checkOptimizer(optimizer: unknown, op: string): void {
  const o = optimizer as Partial<ScalableOptimizer> | null;
  if (o === null || typeof o !== 'object' || !Array.isArray(o.paramGroups) || typeof o.step !== 'function') {
    argError(op, `optimizer must be an optimizer (with paramGroups and step()), got ${kindOf(optimizer)}`);
  }
}

/**
 * Checks GradScaler options or a state: the scale positive and finite, growthFactor > 1 (as PyTorch
 * asserts), backoffFactor in (0, 1), growthInterval a positive integer, growthTracker a non-negative one;
 * unknown keys are errors.
 */
function checkScaler(value: unknown, path: string, allowed: string[], required: string[] = []): void {
  const v = new Validator();
  const o = v.object(value, path, allowed);
  if (o !== undefined) {
    for (const k of required) v.required(o, k, path, 'a GradScaler.stateDict() field');
    const rules: Record<string, NumberRule> = {
      initScale: { gt: 0 }, scale: { gt: 0 }, growthFactor: { gt: 1 }, backoffFactor: { gt: 0 },
      growthInterval: { integer: true, min: 1 }, growthTracker: { integer: true, min: 0 },
    };
    for (const [k, x] of Object.entries(o)) {
      if (x === undefined) continue;
      if (k === 'enabled') v.boolean(x, `${path}.${k}`);
      else if (v.number(x, `${path}.${k}`, rules[k]) !== undefined && k === 'backoffFactor' && (x as number) >= 1) {
        v.fail(`${path}.${k}`, `must be < 1, got ${x}`);
      }
    }
  }
  v.throwIfAny('GradScaler: invalid options');
}
