// nn.Module: the container of parameters, buffers and submodules, with PyTorch's semantics and names.
import { functionArg, optionsArg, stringArg, TorchError } from '../torch/errors';
import { keep as keepTensor } from '../torch/memory';
import { Tensor } from '../torch/tensor';
import type { Device, DType } from '../torch/dtype';
import { noGrad } from '../torch/autograd';
import * as torch from '../torch';

/** What registerForwardHook / registerForwardPreHook return (PyTorch's RemovableHandle). */
export interface RemovableHandle {
  remove(): void;
}

/** A forward hook: sees the inputs and the output; a return value other than undefined replaces the output. */
export type ForwardHook<M extends Module = Module> = (module: M, inputs: unknown[], output: unknown) => unknown;
/** A forward pre-hook: a return value other than undefined replaces the inputs (an array, or one input). */
export type ForwardPreHook<M extends Module = Module> = (module: M, inputs: unknown[]) => unknown;

/** A state dict: PyTorch's keys (`fc1.weight`, `bn.running_mean`) in PyTorch's order. */
export type StateDict = Record<string, Tensor>;

/** What loadStateDict returns (with strict: false, the keys that did not match). */
export interface IncompatibleKeys {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** A module with a forward method (what call() needs). */
export interface Forwardable {
  forward(...args: never[]): unknown;
}

const FLOATING: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16', 'complex64', 'complex128']);

const shapeStr = (s: number[]) => `torch.Size([${s.join(', ')}])`;

/**
 * Base class of every layer and model. Subclasses register their state with registerParameter,
 * registerBuffer and registerModule (each returns what it registered, so they work as class fields) and
 * define `forward(...)`.
 *
 * Invoke modules with `m.call(x)`: it runs the forward pre-hooks, forward, then the forward hooks.
 * `m.forward(x)` skips the hooks. Built-in containers and layers invoke their children through call().
 *
 * Registered tensors are exempt from tidy scopes (torch.keep); free them with `m.dispose()`.
 */
export class Module {
  /** Training mode (train() / eval()): changes Dropout and BatchNorm. */
  training = true;
  private readonly _parameters = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _nonPersistent = new Set<string>();
  private readonly _modules = new Map<string, Module | null>();
  private readonly _forwardHooks = new Map<number, ForwardHook<Module>>();
  private readonly _forwardPreHooks = new Map<number, ForwardPreHook<Module>>();
  private _hookId = 0;

  /** The class name, as in PyTorch's error messages. */
  protected get typeName(): string {
    return this.constructor.name;
  }

  private checkName(kind: string, name: string, taken: boolean): void {
    if (typeof name !== 'string') throw new TorchError(`${kind} name should be a string. Got ${typeof name}`);
    if (name.includes('.')) throw new TorchError(`${kind} name can't contain ".", got: ${name}`);
    if (name === '') throw new TorchError(`${kind} name can't be empty string ""`);
    if (taken) throw new TorchError(`attribute '${name}' already exists`);
  }

  /** Adds a parameter (made a leaf requiring grad unless it is null or already set up); returns it. */
  registerParameter<T extends Tensor | null>(name: string, param: T): T {
    this.checkName('parameter', name, this._buffers.has(name) || this._modules.has(name));
    if (param !== null && !(param instanceof Tensor)) {
      throw new TorchError(`cannot assign '${typeof param}' object to parameter '${name}' (Tensor or null required)`);
    }
    if (param !== null) keepTensor(param);
    this._parameters.set(name, param);
    return param;
  }

  /** Adds a buffer (state that is not a parameter, e.g. running_mean); persistent ones go in stateDict(). */
  registerBuffer<T extends Tensor | null>(name: string, tensor: T, options: { persistent?: boolean } = {}): T {
    this.checkName('buffer', name, this._parameters.has(name) || this._modules.has(name));
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new TorchError(`cannot assign '${typeof tensor}' object to buffer '${name}' (Tensor or null required)`);
    }
    if (tensor !== null) keepTensor(tensor);
    this._buffers.set(name, tensor);
    if (options.persistent === false) this._nonPersistent.add(name);
    else this._nonPersistent.delete(name);
    return tensor;
  }

  /** Adds a child module; returns it. */
  registerModule<T extends Module | null>(name: string, module: T): T {
    this.checkName('module', name, this._parameters.has(name) || this._buffers.has(name));
    if (module !== null && !(module instanceof Module)) {
      throw new TorchError(`${typeof module} is not a Module subclass`);
    }
    this._modules.set(name, module);
    return module;
  }

  /** Alias of registerModule (PyTorch's add_module). */
  addModule<T extends Module | null>(name: string, module: T): T {
    return this.registerModule(name, module);
  }

  /** Replaces a registered parameter or buffer (the old tensor is not disposed). */
  protected setTensor(name: string, t: Tensor | null): void {
    if (this._parameters.has(name)) this._parameters.set(name, t === null ? null : keepTensor(t));
    else if (this._buffers.has(name)) this._buffers.set(name, t === null ? null : keepTensor(t));
    else throw new TorchError(`${this.typeName} has no parameter or buffer '${name}'`);
  }

  // ------------------------------------------------------------------------------------- iteration

  /** (name, module) for this module and all descendants, pre-order, each module once. */
  namedModules(prefix = '', memo: Set<Module> = new Set()): [string, Module][] {
    stringArg('Module.namedModules', 'prefix', prefix);
    if (memo.has(this)) return [];
    memo.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, m] of this._modules) {
      if (m === null) continue;
      out.push(...m.namedModules(prefix === '' ? name : `${prefix}.${name}`, memo));
    }
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }
  /** Direct children (name, module). */
  namedChildren(): [string, Module][] {
    const seen = new Set<Module>();
    const out: [string, Module][] = [];
    for (const [name, m] of this._modules) {
      if (m === null || seen.has(m)) continue;
      seen.add(m);
      out.push([name, m]);
    }
    return out;
  }
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  private namedMembers(kind: '_parameters' | '_buffers', prefix: string, recurse: boolean): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    const mods: [string, Module][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [mp, m] of mods) {
      for (const [name, t] of m[kind]) {
        if (t === null || seen.has(t)) continue;
        seen.add(t);
        out.push([mp === '' ? name : `${mp}.${name}`, t]);
      }
    }
    return out;
  }
  /** (dotted name, parameter) in PyTorch's order; shared parameters once. */
  namedParameters(options?: { prefix?: string; recurse?: boolean }): [string, Tensor][] {
    const { prefix = '', recurse = true } = optionsArg('Module.namedParameters', options);
    return this.namedMembers('_parameters', prefix, recurse);
  }
  parameters(recurse = true): Tensor[] {
    return this.namedParameters({ recurse }).map(([, p]) => p);
  }
  namedBuffers(options?: { prefix?: string; recurse?: boolean }): [string, Tensor][] {
    const { prefix = '', recurse = true } = optionsArg('Module.namedBuffers', options);
    return this.namedMembers('_buffers', prefix, recurse);
  }
  buffers(recurse = true): Tensor[] {
    return this.namedBuffers({ recurse }).map(([, b]) => b);
  }
  /** Number of parameter elements (only those requiring grad when trainableOnly). */
  numParameters(trainableOnly = false): number {
    return this.parameters().reduce((n, p) => n + (trainableOnly && !p.requiresGrad ? 0 : p.numel()), 0);
  }

  /** The descendant at a dotted path ('encoder.layers.3'); '' is this module. */
  getSubmodule(target: string): Module {
    stringArg('Module.getSubmodule', 'target', target);
    if (target === '') return this;
    let mod: Module = this;
    for (const item of target.split('.')) {
      const next = mod._modules.get(item);
      if (next === undefined || next === null) {
        throw new TorchError(`${mod.typeName} has no attribute \`${item}\``);
      }
      mod = next;
    }
    return mod;
  }
  /** The parameter at a dotted path ('fc1.weight'). */
  getParameter(target: string): Tensor {
    stringArg('Module.getParameter', 'target', target);
    const i = target.lastIndexOf('.');
    const mod = this.getSubmodule(i < 0 ? '' : target.slice(0, i));
    const p = mod._parameters.get(target.slice(i + 1));
    if (!p) throw new TorchError(`${mod.typeName} has no parameter \`${target.slice(i + 1)}\``);
    return p;
  }

  // ------------------------------------------------------------------------------------------ modes

  /** Sets training mode on this module and its descendants; returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TorchError('training mode is expected to be boolean');
    this.training = mode;
    for (const m of this.children()) m.train(mode);
    return this;
  }
  /** train(false). */
  eval(): this {
    return this.train(false);
  }
  /** Sets requiresGrad on every parameter; returns this. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }
  /** Clears the gradients: to null (default, as PyTorch ≥ 2.0) or to zeros with setToNone: false. */
  zeroGrad(options?: { setToNone?: boolean }): void {
    const { setToNone = true } = optionsArg('Module.zeroGrad', options);
    for (const p of this.parameters()) {
      const g = p.grad;
      if (g === null) continue;
      if (setToNone) p.grad = null;
      else noGrad(() => g.zero_());
      g.dispose();
    }
  }
  /** Calls fn on every descendant (children first) and this module; returns this. */
  apply(fn: (m: Module) => void): this {
    functionArg('Module.apply', 'fn', fn);
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Moves and/or casts the parameters and buffers in place: to('cuda'), to('float64'),
   * to({ device, dtype }). dtype casts only floating tensors. The same Tensor objects keep being the
   * parameters (their storage is swapped), so references held by an optimizer stay valid; gradients are
   * dropped when a tensor actually changes. Returns this.
   */
  to(target: Device | DType | string | { device?: Device | string; dtype?: DType }): this {
    let device: string | undefined;
    let dtype: DType | undefined;
    if (typeof target === 'string') {
      if (/^(cpu|cuda)/.test(target)) device = target;
      else dtype = target as DType;
    } else if (target !== null && typeof target === 'object') {
      device = target.device;
      dtype = target.dtype;
    } else {
      throw new TorchError(`Module.to(): expected a device, dtype or { device, dtype }, got ${typeof target}`);
    }
    if (dtype !== undefined && !FLOATING.has(dtype)) {
      throw new TorchError(`nn.Module.to only accepts floating point or complex dtypes, but got desired dtype=${dtype}`);
    }
    const seen = new Set<Tensor>();
    for (const t of [...this.parameters(), ...this.buffers()]) {
      if (seen.has(t)) continue;
      seen.add(t);
      const castDtype = dtype !== undefined && FLOATING.has(t.dtype) ? dtype : undefined;
      swapData(t, device, castDtype);
    }
    return this;
  }
  /** to('cpu'). */
  cpu(): this { return this.to('cpu'); }
  /** to('cuda'). */
  cuda(): this { return this.to('cuda'); }
  /** to('float32'). */
  float(): this { return this.to('float32'); }
  /** to('float64'). */
  double(): this { return this.to('float64'); }

  /** Frees every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }

  // ------------------------------------------------------------------------------------ state dicts

  /**
   * Parameters and persistent buffers by PyTorch key (`fc1.weight`, `bn.num_batches_tracked`), in
   * PyTorch's order. The values are detached tensors sharing the module's memory (new Tensor objects:
   * dispose them, or call inside torch.tidy).
   */
  stateDict(options?: { prefix?: string; keepVars?: boolean }): StateDict {
    const { prefix = '', keepVars = false } = optionsArg('Module.stateDict', options);
    const out: StateDict = {};
    this.fillStateDict(out, prefix, keepVars);
    return out;
  }
  private fillStateDict(out: StateDict, prefix: string, keepVars: boolean): void {
    for (const [name, p] of this._parameters) if (p !== null) out[prefix + name] = keepVars ? p : p.detach();
    for (const [name, b] of this._buffers) {
      if (b !== null && !this._nonPersistent.has(name)) out[prefix + name] = keepVars ? b : b.detach();
    }
    for (const [name, m] of this._modules) if (m !== null) m.fillStateDict(out, `${prefix}${name}.`, keepVars);
  }

  /**
   * Copies values from a state dict (plain object or Map) into the parameters and persistent buffers,
   * without autograd. strict (default true) throws on missing or unexpected keys; a shape mismatch
   * always throws, as in PyTorch. Returns the missing and unexpected keys.
   */
  loadStateDict(stateDict: StateDict | Map<string, Tensor>, options: { strict?: boolean } = {}): IncompatibleKeys {
    const strict = options.strict ?? true;
    const entries = stateDict instanceof Map ? [...stateDict.entries()] : Object.entries(stateDict);
    const given = new Map<string, Tensor>(entries);
    const own = new Map<string, Tensor>();
    this.collectLoadTargets(own, '');
    const missingKeys = [...own.keys()].filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    const errors: string[] = [];
    if (strict) {
      if (unexpectedKeys.length > 0) {
        errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}. `);
      }
      if (missingKeys.length > 0) {
        errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}. `);
      }
    }
    const copies: [Tensor, Tensor][] = [];
    for (const [key, target] of own) {
      const value = given.get(key);
      if (value === undefined) continue;
      if (!(value instanceof Tensor)) {
        errors.push(`While copying the parameter named "${key}", expected torch.Tensor or Tensor-like object from checkpoint but received ${typeof value}`);
        continue;
      }
      const a = value.shape;
      const b = target.shape;
      if (a.length !== b.length || a.some((s, i) => s !== b[i])) {
        errors.push(`size mismatch for ${key}: copying a param with shape ${shapeStr(a)} from checkpoint, ` +
          `the shape in current model is ${shapeStr(b)}.`);
        continue;
      }
      copies.push([target, value]);
    }
    if (errors.length > 0) {
      throw new TorchError(`Error(s) in loading state_dict for ${this.typeName}:\n\t${errors.join('\n\t')}`);
    }
    noGrad(() => {
      for (const [target, value] of copies) target.copy_(value);
    });
    return { missingKeys, unexpectedKeys };
  }
  private collectLoadTargets(out: Map<string, Tensor>, prefix: string): void {
    for (const [name, p] of this._parameters) if (p !== null) out.set(prefix + name, p);
    for (const [name, b] of this._buffers) {
      if (b !== null && !this._nonPersistent.has(name)) out.set(prefix + name, b);
    }
    for (const [name, m] of this._modules) if (m !== null) m.collectLoadTargets(out, `${prefix}${name}.`);
  }

  // ------------------------------------------------------------------------------------------ hooks

  /**
   * Registers hook(module, inputs, output) to run after every call(); a return value other than
   * undefined replaces the output. Returns { remove() }.
   */
  registerForwardHook(hook: ForwardHook<this>): RemovableHandle {
    if (typeof hook !== 'function') throw new TorchError('registerForwardHook(): hook must be a function');
    const id = this._hookId++;
    this._forwardHooks.set(id, hook as ForwardHook<Module>);
    return { remove: () => { this._forwardHooks.delete(id); } };
  }
  /**
   * Registers hook(module, inputs) to run before every call(); a return value other than undefined
   * replaces the inputs (an array is the argument list, anything else the single argument).
   */
  registerForwardPreHook(hook: ForwardPreHook<this>): RemovableHandle {
    if (typeof hook !== 'function') throw new TorchError('registerForwardPreHook(): hook must be a function');
    const id = this._hookId++;
    this._forwardPreHooks.set(id, hook as ForwardPreHook<Module>);
    return { remove: () => { this._forwardPreHooks.delete(id); } };
  }

  /** Runs the pre-hooks, forward(...args) and the forward hooks (PyTorch's `module(*args)`). */
  call<M extends Forwardable>(this: M, ...args: Parameters<M['forward']>): ReturnType<M['forward']> {
    const self = this as unknown as Module & Forwardable;
    if (typeof self.forward !== 'function') {
      throw new TorchError(`Module [${self.typeName}] is missing the required "forward" function`);
    }
    let inputs: unknown[] = args;
    for (const hook of [...self._forwardPreHooks.values()]) {
      const r = hook(self, inputs);
      if (r !== undefined) inputs = Array.isArray(r) ? r : [r];
    }
    let output: unknown = (self.forward as (...a: unknown[]) => unknown)(...inputs);
    for (const hook of [...self._forwardHooks.values()]) {
      const r = hook(self, inputs, output);
      if (r !== undefined) output = r;
    }
    return output as ReturnType<M['forward']>;
  }

  /** A short description, as PyTorch's extra_repr. */
  extraRepr(): string {
    return '';
  }
  toString(): string {
    const children = this.namedChildren();
    const extra = this.extraRepr();
    if (children.length === 0) return `${this.typeName}(${extra})`;
    const lines = children.map(([n, m]) => `  (${n}): ${m.toString().split('\n').join('\n  ')}`);
    return `${this.typeName}(${extra ? `\n  ${extra}` : ''}\n${lines.join('\n')}\n)`;
  }
}

/** Replaces t's storage by a moved/cast copy, keeping the Tensor object (and requiresGrad). */
function swapData(t: Tensor, device: string | undefined, dtype: DType | undefined): void {
  const sameDevice = device === undefined || t.device === device || (device === 'cuda' && t.device === 'cuda:0');
  const sameDtype = dtype === undefined || t.dtype === dtype;
  if (sameDevice && sameDtype) return;
  const requiresGrad = t.requiresGrad;
  const moved = noGrad(() => torch.tidy(() => {
    const d = t.detach();
    const r = d.to({ device: device as Device | undefined, dtype, copy: true });
    return r;
  }));
  // t takes the new storage, as PyTorch's Module._apply does with `param.data = fn(param)`.
  t.data = moved;
  moved.dispose();
  if (requiresGrad) t.requiresGrad_(true);
}
