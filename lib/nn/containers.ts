// Containers: Sequential, ModuleList, ModuleDict.
import { argError, kindOf, TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { Module } from './module';

/** An object with Symbol.iterator (for...of reads an array index by index: a hole fails at once as a non-Module). */
function isIterable(v: unknown): v is Iterable<unknown> {
  return v !== null && typeof v === 'object' && Symbol.iterator in v;
}

/** Anything with a one-argument forward (what Sequential chains). */
interface Chainable extends Module {
  forward(input: never): unknown;
}

function callModule(m: Module, input: unknown): unknown {
  return (m as Module & { call(x: unknown): unknown }).call(input);
}

function normIndex(i: number, n: number, what: string): number {
  const j = i < 0 ? i + n : i;
  if (!Number.isInteger(i) || j < 0 || j >= n) throw new TorchError(`index ${i} is out of range (${what} of length ${n})`);
  return j;
}

/** A list of registered modules ('0', '1', ...): indexable, iterable, no forward. */
export class ModuleList extends Module implements Iterable<Module> {
  [index: number]: Module;
  constructor(modules: Iterable<Module> = []) {
    super();
    this.extend(modules);
  }
  get length(): number {
    return this.children().length;
  }
  append(module: Module): this {
    const i = this.namedChildren().length;
    this.registerModule(String(i), module);
    this[i] = module;
    return this;
  }
  extend(modules: Iterable<Module>): this {
    if (!isIterable(modules)) argError('nn.ModuleList', `modules must be an iterable of Modules, got ${kindOf(modules)}`);
    for (const m of modules) this.append(m);
    return this;
  }
  at(index: number): Module {
    const list = this.children();
    return list[normIndex(index, list.length, this.constructor.name)];
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
}

/** What a module's forward takes first (Tensor when unknown). */
type InputOf<M> = M extends { forward(input: infer X, ...rest: never[]): unknown } ? X : Tensor;
/** What a module's forward returns (Tensor when unknown). */
type OutputOf<M> = M extends { forward(...args: never[]): infer R } ? R : Tensor;
/** Sequential's input: the first module's; Tensor when the modules are not a known tuple. */
export type SequentialInput<M extends readonly Module[]> = M extends readonly [infer F, ...unknown[]] ? InputOf<F> : Tensor;
/** Sequential's output: the last module's. */
export type SequentialOutput<M extends readonly Module[]> = M extends readonly [...unknown[], infer L] ? OutputOf<L> : Tensor;
/** `seq[0]`, `seq[1]`... typed as the modules given to the constructor. */
type Positions<M extends readonly Module[]> = { readonly [K in Exclude<keyof M, keyof unknown[]>]: M[K] };

/**
 * Chains modules: forward(x) = m_n(...m_1(x)), each invoked through call() (so hooks run). A ModuleList
 * with a forward: indexable (`seq[0]`, `seq.at(-1)`), iterable, `length`; children are named '0', '1', ...,
 * or by the keys of one object (PyTorch's `Sequential(OrderedDict(...))`). `call(x)` is typed as the first
 * module's input and the last module's output; `seq[i]` as the i-th module.
 */
class SequentialModule<M extends Module[] = Module[]> extends ModuleList {
  constructor(...modules: M | [Record<string, Module>]) {
    const first = modules[0] as unknown;
    if (modules.length === 1 && first !== null && typeof first === 'object' && !(first instanceof Module)) {
      super();
      for (const [name, m] of Object.entries(first as Record<string, Module>)) {
        if (!(m instanceof Module)) throw new TorchError(`Sequential(): '${name}' is not a Module`);
        this[this.namedChildren().length] = this.registerModule(name, m);
      }
      return;
    }
    for (const [i, m] of (modules as Module[]).entries()) {
      if (!(m instanceof Module)) throw new TorchError(`Sequential(): argument ${i} is not a Module (got ${typeof m})`);
    }
    super(modules as Module[]);
  }
  forward(input: SequentialInput<M>): SequentialOutput<M> {
    let x: unknown = input;
    for (const m of this.children()) x = callModule(m as Chainable, x);
    return x as SequentialOutput<M>;
  }
}

// PyTorch's class name in errors, toString() and constructor.name.
Object.defineProperty(SequentialModule, 'name', { value: 'Sequential' });

export type Sequential<M extends Module[] = Module[]> = SequentialModule<M> & Positions<M>;
export const Sequential = SequentialModule as {
  new <M extends Module[]>(...modules: M): Sequential<M>;
  new (modules: Record<string, Module>): Sequential<Module[]>;
  readonly prototype: SequentialModule;
};

/** Modules by name, in insertion order. */
export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    if (modules === null || typeof modules !== 'object') argError('nn.ModuleDict', `modules must be an object or an iterable of [key, Module] pairs, got ${kindOf(modules)}`);
    if (!isIterable(modules)) {
      for (const [k, m] of Object.entries(modules)) this.set(k, m);
      return;
    }
    for (const entry of modules) {
      if (!Array.isArray(entry) || entry.length !== 2) argError('nn.ModuleDict', `each entry must be a [key, Module] pair, got ${kindOf(entry)}`);
      this.set(entry[0], entry[1]);
    }
  }
  get size(): number {
    return this.namedChildren().length;
  }
  get(key: string): Module {
    const m = this.namedChildren().find(([k]) => k === key);
    if (!m) throw new TorchError(`ModuleDict has no key '${key}'`);
    return m[1];
  }
  set(key: string, module: Module): this {
    this.registerModule(key, module);
    return this;
  }
  has(key: string): boolean {
    return this.namedChildren().some(([k]) => k === key);
  }
  keys(): string[] {
    return this.namedChildren().map(([k]) => k);
  }
  values(): Module[] {
    return this.children();
  }
  entries(): [string, Module][] {
    return this.namedChildren();
  }
}
