// `npm run fuzz`: hostile calls and malformed files against the built package, looking for what must never
// happen: a crash (signal, abort), a hang, a leaked tensor, or an error that is not a TorchError.
//
//   node scripts/fuzz.mjs [--calls 100000] [--files 2500] [--seed 1] [--batch 2000] [--jobs 1]
//                         [--hang 60] [--quiet] [--strict]
//   node scripts/fuzz.mjs --replay calls|files SEED INDEX      one call or file again, described first
//
// Calls: every op of native/ops.table through each of its JS entry points (torch.op, t.op, torch.nn.
// functional, torch.linalg, torch.fft), every public function and class of the package (classes are
// constructed, then a few of their methods called), and every function of the native addon itself, each
// with arguments drawn from a pool of valid and hostile values: wrong types, NaN, 2^53, bigints, disposed
// tensors, views, arrays whose getters throw, dispose tensors or create thousands of them, huge sparse
// arrays, cycles, Proxies that throw, deep nesting, detached buffers. Files: mutants (bit flips, random
// bytes, truncation, insertions, header tampering) of valid files for every loader: safetensors, torch.save
// state_dicts, TorchScript (when Python with torch is there to write the seed), IDX, checkpoints, text
// classification CSV / JSONL, vocabularies, run configurations and architectures.
//
// Everything is seeded: call (or file) k of a seed is the same on every run, so a finding is replayed with
// --replay. The work runs in child processes of `--batch` items, each under an address-space limit (so a
// request for terabytes fails as an allocation error, not through the OOM killer) in a scratch directory
// (the file-writing functions write there); a child that dies or stops making progress for --hang seconds
// is a crash or a hang, reported with the item that caused it, and the run continues after it. Exits 1 when
// anything was found.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torchPython } from './python.mjs';

const root = new URL('..', import.meta.url).pathname;
const ADDRESS_SPACE = 8 * 2 ** 30;

// -------------------------------------------------------------------------------------------- randomness

/** A generator of floats in [0, 1) for item k of a seed (mulberry32 over a mix of both). */
function rng(seed, k) {
  let a = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(k | 0, 0x85ebca77) ^ 0x5bd1e995) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const int = (r, n) => Math.floor(r() * n);
const pick = (r, items) => items[int(r, items.length)];
const chance = (r, p) => r() < p;

// ================================================================================================ child

/** Thrown by the hostile getters and callbacks: seeing it come back is fine. */
class Sentinel extends Error {}

async function child(kind, seed, start, end, replay) {
  const require = createRequire(import.meta.url);
  const pkg = require(join(root, 'dist', 'index.js'));
  const { N } = require(join(root, 'dist', 'torch', 'native.js'));
  const { torch } = pkg;
  // A function that would end the process ends only its call.
  process.exit = () => { throw new Sentinel('process.exit'); };
  const report = { kind, calls: 0, torchErrors: 0, ok: 0, findings: [] };
  let current = start;
  const progress = (k) => writeSync(1, `@${k}\n`);
  const finding = (type, target, detail) => {
    if (report.findings.filter((f) => f.target === target && f.type === type).length < 3) {
      report.findings.push({ type, target, detail: `(replay: --replay ${kind} ${seed} ${current}) ${String(detail).slice(0, 300)}` });
    }
  };
  process.on('unhandledRejection', (e) => {
    if (!(e instanceof torch.TorchError) && !(e instanceof Sentinel)) finding('rejection', 'async', `${e?.name}: ${e?.message}`);
  });
  const items = kind === 'calls' ? callTargets(pkg, N) : fileTargets(pkg);
  for (let k = start; k < end; k++) {
    progress(k);
    current = k;
    const r = rng(seed, k);
    const item = items[k % items.length];
    if (replay) writeSync(1, `${kind} ${k}: ${item.name}\n`);
    const before = torch.memory().tensors;
    // Run and judged in a frame of its own: a dead register of this loop's frame would keep the call's Error
    // alive, and its unformatted stack holds its frames' receivers (a module whose method threw, a tensor).
    (() => {
      let outcome;
      try {
        outcome = kind === 'calls' ? runCall(pkg, N, item, r, replay) : runFile(pkg, item, r, k, replay);
      } catch (e) {
        outcome = e;
      }
      report.calls++;
      if (outcome instanceof Error || (outcome !== undefined && outcome !== 'ok')) {
        const e = outcome;
        if (e instanceof torch.TorchError) {
          report.torchErrors++;
          if (typeof e.code !== 'string') finding('no-code', item.name, e.message);
        } else if (!(e instanceof Sentinel)) {
          finding('not-a-TorchError', item.name, `${e?.name}: ${e?.message}`);
        }
        if (replay) writeSync(1, `  -> ${e?.name}: ${e?.message}\n`);
      } else {
        report.ok++;
        if (replay) writeSync(1, '  -> returned\n');
      }
    })();
    restoreGlobals(N);
    if (torch.memory().tensors > before && settle(torch) > before) {
      // Pending work of the event loop (a warning's Error, whose stack holds its frames' receivers until
      // it is emitted on the next tick) may still hold the tensors' owners: a turn of the loop, then again.
      await new Promise((resolve) => setImmediate(resolve));
      if (settle(torch) > before) finding('leak', item.name, `${torch.memory().tensors - before} tensor(s) left`);
    }
  }
  writeSync(1, `#${JSON.stringify(report)}\n`);
}

/**
 * The live tensors once the garbage the call left is collected: tensors kept on purpose (torch.keep, a
 * module's buffers) are freed by the finalizer net when their owner dies, which takes a collection and
 * a nursery flush (1024 more tensors), twice over.
 */
function settle(torch) {
  for (let round = 0; round < 2; round++) {
    globalThis.gc();
    for (let i = 0; i < 1100; i++) torch.zeros([0]).dispose();
  }
  return torch.memory().tensors;
}

/** Undoes what a call may have switched for the calls after it. */
function restoreGlobals(N) {
  N.setGradEnabled(true);
  N.setNumThreads(1);
  N.setDetectAnomaly(false);
  for (let i = 0; i < 100 && N.isInferenceModeEnabled(); i++) {
    try { N.exitInferenceMode(); } catch { break; }
  }
}

// ----------------------------------------------------------------------------------------- values

const STRINGS = ['', 'x', 'cpu', 'cuda', 'cuda:1', 'cuda:99999999999', 'cpu:1', 'meta', 'mps', 'float32', 'int64',
  'bool', 'float16', 'complex64', 'mean', 'sum', 'none', 'batchmean', 'trunc', 'floor', 'ortho', 'forward',
  'backward', 'reflect', 'replicate', 'circular', 'constant', 'same', 'valid', 'fro', 'nuc', 'nearest',
  'bilinear', 'tanh', 'reduced', 'complete', 'ij,jk->ik', 'ii', '...', '__proto__', 'constructor', 'toString',
  'hasOwnProperty', '\u0000', 'a\u0000b', 'ü€😀', 'dir/f', 'f.safetensors', 'f.pt', '../f', 'a'.repeat(300)];
const SMALL_INTS = [0, 1, 2, 3, 4, -1, -2, -3, 5, 7];
// Sizes that either fit easily or cannot be allocated at all (a finding must not be the OOM killer's).
const EDGE_INTS = [2 ** 31 - 1, 2 ** 31, 2 ** 32, -(2 ** 31), 2 ** 40, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 62, 1e300];
const NUMBERS = [0.5, -0.5, 1e-300, 1e300, NaN, Infinity, -Infinity, -0, Number.EPSILON, 3.7];
const KEYS = ['dtype', 'device', 'requiresGrad', 'dim', 'keepdim', 'reduction', 'shape', 'size', 'out', 'alpha',
  'lr', 'momentum', 'weightDecay', 'bias', 'padding', 'stride', 'groups', 'eps', 'temperature', 'epochs',
  'batchSize', 'shuffle', 'metadata', 'recurse', 'training', 'p', 'inplace', 'mode', 'name', 'steps', 'seed',
  '__proto__', 'constructor', 'then', 'valueOf', 'toJSON', 'length'];

/** Values a fuzzed call draws its arguments from; `pool` holds this call's tensors. */
class Values {
  constructor(torch, pkg, r) {
    this.torch = torch;
    this.pkg = pkg;
    this.r = r;
    this.pool = [];
  }

  tensor() {
    const { torch, r } = this;
    if (this.pool.length > 0 && chance(r, 0.3)) return pick(r, this.pool);
    const shape = pick(r, [[], [0], [1], [3], [2, 3], [3, 2], [4, 4], [1, 3, 4, 4], [2, 2, 2], [2, 0, 3], [5, 1]]);
    const dtype = chance(r, 0.6) ? 'float32' : pick(r, ['float64', 'float16', 'bfloat16', 'int64', 'int32', 'int8',
      'int16', 'uint8', 'bool', 'complex64', 'complex128']);
    let t = torch.randn(shape).mul(3).to(dtype);
    const twist = int(r, 10);
    if (twist === 0 && t.dim() >= 2) t = t.transpose(0, 1);
    else if (twist === 1 && t.dim() >= 1) t = t.flip([0]);
    else if (twist === 2 && t.dim() >= 1 && t.shape[0] > 0) t = t.narrow(0, 0, 1).expand([3, ...t.shape.slice(1)]);
    else if (twist === 3 && (dtype === 'float32' || dtype === 'float64')) t = t.requiresGrad_();
    else if (twist === 4 && (dtype === 'float32')) t = torch.randn(shape, { requiresGrad: true }).mul(2);
    else if (twist === 5) t.dispose();
    this.pool.push(t);
    return t;
  }

  int() {
    const r = this.r;
    return chance(r, 0.8) ? pick(r, SMALL_INTS) : pick(r, EDGE_INTS);
  }

  intList() {
    const r = this.r;
    const n = pick(r, [0, 1, 1, 2, 2, 3, 4]);
    return Array.from({ length: n }, () => (chance(r, 0.9) ? pick(r, SMALL_INTS) : this.int()));
  }

  number() {
    const r = this.r;
    return chance(r, 0.6) ? pick(r, SMALL_INTS) : pick(r, NUMBERS);
  }

  string() {
    return pick(this.r, STRINGS);
  }

  /** Something no one would pass on purpose. */
  hostile() {
    const { r, torch } = this;
    const self = this;
    switch (int(r, 30)) {
      case 0: return undefined;
      case 1: return null;
      case 2: return pick(r, [1n, -1n, 2n ** 70n, 0n]);
      case 3: return Symbol('s');
      case 4: return () => { throw new Sentinel('callback'); };
      case 5: return () => torch.ones([2]);
      case 6: { // an array whose element getter throws
        const a = [1, 2];
        Object.defineProperty(a, int(r, 2), { get() { throw new Sentinel('getter'); } });
        return a;
      }
      case 7: { // a getter that disposes the call's tensors
        const a = [1, 2];
        Object.defineProperty(a, 0, { get() { for (const t of self.pool) t.dispose(); return 1; } });
        return a;
      }
      case 8: { // a getter that makes thousands of tensors (nursery flushes, slot table growth)
        const a = [2, 1];
        Object.defineProperty(a, 1, { get() { for (let i = 0; i < 3000; i++) torch.zeros([1]); return 1; } });
        return a;
      }
      case 9: { const a = []; a.length = 2 ** 32 - 1; return a; }
      case 10: { const a = [1]; a.push(a); return a; }
      case 11: { let a = [1]; for (let i = 0; i < 200; i++) a = [a]; return a; }
      case 12: { let a = [1]; for (let i = 0; i < 20000; i++) a = [a]; return a; }
      case 13: return new Proxy([1, 2], { get() { throw new Sentinel('proxy'); }, has() { throw new Sentinel('proxy'); }, ownKeys() { throw new Sentinel('proxy'); }, getOwnPropertyDescriptor() { throw new Sentinel('proxy'); }, getPrototypeOf() { throw new Sentinel('proxy'); } });
      case 14: return new Proxy({}, { get() { throw new Sentinel('proxy'); }, ownKeys() { throw new Sentinel('proxy'); }, getPrototypeOf() { throw new Sentinel('proxy'); } });
      case 15: { const o = {}; o.self = o; o.t = this.tensor(); return o; }
      case 16: return JSON.parse('{"__proto__": {"dtype": "float64"}, "constructor": 1}');
      case 17: { const o = {}; Object.defineProperty(o, pick(r, KEYS), { get() { throw new Sentinel('getter'); }, enumerable: true }); return o; }
      case 18: return { valueOf() { throw new Sentinel('valueOf'); }, toString() { throw new Sentinel('toString'); }, [Symbol.toPrimitive]() { throw new Sentinel('toPrimitive'); } };
      case 19: return pick(r, [new Float32Array(3), new Float64Array(0), new BigInt64Array(2), new Uint8ClampedArray(4), new Int16Array(5), new DataView(new ArrayBuffer(8)), new Uint32Array(2), new Float32Array(new ArrayBuffer(16), 4, 2)]);
      case 20: { const b = new ArrayBuffer(16); const v = new Float32Array(b); structuredClone(b, { transfer: [b] }); return v; }
      case 21: return pick(r, [new Map([[1, 2]]), new Set([1]), new Date(0), Promise.resolve(1), new Error('e'), /x/, new WeakMap()]);
      case 22: return Object.freeze([1, 2, 3]);
      case 23: return { then(resolve) { resolve(1); } };
      case 24: return this.options();
      case 25: return [this.tensor(), this.tensor()];
      case 26: return [this.tensor(), 1, 'x', null];
      case 27: return Object.create(null);
      case 28: { const t = this.tensor(); return new Proxy(t, {}); }
      default: return 'x'.repeat(100000);
    }
  }

  /** An options object with keys taken from names real options use. */
  options() {
    const r = this.r;
    const o = {};
    for (let i = int(r, 4); i > 0; i--) {
      const k = pick(r, KEYS);
      Object.defineProperty(o, k, { value: this.any(1), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }

  /** Any value. */
  any(depth = 0) {
    const r = this.r;
    switch (int(r, depth > 0 ? 8 : 10)) {
      case 0: case 1: return this.tensor();
      case 2: return this.int();
      case 3: return this.number();
      case 4: return this.string();
      case 5: return chance(r, 0.5);
      case 6: return this.intList();
      case 7: return this.hostile();
      case 8: return this.options();
      default: return [this.any(1), this.any(1)];
    }
  }

  /** A value for an op argument of a schema type, usually of that type. */
  of(type) {
    const r = this.r;
    if (chance(r, 0.12)) return this.hostile();
    if (chance(r, 0.05)) return this.any(1);
    switch (type.base) {
      case 'Tensor': return type.list ? Array.from({ length: int(r, 4) }, () => this.tensor()) : this.tensor();
      case 'Scalar': return chance(r, 0.1) ? pick(r, [true, false, 1n]) : this.number();
      case 'int': return type.list ? this.intList() : this.int();
      case 'float': return type.list ? [this.number()] : this.number();
      case 'bool': return chance(r, 0.5);
      case 'str': return this.string();
      case 'ScalarType': return pick(r, ['float32', 'float64', 'int64', 'bool', 'complex64', 'float16', 'uint8', 'x']);
      case 'Device': return pick(r, ['cpu', 'cuda', 'meta', 'cpu:1']);
      default: return this.any(1);
    }
  }
}

// ---------------------------------------------------------------------------------------- call targets

/** The op table's overloads: name, variants and argument types (a light parse of native/ops.table). */
function opTable() {
  const ops = [];
  for (const raw of readFileSync(join(root, 'native', 'ops.table'), 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [schema, variants = ''] = line.split(' | ');
    const m = /^([\w.]+)\((.*)\)\s*->/.exec(schema);
    if (!m) continue;
    const name = m[1].split('.')[0];
    const params = m[2].split(/,(?![^[]*\])/).map((s) => s.trim()).filter((s) => s && s !== '*').map((s) => {
      const [type, pname] = s.replace(/\([^)]*\)/, '').split(/\s+/);
      const list = /\[\d*\]/.test(type);
      return { base: type.replace(/\[\d*\]/, '').replace('?', ''), list, name: pname.split('=')[0], optional: /\?|=/.test(s) };
    });
    ops.push({ name, params, variants: variants.trim().split(/\s+/) });
  }
  return ops;
}

const camel = (s) => s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

// Functions left out, and why.
const SKIP = new Map([
  // The JS layer's plumbing, whose invariants only it keeps (a fuzzed error class or dispatcher would
  // break every later call of the child, not reveal a bug).
  ['N.setErrorClass', 'plumbing'], ['N.autogradInit', 'plumbing'], ['N.setAllocationCounter', 'plumbing'],
  ['N.enterInferenceMode', 'an unbalanced guard would change every later call'], ['N.path', 'not a function'],
  // A client store connects to its server and waits for it up to the store's timeout (PyTorch's semantics).
  ['torch.distributed.TCPStore', 'waits for its server'],
  // Started work runs on after the call: a worker thread, a training loop in the background.
  ['train.runInWorker', 'starts a worker thread'], ['train.runConfigInWorker', 'starts a worker thread'],
]);

function callTargets(pkg, N) {
  const { torch } = pkg;
  const F = torch.nn.functional;
  const targets = [];
  for (const op of opTable()) {
    for (const v of op.variants) {
      const js = camel(v === 'linalg' || v === 'fft' ? op.name.slice(v.length + 1) : op.name);
      if (v === 'method') targets.push({ name: `Tensor.${js}`, op, call: (vals, args) => (args[0] instanceof torch.Tensor ? args[0] : vals.tensor())[js](...args.slice(1)) });
      if (v === 'function' && typeof torch[js] === 'function') targets.push({ name: `torch.${js}`, op, call: (vals, args) => torch[js](...args) });
      if (v === 'nn' && typeof F[js] === 'function') targets.push({ name: `F.${js}`, op, call: (vals, args) => F[js](...args) });
      if ((v === 'linalg' || v === 'fft') && typeof torch[v][js] === 'function') targets.push({ name: `torch.${v}.${js}`, op, call: (vals, args) => torch[v][js](...args) });
    }
  }
  // Public functions and classes, namespace by namespace.
  const seen = new Set();
  const walk = (obj, path, depth) => {
    if (depth > 3 || obj === null || seen.has(obj)) return;
    seen.add(obj);
    for (const key of Object.keys(obj).sort()) {
      const v = obj[key];
      const name = `${path}.${key}`;
      if (SKIP.has(name)) continue;
      if (typeof v === 'function') {
        if (/^class\b/.test(Function.prototype.toString.call(v))) targets.push({ name, cls: v });
        else {
          targets.push({ name, fn: v });
          walk(v, name, depth + 1);
        }
      } else if (v !== null && typeof v === 'object') walk(v, name, depth + 1);
    }
  };
  for (const ns of Object.keys(pkg).sort()) walk(pkg[ns], ns, 0);
  // Tensor methods beyond the op table (read-back, conversion, autograd state, hooks...).
  const opNames = new Set(targets.filter((t) => t.op).map((t) => t.name));
  for (const key of Object.getOwnPropertyNames(torch.Tensor.prototype).sort()) {
    if (key === 'constructor' || opNames.has(`Tensor.${key}`)) continue;
    targets.push({ name: `Tensor#${key}`, method: key });
  }
  // The native addon, function by function.
  for (const key of Object.keys(N).sort()) {
    if (!SKIP.has(`N.${key}`) && typeof N[key] === 'function') targets.push({ name: `N.${key}`, native: N[key] });
  }
  return targets;
}

/** Tensors, modules, arrays... in a result: what the call returned is freed or settled here. */
function consume(torch, value, depth = 0) {
  if (depth > 3 || value === null || value === undefined) return;
  if (typeof value === 'object' || typeof value === 'function') {
    // A hostile value handed back (a Proxy whose traps throw) must not stop the rest being freed.
    try {
      void value.then;
    } catch (e) {
      if (e instanceof Sentinel) return;
      throw e;
    }
    if (typeof value.then === 'function') {
      Promise.resolve(value).catch((e) => { if (!(e instanceof torch.TorchError) && !(e instanceof Sentinel)) throw e; });
      return;
    }
    if (value instanceof torch.Tensor) {
      if (!value.isDisposed && value.numel() < 64) value.toArray();
      value.dispose();
    } else if (Array.isArray(value)) value.slice(0, 16).forEach((v) => consume(torch, v, depth + 1));
    else if (value instanceof Map || value instanceof Set) [...value.values()].slice(0, 16).forEach((v) => consume(torch, v, depth + 1));
    else if (Object.getPrototypeOf(value) === Object.prototype) Object.values(value).slice(0, 16).forEach((v) => consume(torch, v, depth + 1));
  }
}

// Natives whose first argument is an element count with O(n) work (randperm's shuffle over 8n bytes): a
// tensor handle drawn there (generation * 2^24 + slot: 2e8 once a slot was reused 12 times) asks for
// seconds to minutes of legitimate work, which the watchdog would take for a hang. Such a handle is passed
// as its slot index; numbers that are not live handles (2^31, 2^53...) pass unchanged.
const SIZE_FIRST = new Set(['N.randperm']);

function runCall(pkg, N, target, r, replay) {
  const { torch } = pkg;
  const result = torch.tidy(() => {
    const vals = new Values(torch, pkg, r);
    let out;
    if (target.op) {
      const params = target.op.params;
      let args = params.map((p, i) => (i > 0 && p.optional && chance(r, 0.4) ? undefined : vals.of(p)));
      const shape = int(r, 10);
      if (shape === 0) args = args.slice(0, int(r, args.length + 1));
      else if (shape === 1) args.push(vals.any(1));
      else if (shape === 2 && params.length > 1) {
        const o = {};
        for (const p of params.slice(2)) if (chance(r, 0.5)) o[camel(p.name)] = vals.of(p);
        if (chance(r, 0.2)) o[pick(r, KEYS)] = vals.any(1);
        args = [...args.slice(0, 2), o];
      }
      while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
      if (replay) writeSync(1, `  args: ${describe(args)}\n`);
      out = target.call(vals, args);
    } else if (target.native) {
      const args = Array.from({ length: int(r, 7) }, () => (chance(r, 0.5) ? (chance(r, 0.8) ? vals.tensor().id : -1) : vals.any()));
      if (SIZE_FIRST.has(target.name) && typeof args[0] === 'number' && N.isLive(args[0])) args[0] %= 2 ** 24;
      if (replay) writeSync(1, `  args: ${describe(args)}\n`);
      out = target.native(...args);
      // Native functions hand back bare handles: free those that are new.
      const pool = new Set(vals.pool.map((t) => t.id));
      for (const h of Array.isArray(out) ? out.flat(2) : [out]) if (typeof h === 'number' && !pool.has(h) && N.isLive(h)) N.free(h);
      out = undefined;
    } else if (target.method) {
      const t = vals.tensor();
      const args = Array.from({ length: int(r, 4) }, () => vals.any());
      if (replay) writeSync(1, `  self: ${describe([t])} args: ${describe(args)}\n`);
      const m = t[target.method];
      out = typeof m === 'function' ? m.apply(t, args) : m;
    } else {
      const args = Array.from({ length: int(r, 5) }, () => vals.any());
      if (replay) writeSync(1, `  args: ${describe(args)}\n`);
      if (target.fn) out = target.fn(...args);
      else {
        const instance = new target.cls(...args);
        const methods = [];
        for (let p = Object.getPrototypeOf(instance); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
          for (const k of Object.getOwnPropertyNames(p)) {
            const d = Object.getOwnPropertyDescriptor(p, k);
            if (k !== 'constructor' && typeof d.value === 'function') methods.push(k);
          }
        }
        methods.sort();
        // A store's get and wait block until the key is set or the timeout passes (PyTorch's semantics):
        // the timeout is made short, and wait (which takes its own) and setTimeout are left out.
        if (instance instanceof torch.distributed.Store) {
          instance.setTimeout(100);
          for (const k of ['wait', 'setTimeout']) if (methods.includes(k)) methods.splice(methods.indexOf(k), 1);
        }
        out = [instance];
        for (let i = int(r, 4); i > 0 && methods.length > 0; i--) {
          const m = pick(r, methods);
          const margs = Array.from({ length: int(r, 4) }, () => vals.any());
          if (replay) writeSync(1, `  .${m}(${describe(margs)})\n`);
          try {
            out.push(instance[m](...margs));
          } catch (e) {
            if (!(e instanceof torch.TorchError) && !(e instanceof Sentinel)) throw e;
          }
        }
      }
    }
    return { out };
  });
  consume(torch, result.out);
  if (Array.isArray(result.out)) result.out.forEach((v) => consume(torch, v));
  return 'ok';
}

/** Arguments as text, for a replay. */
function describe(args) {
  const show = (v, d) => {
    if (d > 2) return '…';
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'string') return JSON.stringify(v.length > 30 ? `${v.slice(0, 30)}…(${v.length})` : v);
    if (typeof v !== 'object' || v === null) return String(v);
    try {
      if (v.constructor?.name === 'Tensor') return v.isDisposed ? 'Tensor(disposed)' : `Tensor(${v.dtype}[${v.shape}])`;
      if (Array.isArray(v)) return `[${v.slice(0, 6).map((x) => show(x, d + 1)).join(', ')}${v.length > 6 ? `, …(${v.length})` : ''}]`;
      return `${v.constructor?.name ?? 'Object'}{${Object.keys(v).slice(0, 6).join(', ')}}`;
    } catch {
      return '<hostile>';
    }
  };
  return args.map((a) => show(a, 0)).join(', ');
}

// ----------------------------------------------------------------------------------------- file targets

/** Loaders with a function writing a valid seed file for them into dir. */
function fileTargets(pkg) {
  const { torch, io, data, train, models, nn } = pkg;
  const seedTensors = () => ({
    w: torch.randn([3, 4]), b: torch.arange(3).to('int64'), m: torch.tensor([true, false, true]),
    h: torch.randn([2, 2]).to('float16'), e: torch.zeros([0, 2]),
  });
  const targets = [
    { name: 'io.loadSafetensors', ext: 'safetensors', write: (p) => io.saveSafetensors(p, seedTensors(), { metadata: { k: 'v' } }), load: (p) => torch.dispose(io.loadSafetensors(p).tensors) },
    { name: 'io.loadStateDict', ext: 'pt', write: (p) => io.saveStateDict(p, seedTensors()), load: (p) => torch.dispose(io.loadStateDict(p)) },
    { name: 'data.readIdx', ext: 'idx', write: (p) => data.writeIdx(p, torch.arange(24).reshape([2, 3, 4]).to('uint8')), load: (p) => data.readIdx(p).dispose() },
    { name: 'data.readIdx (gzip)', ext: 'idx.gz', write: (p) => data.writeIdx(p, torch.randn([2, 5]), { gzip: true }), load: (p) => data.readIdx(p).dispose() },
    {
      name: 'train.loadCheckpoint', ext: 'ckpt',
      write: (p) => {
        const m = new nn.Linear(3, 2);
        train.saveCheckpoint(p, { modules: { student: m }, optimizer: new pkg.optim.Adam(m.parameters()) }, { step: 3 });
      },
      load: (p) => {
        const m = new nn.Linear(3, 2);
        try {
          train.loadCheckpoint(p, { modules: { student: m }, optimizer: new pkg.optim.Adam(m.parameters()) });
        } finally {
          m.dispose();
        }
      },
    },
    { name: 'data.readTextClassification (csv)', ext: 'csv', write: (p) => writeFileSync(p, 'text,label\n"hello, world",a\nbye,b\n"quo""te",a\n'), load: (p) => data.readTextClassification(p) },
    { name: 'data.readTextClassification (jsonl)', ext: 'jsonl', write: (p) => writeFileSync(p, '{"text":"hi","label":"a"}\n{"text":"yo","label":1}\n'), load: (p) => data.readTextClassification(p) },
    { name: 'train.readConfig', ext: 'json', write: (p) => writeFileSync(p, JSON.stringify({ student: { arch: { name: 'mlp', hidden: [8] } }, data: { name: 'fashion-mnist' }, terms: [{ kind: 'kd', temperature: 4 }], epochs: 1 })), load: (p) => train.readConfig(p) },
    { name: 'models.readArch', ext: 'arch', write: (p) => { mkdirSync(p, { recursive: true }); writeFileSync(join(p, 'arch.json'), JSON.stringify({ name: 'mlp', inFeatures: 4, hidden: [3], classes: 2 })); }, load: (p) => models.readArch(p), dir: 'arch.json' },
    {
      name: 'data.Vocab.load', ext: 'vocab',
      write: (p) => data.Vocab.build(['a b', 'c a'], { bigrams: true }).save(p),
      load: (p) => data.Vocab.load(p),
    },
  ];
  // TorchScript seeds can only be written by PyTorch.
  const python = torchPython();
  if (python) {
    targets.push({
      name: 'io.loadTorchScript', ext: 'ts.pt',
      write: (p) => {
        const code = 'import torch,sys\nclass M(torch.nn.Module):\n  def __init__(self):\n    super().__init__(); self.l = torch.nn.Linear(3, 2)\n  def forward(self, x):\n    return {"y": torch.relu(self.l(x))}\ntorch.jit.script(M()).save(sys.argv[1])\n';
        // TorchScript compiles from source, so the module is a file (not `python -c`).
        const script = `${p}.py`;
        writeFileSync(script, code);
        const r = spawnSync(python, [script, p], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`python could not write the TorchScript seed: ${r.stderr}`);
      },
      load: (p) => {
        const m = io.loadTorchScript(p);
        try { torch.dispose(m.forward(torch.randn([2, 3]))); } finally { m.dispose(); }
      },
    });
  }
  return targets;
}

const seeds = new Map();

/** Mutates a seed file of target's kind (written once per child) and loads the mutant. */
function runFile(pkg, target, r, k, replay) {
  const dir = join(process.cwd(), `files-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  let seed = seeds.get(target.name);
  if (seed === undefined) {
    const p = join(dir, `seed.${target.ext}`);
    target.write(p);
    seed = target.dir ? readFileSync(join(p, target.dir)) : readFileSync(p);
    seeds.set(target.name, seed);
  }
  const bytes = mutate(seed, r);
  const path = join(dir, `mutant-${k}.${target.ext}`);
  if (target.dir) {
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, target.dir), bytes);
  } else writeFileSync(path, bytes);
  if (replay) writeSync(1, `  mutant written to ${path} (${bytes.length} bytes)\n`);
  try {
    target.load(path);
  } finally {
    if (!replay) rmSync(path, { recursive: true, force: true });
  }
  return 'ok';
}

/** A damaged copy of a file: bit flips, random bytes, truncation, insertion, or a tampered number field. */
function mutate(seed, r) {
  let b = Buffer.from(seed);
  const rounds = 1 + int(r, 3);
  for (let i = 0; i < rounds; i++) {
    const at = int(r, Math.max(1, b.length));
    switch (int(r, 8)) {
      case 0: b[at] ^= 1 << int(r, 8); break;
      case 1: for (let n = 1 + int(r, 16); n > 0; n--) b[int(r, b.length)] = int(r, 256); break;
      case 2: b = b.subarray(0, at); break;
      case 3: b = Buffer.concat([b.subarray(0, at), Buffer.alloc(1 + int(r, 64), int(r, 256)), b.subarray(at)]); break;
      case 4: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 64)))]); break;
      case 5: if (at + 4 <= b.length) b.writeUInt32LE(pick(r, [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, int(r, 2 ** 32)]), at); break;
      case 6: if (at + 8 <= b.length) b.writeBigUInt64LE(pick(r, [0n, 2n ** 63n, 2n ** 64n - 1n, BigInt(int(r, 2 ** 30))]), at); break;
      default: { // a number in a text header replaced (safetensors JSON, JSON configs, CSV)
        const text = b.toString('latin1');
        const re = /\d+/g;
        const spots = [];
        for (let m; (m = re.exec(text)) && spots.length < 400;) spots.push(m);
        if (spots.length > 0) {
          const m = pick(r, spots);
          const v = pick(r, ['0', '-1', '4294967296', '9007199254740993', '1e308', '1099511627776', '2', '', '"x"', 'null', '[]']);
          b = Buffer.from(text.slice(0, m.index) + v + text.slice(m.index + m[0].length), 'latin1');
        }
      }
    }
  }
  return b;
}

// =============================================================================================== parent

function parseArgs(argv) {
  const o = { calls: 100000, files: 2500, seed: 1, batch: 2000, jobs: 1, hang: 60, quiet: false, strict: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quiet' || a === '--strict') o[a.slice(2)] = true;
    else if (a === '--child' || a === '--replay') o[a.slice(2)] = argv.slice(i + 1, i + 5);
    else if (a.startsWith('--') && argv[i + 1] !== undefined) o[a.slice(2)] = Number(argv[++i]);
  }
  return o;
}

/** Runs items [start, end) of kind in a child; resolves with its report, or the item it died on. */
function runChild(kind, seed, start, end, hang, cwd) {
  return new Promise((resolve) => {
    const argv = ['--expose-gc', new URL(import.meta.url).pathname, '--child', kind, String(seed), String(start), String(end)];
    const limit = spawnSync('prlimit', ['--version']).status === 0;
    const [cmd, args] = limit ? ['prlimit', [`--as=${ADDRESS_SPACE}`, process.execPath, ...argv]] : [process.execPath, argv];
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: '1' } });
    let last = start - 1;
    let report = null;
    let buffer = '';
    let stderr = '';
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => p.kill('SIGKILL'), hang * 1000);
    };
    arm();
    p.stdout.on('data', (d) => {
      buffer += d;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const line of lines) {
        if (line.startsWith('@')) { last = Number(line.slice(1)); arm(); } else if (line.startsWith('#')) report = JSON.parse(line.slice(1));
      }
    });
    p.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (report && code === 0) resolve({ report });
      else resolve({ died: { index: last, code, signal: signal === 'SIGKILL' && !report ? 'hang or SIGKILL' : signal, stderr: stderr.trim().split('\n').slice(-6).join('\n') } });
    });
  });
}

/**
 * The description and outcome of one item run again in a child (killed after hang seconds). Asynchronous:
 * a synchronous replay of a hanging item would stop the parent from seeing the other jobs' progress, and
 * their watchdogs would take them for hung too.
 */
function replayItem(kind, seed, index, hang, cwd) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--expose-gc', new URL(import.meta.url).pathname, '--replay', kind, String(seed), String(index)],
      { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => { out = (out + d).slice(-20000); });
    const timer = setTimeout(() => p.kill('SIGKILL'), hang * 1000);
    p.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

async function parent(o) {
  const scratch = mkdtempSync(join(tmpdir(), 'torchkd-fuzz-'));
  // Relative paths such as '../f' stay inside the scratch directory.
  const cwd = join(scratch, 'a', 'b');
  mkdirSync(cwd, { recursive: true });
  const t0 = Date.now();
  const totals = {};
  const findings = [];
  const log = (s) => { if (!o.quiet) console.log(s); };
  for (const [kind, count] of [['calls', o.calls], ['files', o.files]]) {
    const total = { items: 0, torchErrors: 0, ok: 0 };
    totals[kind] = total;
    const queue = [];
    for (let s = 0; s < count; s += o.batch) queue.push([s, Math.min(count, s + o.batch)]);
    const worker = async () => {
      while (queue.length > 0) {
        const [start, end] = queue.shift();
        const res = await runChild(kind, o.seed, start, end, o.hang, cwd);
        if (res.report) {
          total.items += res.report.calls;
          total.torchErrors += res.report.torchErrors;
          total.ok += res.report.ok;
          for (const f of res.report.findings) findings.push({ kind, ...f });
          log(`[fuzz] ${kind} ${start}..${end}: ${res.report.calls} run, ${res.report.findings.length} finding(s)`);
        } else {
          const d = res.died;
          const replay = await replayItem(kind, o.seed, d.index, o.hang, cwd);
          const what = replay.split('\n').filter((l) => !l.startsWith('@') && !l.startsWith('#')).join('\n');
          findings.push({ kind, type: d.signal ? `crash (${d.signal})` : `exit ${d.code}`, target: `${kind} #${d.index}`, detail: `${what}\n${d.stderr}` });
          log(`[fuzz] ${kind} #${d.index}: the child died (${d.signal ?? `exit ${d.code}`}); replay:\n${what}\n${d.stderr}`);
          total.items += d.index - start + 1;
          if (d.index + 1 < end) queue.unshift([d.index + 1, end]);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  }
  rmSync(scratch, { recursive: true, force: true });
  // Failures: whatever crashed, hung or leaked anywhere, and errors other than TorchError from the
  // tensor core (the native addon, torch, io, checkpoints). Other rooms' non-TorchErrors (a TypeError
  // for an argument of the wrong kind) are listed, and fail the run only with --strict.
  const core = /^(N\.|torch\.|Tensor[.#]|F\.|nn\.functional\.|io\.|train\.(save|load)Checkpoint$|files$)/;
  const failures = findings.filter((f) => o.strict || f.type !== 'not-a-TorchError' || core.test(f.target) || f.kind === 'files');
  const others = findings.filter((f) => !failures.includes(f));
  const seconds = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(`[fuzz] seed ${o.seed}: ${totals.calls.items} calls (${totals.calls.torchErrors} TorchErrors, ${totals.calls.ok} returned), ` +
    `${totals.files.items} file mutants (${totals.files.torchErrors} TorchErrors, ${totals.files.ok} loaded), ${seconds} s: ` +
    `${failures.length === 0 ? 'clean' : `${failures.length} failure(s)`}${others.length ? `; ${others.length} non-TorchError(s) outside the tensor core` : ''}`);
  for (const f of failures) console.log(`  ${f.type}: ${f.target}: ${f.detail}`);
  if (others.length > 0) {
    const byTarget = new Map();
    for (const f of others) if (!byTarget.has(f.target)) byTarget.set(f.target, f.detail);
    console.log(`  not TorchErrors (${byTarget.size} functions${o.strict ? '' : '; --strict fails on them'}):`);
    for (const [target, detail] of byTarget) console.log(`    ${target}: ${detail}`);
  }
  return failures.length === 0 ? 0 : 1;
}

const o = parseArgs(process.argv.slice(2));
if (o.child) {
  const [kind, seed, start, end] = o.child;
  await child(kind, Number(seed), Number(start), Number(end), false);
} else if (o.replay) {
  const [kind, seed, k] = o.replay;
  await child(kind, Number(seed), Number(k), Number(k) + 1, true);
} else {
  process.exitCode = await parent(o);
}
