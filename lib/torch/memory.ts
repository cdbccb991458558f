// Tensor lifetimes. Native memory is invisible to the garbage collector, so torchkd offers, from the
// cheapest to the most forgiving:
//   - t.dispose() / `using t = ...`: frees now (idempotent);
//   - torch.tidy(fn): frees every tensor fn created and did not return (torch.keep(t) escapes);
//   - a finalizer safety net for tensors nobody disposed: a Node-API finalizer per tensor, which Node runs
//     during the garbage collection itself (native/torchkd.h), so that even a synchronous loop that never
//     yields to the event loop gets its memory back; the tensors' bytes are reported to V8 as external
//     memory, which makes it collect sooner.
// Attaching a finalizer costs ~0.4 µs, a third of a small op. So a new tensor created outside any tidy
// scope first goes to a nursery (an array push); the nursery is flushed when it fills up (1024 tensors or
// 64 MB made since the last flush) or on the next turn of the event loop, and only tensors still alive
// then get a finalizer, in one native call that also frees the tensors the GC has collected since the last
// one. Temporaries disposed right away, and everything created inside tidy, never pay for it.
import { TorchError } from './errors';
import { N, type Handle } from './native';

const NURSERY_SIZE = 1024;
// The nursery is also flushed once the tensors made since the last flush hold this many bytes: until then
// they are out of the GC's reach.
const NURSERY_BYTES = 64 << 20;
const allocated = new Float64Array(1);
N.setAllocationCounter(allocated);

let scope: Owned[] | null = null;
const nursery: Owned[] = [];
let flushScheduled = false;

// Only wrap() (lib/torch/tensor.ts) makes tensors: a second JS owner of a native tensor could free it
// behind the first one's back.
const CONSTRUCT = Symbol('torchkd.tensor');
// Where a tensor keeps its handle: a property under a symbol of this module (not a #private field, which
// a Proxy of a tensor could not read, and which would need ES2015 of every TypeScript consumer).
const HANDLE = Symbol('torchkd.handle');
type Handled = { [HANDLE]: Handle };

/**
 * The owner of one native tensor handle (the base of Tensor). The handle is read-only: overwriting it
 * would orphan the native tensor, and copying another tensor's would give that tensor two owners.
 */
export class Owned {
  /** Set by torch.keep: survives enclosing tidy scopes. */
  kept = false;

  /** @internal Tensors are made by torch functions and ops, not by `new`. */
  constructor(id: Handle, token: symbol) {
    if (token !== CONSTRUCT) {
      throw new TorchError('Tensor(): tensors are made by torch functions (torch.tensor, torch.zeros, ...) and ops, not by new');
    }
    (this as unknown as Handled)[HANDLE] = id;
    track(this);
  }

  /** Native handle; -1 once disposed. */
  get id(): Handle {
    return (this as unknown as Handled)[HANDLE];
  }
  set id(_: Handle) {
    throw new TorchError('Tensor.id is read-only: a tensor keeps its native handle for life (dispose() frees it)');
  }
}

function invalidate(t: Owned): void {
  (t as unknown as Handled)[HANDLE] = -1;
}

/** The token wrap() passes to the Tensor constructor. */
export function constructToken(): symbol {
  return CONSTRUCT;
}

function flushNursery(): void {
  flushScheduled = false;
  const n = nursery.length;
  const handles = new Float64Array(n);
  for (let i = 0; i < n; i++) handles[i] = nursery[i].id;
  N.adopt(nursery, handles);
  nursery.length = 0;
}

function adopt(t: Owned): void {
  nursery.push(t);
  if (nursery.length >= NURSERY_SIZE || allocated[0] > NURSERY_BYTES) flushNursery();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushNursery).unref();
  }
}

/** Called for every new tensor: it belongs to the innermost tidy scope, or to the finalizer net. */
function track(t: Owned): void {
  if (scope !== null) scope.push(t);
  else adopt(t);
}

/** Frees a tensor's native memory now; later uses throw. Idempotent. */
export function release(t: Owned): void {
  if (t.id !== -1) {
    N.free(t.id);
    invalidate(t);
  }
}

function isThenable(v: unknown): boolean {
  return v !== null && (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function';
}

/** Tensors reachable from a tidy result: the value itself, arrays, plain objects, Maps and Sets. */
function collectOwned(root: unknown, out: Set<Owned>, seen: Set<object>) {
  // An explicit stack, not recursion: values nested a million deep are fine.
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== 'object') continue;
    if (value instanceof Owned) {
      out.add(value);
      continue;
    }
    if (seen.has(value)) continue;
    seen.add(value);
    if (Array.isArray(value)) {
      // A huge array is sparse in practice (2^32 - 1 holes cost nothing to make): only its present keys.
      if (value.length > 1 << 24) for (const k of Object.keys(value)) stack.push(value[k as unknown as number]);
      else for (const v of value) stack.push(v);
    } else if (value instanceof Map || value instanceof Set) {
      for (const v of value.values()) stack.push(v);
    } else {
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) for (const v of Object.values(value)) stack.push(v);
    }
  }
}

/** The tensors in a value: a tensor, or arrays, plain objects, Maps and Sets of them (cycles allowed). */
export function ownedIn(value: unknown): Set<Owned> {
  const out = new Set<Owned>();
  collectOwned(value, out, new Set());
  return out;
}

/** Ends a scope: frees its tensors except those returned (moved to the enclosing scope) and kept ones. */
function closeScope(owned: Owned[], returned: Set<Owned> | null): void {
  const handles = new Float64Array(owned.length);
  let n = 0;
  for (const t of owned) {
    if (t.id === -1) continue;
    if (t.kept) adopt(t);
    else if (returned !== null && returned.has(t)) track(t);
    else {
      handles[n++] = t.id;
      invalidate(t);
    }
  }
  if (n > 0) N.freeMany(n === handles.length ? handles : handles.subarray(0, n));
}

/**
 * Runs fn and frees every tensor it created except those it returns (directly or inside arrays, plain
 * objects, Maps, Sets) and those passed to torch.keep. Scopes nest: returned tensors belong to the
 * enclosing scope. fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') {
    throw new TorchError('tidy(fn): fn must be a function');
  }
  const outer = scope;
  const owned: Owned[] = [];
  scope = owned;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scope = outer;
    closeScope(owned, null);
    throw e;
  }
  scope = outer;
  // Looking into the result runs user code (getters, Proxy traps): when that throws, the scope is freed whole.
  let keepers: ReturnType<typeof ownedIn>;
  try {
    if (isThenable(result)) {
      throw new TorchError(
        'tidy(fn): fn returned a Promise. tidy scopes are synchronous: tensors created after an await cannot ' +
          'be attributed to the scope. Use tidy inside the async function around synchronous parts, or dispose().',
      );
    }
    keepers = ownedIn(result);
  } catch (e) {
    closeScope(owned, null);
    throw e;
  }
  closeScope(owned, keepers);
  return result;
}

/** Exempts a tensor from every enclosing tidy scope (it is then freed by dispose() or the GC). */
export function keep<T extends Owned>(t: T): T {
  t.kept = true;
  return t;
}

/**
 * Live tensors and their bytes in this thread, for leak tests. (The bytes of the tensors left to the GC are
 * reported to V8, which counts them in its collection heuristics; process.memoryUsage().external does not
 * show such reports, on Node 20 and 22 alike.)
 */
export function memory(): { tensors: number; bytes: number } {
  return N.memory();
}
