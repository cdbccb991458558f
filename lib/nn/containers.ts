// Containers: Sequential, ModuleList, ModuleDict.
import { TorchError } from '../torch/errors';
import { Module } from './module';

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
    for (const m of modules) this.append(m);
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

/**
 * Chains modules: forward(x) = m_n(...m_1(x)), each invoked through call() (so hooks run). A ModuleList
 * with a forward: indexable (`seq[0]`, `seq.at(-1)`), iterable, `length`; children are named '0', '1', ...
 */
export class Sequential extends ModuleList {
  constructor(...modules: Module[]) {
    super(modules);
  }
  forward(input: unknown): unknown {
    let x = input;
    for (const m of this.children()) x = callModule(m as Chainable, x);
    return x;
  }
}

/** Modules by name, in insertion order. */
export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? [...(modules as Iterable<[string, Module]>)] : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
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
