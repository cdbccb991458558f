// torch.autograd: backward and grad, grad modes, tensor autograd state (grad, gradFn, isLeaf, hooks; the
// detach ops are in the op table), custom differentiable Functions written in JS, and a finite-difference
// gradcheck.
//
// backward() and grad() run libtorch's engine on a separate native thread while the JS thread waits and
// runs the JS callbacks (tensor hooks, Function backwards) the engine asks for (see native/autograd.cc).
// Each callback runs inside a tidy scope: the tensors it is handed and the temporaries it creates are
// freed when it returns (use torch.keep to hold on to one); what it returns is handed to the engine first.
import { tensor as makeTensor } from './creation';
import { argError, kindOf, TorchError } from './errors';
import { tidy } from './memory';
import { N as addon, type Handle } from './native';
import { isOptions, Tensor, wrap } from './tensor';

type Opt<T> = T | null | undefined;

/** The native functions of native/autograd.cc. */
interface AutogradNative {
  free(h: Handle): boolean;
  autogradInit(dispatch: (id: number, tensors: (Handle | null)[], flags: boolean[]) => void): void;
  autogradSetResult(tensors: (Handle | null)[]): void;
  autogradDrainDead(): number[];
  backward(tensors: Handle[], grads: (Handle | null)[], retainGraph: Opt<boolean>, createGraph: Opt<boolean>,
    inputs: Handle[]): void;
  grad(outputs: Handle[], inputs: Handle[], gradOutputs: (Handle | null)[], retainGraph: Opt<boolean>,
    createGraph: Opt<boolean>, allowUnused: Opt<boolean>): (Handle | null)[];
  functionApply(id: number, name: string, inputs: Handle[], outputs: Handle[], saved: (Handle | null)[],
    nonDifferentiable: boolean[], materializeGrads: boolean): Handle[];
  registerHook(h: Handle, id: number): number;
  removeHook(h: Handle, index: number): void;
  getGrad(h: Handle): Handle | null;
  setGrad(h: Handle, grad: Handle | null): void;
  retainGrad(h: Handle): void;
  retainsGrad(h: Handle): boolean;
  isLeaf(h: Handle): boolean;
  gradFn(h: Handle): string | null;
  isInference(h: Handle): boolean;
  isGradEnabled(): boolean;
  setGradEnabled(mode: boolean): void;
  enterInferenceMode(mode: boolean): void;
  exitInferenceMode(): void;
  isInferenceModeEnabled(): boolean;
  setDetectAnomaly(mode: boolean): void;
  isAnomalyEnabled(): boolean;
}

const N = addon as unknown as AutogradNative;

// ------------------------------------------------------------------------------------ JS callbacks

/** A callback the engine runs: it gets new tensor handles (or null) and answers with autogradSetResult. */
type Callback = (handles: (Handle | null)[], flags: boolean[]) => void;

const callbacks = new Map<number, Callback>();
let nextCallbackId = 1;

function dispatch(id: number, handles: (Handle | null)[], flags: boolean[]): void {
  const callback = callbacks.get(id);
  if (callback === undefined) {
    // A removed hook: hand the tensors back (the native side keeps the gradient as it is).
    for (const h of handles) if (h !== null) N.free(h);
    return;
  }
  callback(handles, flags);
}

N.autogradInit(dispatch);

/** Forgets the callbacks of backward nodes and hooks that libtorch has destroyed. */
function drainDead(): void {
  for (const id of N.autogradDrainDead()) callbacks.delete(id);
}

/** Callbacks still registered (nodes and hooks alive), for leak tests. */
export function liveCallbacks(): number {
  drainDead();
  return callbacks.size;
}

function tensorList(v: Tensor | readonly Tensor[], op: string, name: string): Tensor[] {
  const list = v instanceof Tensor ? [v] : v;
  if (!Array.isArray(list)) argError(op, `argument '${name}' must be a Tensor or an array of Tensors, got ${kindOf(v)}`);
  // Index by index, not forEach/map: those walk every hole of a sparse array (2^32 - 1 of them would hang).
  for (let i = 0; i < list.length; i++) {
    if (!(list[i] instanceof Tensor)) argError(op, `argument '${name}' entry ${i} must be a Tensor, got ${kindOf(list[i])}`);
  }
  return list;
}

/** The handles of an optional list of count tensors (null entries allowed), as PyTorch's grad_tensors. */
function optTensorList(v: Opt<Tensor | readonly (Tensor | null | undefined)[]>, count: number, op: string, name: string,
  mismatch: (n: number) => string): (Handle | null)[] {
  if (v === null || v === undefined) return [];
  const list = v instanceof Tensor ? [v] : v;
  if (!Array.isArray(list)) argError(op, `argument '${name}' must be a Tensor or an array of Tensors, got ${kindOf(v)}`);
  if (list.length !== count) argError(op, mismatch(list.length));
  const out: (Handle | null)[] = [];
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (t === null || t === undefined) out.push(null);
    else if (t instanceof Tensor) out.push(t.id);
    else argError(op, `argument '${name}' entry ${i} must be a Tensor or null, got ${kindOf(t)}`);
  }
  return out;
}

// ------------------------------------------------------------------------------------ backward / grad

export interface BackwardOptions {
  /** The gradient of the tensor(s) backward starts from; needed unless they are scalars. */
  gradient?: Tensor | null;
  /** Keep the graph's saved tensors for another backward (default: createGraph). */
  retainGraph?: boolean | null;
  /** Record the backward pass itself, for higher-order derivatives (default false). */
  createGraph?: boolean;
  /** Accumulate into these tensors' .grad only (default: every leaf of the graph). */
  inputs?: Tensor | Tensor[];
}

export interface GradOptions {
  /** The "vector" of the vector-Jacobian product, one per output (needed for non-scalar outputs). */
  gradOutputs?: Tensor | (Tensor | null)[] | null;
  /** Keep the graph's saved tensors for another backward (default: createGraph). */
  retainGraph?: boolean | null;
  /** Record the gradient computation, for higher-order derivatives (default false). */
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on, instead of throwing (default false). */
  allowUnused?: boolean;
}

/**
 * Computes the sum of gradients of tensors w.r.t. the graph leaves and accumulates them into the leaves'
 * .grad (torch.autograd.backward). gradTensors: one per tensor (null for scalars).
 */
export function backward(
  tensors: Tensor | Tensor[],
  gradTensors?: Tensor | (Tensor | null)[] | null | BackwardOptions,
  options: Omit<BackwardOptions, 'gradient'> = {},
): void {
  if (isOptions(gradTensors)) {
    options = gradTensors;
    gradTensors = (gradTensors as BackwardOptions).gradient;
  }
  const list = tensorList(tensors, 'backward', 'tensors');
  const grads = optTensorList(gradTensors as Opt<Tensor | (Tensor | null)[]>, list.length, 'backward', 'gradTensors',
    (n) => `got ${list.length} tensors and ${n} gradients`);
  const inputs = options.inputs === undefined ? [] : tensorList(options.inputs, 'backward', 'inputs');
  if (options.inputs !== undefined && inputs.length === 0) {
    argError('backward', "'inputs' argument to backward() cannot be empty");
  }
  try {
    N.backward(list.map((t) => t.id), grads, options.retainGraph, options.createGraph ?? false, inputs.map((t) => t.id));
  } finally {
    drainDead();
  }
}

/**
 * The gradients of outputs w.r.t. inputs (torch.autograd.grad), without touching .grad. With allowUnused,
 * null for inputs the outputs do not depend on.
 */
export function grad(
  outputs: Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  gradOutputs?: Tensor | (Tensor | null)[] | null | (GradOptions & { allowUnused?: false }),
  options?: GradOptions & { allowUnused?: false },
): Tensor[];
export function grad(
  outputs: Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  gradOutputs?: Tensor | (Tensor | null)[] | null | GradOptions,
  options?: GradOptions,
): (Tensor | null)[];
export function grad(
  outputs: Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  gradOutputs?: Tensor | (Tensor | null)[] | null | GradOptions,
  options: GradOptions = {},
): (Tensor | null)[] {
  if (isOptions(gradOutputs)) options = gradOutputs as GradOptions;
  else options = { ...options, gradOutputs: gradOutputs as Opt<Tensor | (Tensor | null)[]> };
  const outs = tensorList(outputs, 'grad', 'outputs');
  const ins = tensorList(inputs, 'grad', 'inputs');
  const gradOuts = optTensorList(options.gradOutputs, outs.length, 'grad', 'gradOutputs',
    (n) => `grad_outputs has ${n} entries but there are ${outs.length} outputs`);
  let handles: (Handle | null)[];
  try {
    handles = N.grad(outs.map((t) => t.id), ins.map((t) => t.id), gradOuts, options.retainGraph,
      options.createGraph ?? false, options.allowUnused ?? false);
  } finally {
    drainDead();
  }
  return handles.map((h) => (h === null ? null : wrap(h)));
}

// ------------------------------------------------------------------------------------------ grad modes

function isThenable(v: unknown): boolean {
  return v !== null && (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function';
}

function checkFn(fn: unknown, op: string): void {
  if (typeof fn !== 'function') argError(op, `fn must be a function, got ${kindOf(fn)}`);
}

function checkSync<T>(result: T, op: string): T {
  if (isThenable(result)) {
    throw new TorchError(`${op}(fn): fn returned a Promise. The mode is restored when fn returns, so it does ` +
      'not cover code after an await; wrap the synchronous parts instead.');
  }
  return result;
}

/** Runs fn (synchronous) inside a mode: enter() switches it on and returns what restores it, even if fn throws. */
function inMode<T>(op: string, fn: (() => T) | undefined, enter: () => () => void): T {
  checkFn(fn, op);
  const restore = enter();
  let result: T;
  try {
    result = (fn as () => T)();
  } finally {
    restore();
  }
  return checkSync(result, op);
}

function withGradMode<T>(mode: boolean, fn: () => T, op: string): T {
  return inMode(op, fn, gradModeEnter(mode));
}

/** Whether operations record a graph for autograd (thread-local, default true). */
export function isGradEnabled(): boolean {
  return N.isGradEnabled();
}

/** Turns graph recording on or off for this thread (torch.set_grad_enabled). */
export function setGradEnabled(mode: boolean): void {
  if (typeof mode !== 'boolean') argError('setGradEnabled', `mode must be a boolean, got ${kindOf(mode)}`);
  N.setGradEnabled(mode);
}

/** A grad-mode scope for `using`: the mode is restored when the block ends. */
export interface GradModeScope extends Disposable {
  /** Restores the previous mode now (idempotent). */
  [Symbol.dispose](): void;
}

/** Switches a mode on until the returned scope is disposed (PyTorch's `with torch.no_grad():`). */
function modeScope(enter: () => () => void): GradModeScope {
  let restore: (() => void) | null = enter();
  return {
    [Symbol.dispose]() {
      if (restore === null) return;
      const r = restore;
      restore = null;
      r();
    },
  };
}

const gradModeEnter = (mode: boolean) => () => {
  const previous = N.isGradEnabled();
  N.setGradEnabled(mode);
  return () => N.setGradEnabled(previous);
};

/**
 * Graph recording off: `noGrad(fn)` runs fn (synchronous) and returns its result; `using _ = noGrad()`
 * turns it off until the end of the block (PyTorch's `with torch.no_grad():`). The mode is restored even
 * if fn or the block throws.
 */
export function noGrad(): GradModeScope;
export function noGrad<T>(fn: () => T): T;
export function noGrad<T>(fn?: () => T): T | GradModeScope {
  // noGrad() is the scope; noGrad(undefined) is a missing callback, an error as any other non-function.
  if (arguments.length === 0) return modeScope(gradModeEnter(false));
  return withGradMode(false, fn as () => T, 'noGrad');
}

/** Graph recording on, e.g. inside noGrad: `enableGrad(fn)`, or `using _ = enableGrad()` for a block. */
export function enableGrad(): GradModeScope;
export function enableGrad<T>(fn: () => T): T;
export function enableGrad<T>(fn?: () => T): T | GradModeScope {
  if (arguments.length === 0) return modeScope(gradModeEnter(true));
  return withGradMode(true, fn as () => T, 'enableGrad');
}

/**
 * Runs fn (synchronous) in inference mode: no graph recording and cheaper tensors, which can never be used in
 * autograd later (torch.inference_mode). inferenceMode(false, fn) turns it off inside an inference-mode block.
 */
export function inferenceMode(mode?: boolean): GradModeScope;
export function inferenceMode<T>(fn: () => T): T;
export function inferenceMode<T>(mode: boolean, fn: () => T): T;
export function inferenceMode<T>(modeOrFn?: boolean | (() => T), maybeFn?: () => T): T | GradModeScope {
  const mode = typeof modeOrFn === 'boolean' ? modeOrFn : true;
  const fn = typeof modeOrFn === 'boolean' || modeOrFn === undefined ? maybeFn : modeOrFn;
  const enter = () => {
    N.enterInferenceMode(mode);
    return () => N.exitInferenceMode();
  };
  if (arguments.length === 0 || (arguments.length === 1 && typeof modeOrFn === 'boolean')) return modeScope(enter);
  return inMode('inferenceMode', fn, enter);
}

/** Whether inference mode is on in this thread. */
export function isInferenceModeEnabled(): boolean {
  return N.isInferenceModeEnabled();
}

/**
 * Anomaly detection (global): backward then checks every function's results for NaN and reports which
 * function produced them.
 */
export function setDetectAnomaly(mode: boolean): void {
  if (typeof mode !== 'boolean') argError('setDetectAnomaly', `mode must be a boolean, got ${kindOf(mode)}`);
  N.setDetectAnomaly(mode);
}

export function isAnomalyEnabled(): boolean {
  return N.isAnomalyEnabled();
}

/** Runs fn (synchronous) with anomaly detection on, then restores the previous setting. */
export function detectAnomaly<T>(fn: () => T): T {
  return inMode('detectAnomaly', fn, () => {
    const previous = N.isAnomalyEnabled();
    N.setDetectAnomaly(true);
    return () => N.setDetectAnomaly(previous);
  });
}

// ------------------------------------------------------------------------------- Tensor augmentation

/** What registerHook returns (PyTorch's RemovableHandle). */
export interface RemovableHandle {
  remove(): void;
}

/** A tensor hook: gets the gradient, returns a replacement or nothing (keep it). */
export type TensorHook = (grad: Tensor) => Tensor | undefined | null | void;

declare module './tensor' {
  interface Tensor {
    /**
     * Computes the gradient of this tensor w.r.t. the graph leaves, accumulating into their .grad.
     * t.backward(), t.backward(gradient), t.backward({ gradient, retainGraph, createGraph, inputs }),
     * t.backward(gradient, { retainGraph }), t.backward(null, true) (positional, as in PyTorch).
     */
    backward(gradient?: Tensor | null | BackwardOptions, options?: Omit<BackwardOptions, 'gradient'>): void;
    /** PyTorch's positional form: t.backward(gradient, retainGraph, createGraph, inputs). */
    backward(gradient: Tensor | null | undefined, retainGraph?: boolean | null, createGraph?: boolean,
      inputs?: Tensor | Tensor[]): void;
    /**
     * The accumulated gradient (null until a backward reaches this leaf, or for non-leaves without
     * retainGrad()). Each read returns a new Tensor object sharing the gradient's memory. Assign a tensor
     * of the same shape, dtype and device, or null.
     */
    grad: Tensor | null;
    /** Makes backward populate .grad of this non-leaf tensor. */
    retainGrad(): void;
    /** Whether retainGrad() was called on this non-leaf tensor. */
    readonly retainsGrad: boolean;
    /** True for tensors not produced by a recorded op (user-created, or not requiring grad). */
    readonly isLeaf: boolean;
    /** The name of the backward function that created this tensor ('AddBackward0'...), or null for leaves. */
    readonly gradFn: string | null;
    /** Whether this tensor was created in inference mode. */
    isInference(): boolean;
    /**
     * Registers fn to run when this tensor's gradient is computed; it may return a replacement gradient.
     * The hook runs inside a tidy scope (tensors it creates and does not return are freed).
     */
    registerHook(fn: TensorHook): RemovableHandle;
  }
}

Tensor.prototype.backward = function backwardMethod(
  this: Tensor,
  gradient?: Tensor | null | BackwardOptions,
  retainGraph?: boolean | null | Omit<BackwardOptions, 'gradient'>,
  createGraph?: boolean,
  inputs?: Tensor | Tensor[],
): void {
  if (isOptions(gradient)) {
    const o = gradient as BackwardOptions;
    backward(this, o.gradient ?? null, o);
    return;
  }
  const options: Omit<BackwardOptions, 'gradient'> = isOptions(retainGraph)
    ? retainGraph as Omit<BackwardOptions, 'gradient'>
    : { retainGraph: retainGraph as boolean | null | undefined, createGraph, inputs };
  backward(this, (gradient as Tensor | null | undefined) ?? null, options);
};

Object.defineProperty(Tensor.prototype, 'grad', {
  configurable: true,
  get(this: Tensor): Tensor | null {
    const h = N.getGrad(this.id);
    return h === null ? null : wrap(h);
  },
  set(this: Tensor, value: Tensor | null | undefined) {
    if (value !== null && value !== undefined && !(value instanceof Tensor)) {
      argError('grad', `assigned grad must be a Tensor or null, got ${kindOf(value)}`);
    }
    N.setGrad(this.id, value ? value.id : null);
  },
});

Object.defineProperty(Tensor.prototype, 'retainsGrad', {
  configurable: true,
  get(this: Tensor): boolean {
    return N.retainsGrad(this.id);
  },
});

Object.defineProperty(Tensor.prototype, 'isLeaf', {
  configurable: true,
  get(this: Tensor): boolean {
    return N.isLeaf(this.id);
  },
});

Object.defineProperty(Tensor.prototype, 'gradFn', {
  configurable: true,
  get(this: Tensor): string | null {
    return N.gradFn(this.id);
  },
});

Tensor.prototype.retainGrad = function retainGrad(this: Tensor): void {
  N.retainGrad(this.id);
};

Tensor.prototype.isInference = function isInference(this: Tensor): boolean {
  return N.isInference(this.id);
};

Tensor.prototype.registerHook = function registerHook(this: Tensor, fn: TensorHook): RemovableHandle {
  if (typeof fn !== 'function') argError('registerHook', `hook must be a function, got ${kindOf(fn)}`);
  drainDead();
  const id = nextCallbackId++;
  callbacks.set(id, (handles) => {
    tidy(() => {
      const gradient = wrap(handles[0] as Handle);
      const shape = gradient.shape;
      const result = fn(gradient);
      if (result === undefined || result === null) {
        N.autogradSetResult([null]);
        return;
      }
      if (!(result instanceof Tensor)) {
        throw new TorchError(`registerHook(): a hook must return a Tensor or undefined, got ${kindOf(result)}`);
      }
      const got = result.shape;
      if (got.length !== shape.length || got.some((s, i) => s !== shape[i])) {
        throw new TorchError(`registerHook(): hook has changed the size of value (from [${shape.join(', ')}] ` +
          `to [${got.join(', ')}])`);
      }
      N.autogradSetResult([result.id]);
    });
  });
  let index: number;
  try {
    index = N.registerHook(this.id, id);
  } catch (e) {
    callbacks.delete(id);
    throw e;
  }
  const target = new WeakRef(this);
  return {
    remove(): void {
      if (!callbacks.delete(id)) return;
      const t = target.deref();
      if (t !== undefined && !t.isDisposed) N.removeHook(t.id, index);
    },
  };
};

// --------------------------------------------------------------------------------- custom Functions

/** What a Function's backward returns: one gradient per forward argument (null for none). */
export type GradientsReturn = Tensor | null | undefined | (Tensor | null | undefined)[];

/**
 * The context of a custom Function: forward saves what backward needs; backward reads it. Other properties
 * may be set freely (ctx.k = 3) for non-tensor state; tensors belong in saveForBackward (tensors created in
 * forward and only stored on ctx are freed when forward returns).
 */
export interface FunctionCtx {
  /** Saves tensors (inputs, outputs or intermediates) for backward; null entries are kept as null. */
  saveForBackward(...tensors: (Tensor | null | undefined)[]): void;
  /** In backward: the saved tensors, in order. */
  readonly savedTensors: (Tensor | null)[];
  /**
   * One flag per forward argument: whether its gradient is needed (false for non-tensors). In backward it
   * reflects what the current backward pass needs.
   */
  readonly needsInputGrad: boolean[];
  /** Marks outputs as not differentiable: they get no grad_fn, and their gradient in backward is zero. */
  markNonDifferentiable(...tensors: Tensor[]): void;
  /** Whether backward gets zeros (default) or null for outputs that received no gradient. */
  setMaterializeGrads(value: boolean): void;
  [key: string]: unknown;
}

class Ctx implements FunctionCtx {
  [key: string]: unknown;
  #saved: (Tensor | null)[] = [];
  #needs: boolean[] = [];
  #nonDifferentiable = new Set<Tensor>();
  #materialize = true;

  saveForBackward(...tensors: (Tensor | null | undefined)[]): void {
    tensors.forEach((t, i) => {
      if (t !== null && t !== undefined && !(t instanceof Tensor)) {
        argError('saveForBackward', `argument ${i} must be a Tensor or null, got ${kindOf(t)}`);
      }
    });
    this.#saved = tensors.map((t) => t ?? null);
  }
  get savedTensors(): (Tensor | null)[] {
    return this.#saved;
  }
  get needsInputGrad(): boolean[] {
    return this.#needs;
  }
  markNonDifferentiable(...tensors: Tensor[]): void {
    for (const t of tensors) this.#nonDifferentiable.add(t);
  }
  setMaterializeGrads(value: boolean): void {
    this.#materialize = value;
  }

  /** @internal */
  static internals(ctx: Ctx) {
    return {
      setSaved: (s: (Tensor | null)[]) => { ctx.#saved = s; },
      setNeeds: (n: boolean[]) => { ctx.#needs = n; },
      nonDifferentiable: ctx.#nonDifferentiable,
      materialize: () => ctx.#materialize,
    };
  }
}

type ForwardFn = (ctx: FunctionCtx, ...args: never[]) => Tensor | Tensor[];
type BackwardFn = (ctx: FunctionCtx, ...gradOutputs: Tensor[]) => GradientsReturn;

function applyFunction(name: string, forward: ForwardFn, backwardFn: BackwardFn, args: unknown[]): Tensor | Tensor[] {
  drainDead();
  const ctx = new Ctx();
  const internals = Ctx.internals(ctx);
  const isTensorArg = args.map((a) => a instanceof Tensor);
  const tensorArgs = args.filter((a): a is Tensor => a instanceof Tensor);
  const gradOn = N.isGradEnabled();
  const needs = args.map((a) => gradOn && a instanceof Tensor && a.requiresGrad);
  internals.setNeeds(needs);
  const callForward = () => {
    const out = (forward as (ctx: FunctionCtx, ...args: unknown[]) => unknown)(ctx, ...args);
    const list = out instanceof Tensor ? [out] : out;
    if (!Array.isArray(list) || list.length === 0 || !list.every((t) => t instanceof Tensor)) {
      throw new TorchError(`${name}.forward must return a Tensor or a non-empty array of Tensors, got ${kindOf(out)}`);
    }
    return { single: out instanceof Tensor, list: list as Tensor[] };
  };
  if (!needs.some(Boolean)) {
    // Nothing to differentiate: forward runs (without recording, as always) and no node is made.
    const { single, list } = withGradMode(false, callForward, name);
    return single ? list[0] : list;
  }

  const id = nextCallbackId++;
  let single = true;
  let handles: Handle[] = [];
  tidy(() => {
    const result = withGradMode(false, callForward, name);
    single = result.single;
    const outputs = result.list;
    const nOut = outputs.length;
    const saved = ctx.savedTensors.map((t) => (t === null ? null : t.id));
    const nonDiff = outputs.map((t) => internals.nonDifferentiable.has(t));
    callbacks.set(id, (tensorHandles, flags) => {
      tidy(() => {
        const tensors = tensorHandles.map((h) => (h === null ? null : wrap(h)));
        let k = 0;
        internals.setNeeds(isTensorArg.map((isT) => (isT ? flags[k++] : false)));
        internals.setSaved(tensors.slice(nOut));
        let grads: GradientsReturn;
        try {
          grads = backwardFn(ctx, ...(tensors.slice(0, nOut) as Tensor[]));
        } finally {
          internals.setSaved([]);
        }
        const list = Array.isArray(grads) ? grads : [grads];
        if (list.length < args.length) {
          throw new TorchError(`${name}.backward returned an incorrect number of gradients ` +
            `(expected ${args.length}, got ${list.length})`);
        }
        const out: (Handle | null)[] = [];
        list.forEach((g, i) => {
          const isNone = g === null || g === undefined;
          if (!isNone && !(g instanceof Tensor)) {
            throw new TorchError(`${name}.backward must return Tensors or null, got ${kindOf(g)} at position ${i}`);
          }
          if (i >= args.length || !isTensorArg[i]) {
            if (!isNone) {
              throw new TorchError(`${name}.backward returned a gradient different than null at position ${i}, ` +
                'but the corresponding forward input was not a Tensor');
            }
            return;
          }
          out.push(isNone ? null : (g as Tensor).id);
        });
        N.autogradSetResult(out);
      });
    });
    try {
      handles = N.functionApply(id, name, tensorArgs.map((t) => t.id), outputs.map((t) => t.id), saved, nonDiff,
        internals.materialize());
    } catch (e) {
      callbacks.delete(id);
      throw e;
    } finally {
      internals.setSaved([]);
      internals.nonDifferentiable.clear();
    }
  });
  const outs = handles.map((h) => wrap(h));
  return single ? outs[0] : outs;
}

/** The arguments of a forward function after ctx. */
type ArgsOf<F> = F extends (ctx: FunctionCtx, ...args: infer A) => unknown ? A : never;

/** A defined custom Function: call apply with forward's arguments (after ctx). */
export interface DefinedFunction<A extends unknown[], R extends Tensor | Tensor[]> {
  readonly name: string;
  apply(...args: A): R;
}

export interface FunctionDefinition<A extends unknown[], R extends Tensor | Tensor[]> {
  /** Used for gradFn: `${name}Backward` (default 'JsFunction'). */
  name?: string;
  /** Computes the outputs (graph recording is off here). Non-tensor arguments are passed through. */
  forward(ctx: FunctionCtx, ...args: A): R;
  /**
   * Gets one gradient per output (zeros for outputs that got none, unless ctx.setMaterializeGrads(false),
   * then null) and returns one gradient per forward argument (null for non-tensors and unneeded ones).
   */
  backward(ctx: FunctionCtx, ...gradOutputs: Tensor[]): GradientsReturn;
}

interface FunctionClass {
  readonly name: string;
  forward(ctx: FunctionCtx, ...args: never[]): Tensor | Tensor[];
  backward(ctx: FunctionCtx, ...gradOutputs: Tensor[]): GradientsReturn;
}

/**
 * Custom differentiable functions with a JS backward, as torch.autograd.Function:
 *
 *   const Square = torch.autograd.Function.define({
 *     forward(ctx, x: Tensor) { ctx.saveForBackward(x); return x.mul(x); },
 *     backward(ctx, g) { const [x] = ctx.savedTensors; return g.mul(x!).mul(2); },
 *   });
 *   const y = Square.apply(x);
 *
 * or PyTorch's class style: class Square extends torch.autograd.Function { static forward(ctx, x) {...}
 * static backward(ctx, g) {...} }, then Square.apply(x).
 */
export class Function {
  static define<A extends unknown[], R extends Tensor | Tensor[]>(def: FunctionDefinition<A, R>): DefinedFunction<A, R> {
    if (def === null || typeof def !== 'object' || typeof def.forward !== 'function' || typeof def.backward !== 'function') {
      argError('Function.define', 'expected { forward(ctx, ...args), backward(ctx, ...gradOutputs) }');
    }
    const base = def.name ?? 'JsFunction';
    const nodeName = `${base}Backward`;
    const forward = def.forward.bind(def) as unknown as ForwardFn;
    const backwardFn = def.backward.bind(def) as BackwardFn;
    return {
      name: base,
      apply: (...args: A): R => applyFunction(nodeName, forward, backwardFn, args) as R,
    };
  }

  static apply<T extends FunctionClass>(this: T, ...args: ArgsOf<T['forward']>): ReturnType<T['forward']> {
    if (typeof this.forward !== 'function' || typeof this.backward !== 'function') {
      argError('Function.apply', 'a Function subclass must define static forward(ctx, ...) and backward(ctx, ...)');
    }
    const forward = this.forward.bind(this);
    const backwardFn = this.backward.bind(this);
    return applyFunction(`${this.name}Backward`, forward, backwardFn, args) as ReturnType<T['forward']>;
  }
}

// ----------------------------------------------------------------------------------------- gradcheck

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** Throw a TorchError describing the first mismatch instead of returning false (default true). */
  raiseException?: boolean;
}

function flatValues(t: Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);
}

/**
 * Compares the gradients autograd computes for fn at inputs with central finite differences, for every
 * input that requires grad (use float64 inputs). Returns true when every Jacobian entry matches within
 * atol + rtol·|numerical|; otherwise throws (or returns false with raiseException: false).
 */
export function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  options: GradcheckOptions = {},
): boolean {
  checkFn(fn, 'gradcheck');
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  const raise = options.raiseException ?? true;
  const ins = tensorList(inputs, 'gradcheck', 'inputs');
  const diff = ins.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  if (diff.length === 0) argError('gradcheck', 'gradcheck expects at least one input tensor to require gradient');
  for (const i of diff) {
    const dtype = ins[i].dtype;
    if (dtype !== 'float64' && dtype !== 'float32') {
      argError('gradcheck', `input ${i} has dtype ${dtype}; gradcheck supports float64 (and float32) inputs`);
    }
  }
  const asList = (out: Tensor | Tensor[]): Tensor[] => tensorList(out, 'gradcheck', 'fn result');

  // Numerical Jacobians: numerical[i][o][j * nOut + k] = d out_o[k] / d in_i[j].
  const evaluate = (replaced: Tensor[]): number[][] =>
    tidy(() => noGrad(() => asList(fn(...replaced)).map(flatValues)));
  const outNumel = evaluate(ins).map((v) => v.length);
  const numerical: number[][][] = diff.map((i) => {
    const base = flatValues(ins[i]);
    const columns: number[][] = outNumel.map((n) => new Array<number>(n * base.length).fill(0));
    for (let j = 0; j < base.length; j++) {
      const at = (delta: number) => {
        const values = base.slice();
        values[j] += delta;
        return tidy(() => {
          const x = makeTensor(new Float64Array(values), { shape: ins[i].shape, dtype: ins[i].dtype });
          return evaluate(ins.map((t, k) => (k === i ? x : t)));
        });
      };
      const plus = at(eps);
      const minus = at(-eps);
      plus.forEach((p, o) => {
        for (let k = 0; k < p.length; k++) columns[o][j * p.length + k] = (p[k] - minus[o][k]) / (2 * eps);
      });
    }
    return columns;
  });

  // Analytical Jacobians, one vector-Jacobian product per output element.
  const analytical: number[][][] = diff.map((i) => outNumel.map((n) => new Array<number>(n * ins[i].numel()).fill(0)));
  tidy(() => {
    const outs = asList(fn(...ins));
    outs.forEach((out, o) => {
      if (!out.requiresGrad) return;
      const n = outNumel[o];
      for (let k = 0; k < n; k++) {
        tidy(() => {
          const oneHot = new Float64Array(n);
          oneHot[k] = 1;
          const v = makeTensor(oneHot, { shape: out.shape, dtype: out.dtype });
          const grads = grad([out], diff.map((i) => ins[i]), { gradOutputs: [v], retainGraph: true, allowUnused: true });
          grads.forEach((g, d) => {
            if (g === null) return;
            const values = flatValues(g);
            for (let j = 0; j < values.length; j++) analytical[d][o][j * n + k] = values[j];
          });
        });
      }
    });
  });

  for (let d = 0; d < diff.length; d++) {
    for (let o = 0; o < outNumel.length; o++) {
      const a = analytical[d][o];
      const num = numerical[d][o];
      for (let e = 0; e < a.length; e++) {
        if (!(Math.abs(a[e] - num[e]) <= atol + rtol * Math.abs(num[e]))) {
          if (!raise) return false;
          const n = outNumel[o];
          throw new TorchError(`gradcheck(): Jacobian mismatch for output ${o} with respect to input ${diff[d]}: ` +
            `d out[${e % n}] / d in[${Math.floor(e / n)}]: numerical ${num[e]}, analytical ${a[e]} ` +
            `(atol ${atol}, rtol ${rtol})`);
        }
      }
    }
  }
  return true;
}
