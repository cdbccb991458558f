// Tensor lifetimes. Native memory is invisible to the garbage collector, so torchkd offers, from the
// cheapest to the most forgiving:
//   - t.dispose() / `using t = ...`: frees now (idempotent);
//   - torch.tidy(fn): frees every tensor fn created and did not return (torch.keep(t) escapes);
//   - a finalizer safety net for tensors nobody disposed, whose native bytes are reported to V8 as
//     external memory so that they put pressure on the GC.
// Registering each tensor with a FinalizationRegistry costs ~0.4 µs, a third of a small op. So a new
// tensor created outside any tidy scope first goes to a nursery (an array push); the nursery is flushed
// when it fills up or on the next turn of the event loop, and only tensors still alive then are
// registered, and reported to V8 in one native call. Temporaries disposed right away, and everything
// created inside tidy, never pay for either (nor trigger collections V8 cannot use: only a GC of their
// wrapper can free a forgotten tensor).
import { TorchError } from './errors';
import { N, type Handle } from './native';

/** What the memory layer needs of a tensor. */
export interface Owned {
  id: Handle;
  kept: boolean;
}

const NURSERY_SIZE = 1024;

let scope: Owned[] | null = null;
const nursery: Owned[] = [];
let flushScheduled = false;
// The held value is the handle: a stale one (tensor disposed meanwhile, slot reused) is a native no-op.
const registry = new FinalizationRegistry<Handle>((handle) => {
  N.free(handle);
});

function flushNursery(): void {
  flushScheduled = false;
  const handles = new Float64Array(nursery.length);
  let n = 0;
  for (let i = 0; i < nursery.length; i++) {
    const t = nursery[i];
    if (t.id === -1) continue;
    registry.register(t, t.id);
    handles[n++] = t.id;
  }
  nursery.length = 0;
  if (n > 0) N.reportToGc(handles.subarray(0, n));
}

function adopt(t: Owned): void {
  nursery.push(t);
  if (nursery.length >= NURSERY_SIZE) flushNursery();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushNursery).unref();
  }
}

/** Called for every new tensor: it belongs to the innermost tidy scope, or to the finalizer net. */
export function track(t: Owned): void {
  if (scope !== null) scope.push(t);
  else adopt(t);
}

/** Frees a tensor's native memory now; later uses throw. Idempotent. */
export function release(t: Owned): void {
  if (t.id !== -1) {
    N.free(t.id);
    t.id = -1;
  }
}

function isThenable(v: unknown): boolean {
  return v !== null && (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function';
}

/** Tensors reachable from a tidy result: the value itself, arrays, plain objects, Maps and Sets. */
function collectOwned(value: unknown, isTensor: (v: unknown) => v is Owned, out: Set<Owned>, seen: Set<object>) {
  if (value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const v of value) collectOwned(v, isTensor, out, seen);
  } else if (value instanceof Map || value instanceof Set) {
    for (const v of value.values()) collectOwned(v, isTensor, out, seen);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      for (const v of Object.values(value)) collectOwned(v, isTensor, out, seen);
    }
  }
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
      t.id = -1;
    }
  }
  if (n > 0) N.freeMany(n === handles.length ? handles : handles.subarray(0, n));
}

export function makeTidy(isTensor: (v: unknown) => v is Owned) {
  /**
   * Runs fn and frees every tensor it created except those it returns (directly or inside arrays, plain
   * objects, Maps, Sets) and those passed to torch.keep. Scopes nest: returned tensors belong to the
   * enclosing scope. fn must be synchronous.
   */
  return function tidy<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new TorchError('tidy(fn): fn must be a function');
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
    if (isThenable(result)) {
      closeScope(owned, null);
      throw new TorchError(
        'tidy(fn): fn returned a Promise. tidy scopes are synchronous: tensors created after an await cannot ' +
          'be attributed to the scope. Use tidy inside the async function around synchronous parts, or dispose().',
      );
    }
    const returned = new Set<Owned>();
    collectOwned(result, isTensor, returned, new Set());
    closeScope(owned, returned);
    return result;
  };
}

/** Exempts a tensor from every enclosing tidy scope (it is then freed by dispose() or the GC). */
export function keep<T extends Owned>(t: T): T {
  t.kept = true;
  return t;
}

/** Live tensors and their bytes in this thread, for leak tests. */
export function memory(): { tensors: number; bytes: number } {
  return N.memory();
}
