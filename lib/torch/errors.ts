/** What went wrong, as TorchError.code. */
export type TorchErrorCode =
  | 'ERR_INVALID_ARG' // a bad argument or option (the default)
  | 'ERR_TORCH' // libtorch refused the operation
  | 'ERR_IO' // a file could not be read or written, or is not what it claims to be
  | 'ERR_OUT_OF_MEMORY' // an allocation failed
  | 'ERR_NAPI'; // the JavaScript engine refused a native call

/**
 * Every error torchkd raises. The message names the op and, for native errors, the shape, dtype and
 * device of each tensor argument: `add(): The size of tensor a (3) must match ... (self: float32[2, 3] on
 * cpu, other: float32[4] on cpu)`.
 */
export class TorchError extends Error {
  /** The op that failed, when known. */
  op?: string;
  /** What went wrong: see TorchErrorCode. */
  code: TorchErrorCode | string;

  constructor(message: string, options: { code?: TorchErrorCode; op?: string; cause?: unknown } = {}) {
    super(typeof message === 'string' ? message : formatValue(message), options?.cause === undefined ? undefined : { cause: options.cause });
    options ??= {};
    this.name = 'TorchError';
    this.code = options.code ?? 'ERR_INVALID_ARG';
    if (options.op !== undefined) this.op = options.op;
  }
}

/** Throws a TorchError for a JS argument of the wrong kind. */
export function argError(op: string, message: string): never {
  throw new TorchError(`${op}(): ${message}`, { op, code: 'ERR_INVALID_ARG' });
}

/** 'number', 'string', 'Tensor', 'null', 'Array'... for messages. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  if (typeof v === 'object') {
    try {
      const name = (v as object).constructor?.name;
      return typeof name === 'string' && name !== '' ? name : 'object';
    } catch {
      return 'object'; // a Proxy or a getter that throws
    }
  }
  return typeof v;
}

/**
 * A user's value shown in an error message: JSON-like for the plain cases, never throwing, whatever the
 * value (bigints, cycles, getters that throw, Proxies), and short (long strings, arrays and objects are
 * cut, a sparse array of 2^32 - 1 holes costs as much as an empty one).
 */
export function formatValue(v: unknown, maxLength = 80): string {
  const seen = new Set<object>();
  const show = (x: unknown, depth: number): string => {
    switch (typeof x) {
      case 'string': return JSON.stringify(x.length > maxLength ? `${x.slice(0, maxLength)}...` : x);
      case 'bigint': return `${x}n`;
      case 'number': case 'boolean': case 'undefined': return String(x);
      case 'symbol': return x.toString();
      case 'function': return `[function ${x.name || 'anonymous'}]`;
    }
    if (x === null) return 'null';
    const o = x as object;
    if (seen.has(o)) return '[circular]';
    if (depth > 2) return Array.isArray(o) ? '[...]' : '{...}';
    seen.add(o);
    try {
      if (Array.isArray(o)) {
        const items: string[] = [];
        for (let i = 0; i < Math.min(o.length, 8); i++) items.push(i in o ? show(o[i], depth + 1) : '<hole>');
        return `[${items.join(', ')}${o.length > 8 ? `, ... (${o.length} items)` : ''}]`;
      }
      const kind = kindOf(o);
      if (kind !== 'Object' && kind !== 'object') return `[${kind}]`;
      const keys = Object.keys(o);
      const items = keys.slice(0, 8).map((k) => `${JSON.stringify(k)}: ${show((o as Record<string, unknown>)[k], depth + 1)}`);
      return `{${items.join(', ')}${keys.length > 8 ? ', ...' : ''}}`;
    } catch {
      return `[${kindOf(o)}]`;
    } finally {
      seen.delete(o);
    }
  };
  const s = show(v, 0);
  return s.length > maxLength * 2 ? `${s.slice(0, maxLength * 2)}...` : s;
}

/** An options argument: `{}` when undefined, else it must be an object (not null, not an array). */
export function optionsArg<T extends object>(op: string, v: T | undefined, name = 'options'): T {
  if (v === undefined) return {} as T;
  return objectArg(op, name, v);
}

/** A required object argument (a config, a model's options). */
export function objectArg<T extends object>(op: string, name: string, v: T): T {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) argError(op, `${name} must be an object, got ${kindOf(v)}`);
  return v;
}

/** A list argument: an Array (its items are the caller's to check, index by index). */
export function arrayArg<T>(op: string, name: string, v: readonly T[]): readonly T[] {
  if (!Array.isArray(v)) argError(op, `${name} must be an array, got ${kindOf(v)}`);
  return v;
}

export function stringArg(op: string, name: string, v: string): string {
  if (typeof v !== 'string') argError(op, `${name} must be a string, got ${kindOf(v)}`);
  return v;
}

export function functionArg<F extends (...args: never[]) => unknown>(op: string, name: string, v: F): F {
  if (typeof v !== 'function') argError(op, `${name} must be a function, got ${kindOf(v)}`);
  return v;
}

/** A count or an index: a finite integer ≥ min. */
export function intArg(op: string, name: string, v: number, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) argError(op, `${name} must be an integer ≥ ${min}, got ${formatValue(v)}`);
  return v;
}

/** A list of finite numbers (integers ≥ 0 with `indices`), read index by index. */
export function numbersArg(op: string, name: string, v: readonly number[], indices = false): readonly number[] {
  arrayArg(op, name, v);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !(indices ? Number.isInteger(x) && x >= 0 : Number.isFinite(x))) {
      argError(op, `${name}[${i}] must be ${indices ? 'a non-negative integer' : 'a finite number'}, got ${formatValue(x)}`);
    }
  }
  return v;
}

/** A list of strings, read index by index. */
export function stringsArg(op: string, name: string, v: readonly string[]): readonly string[] {
  arrayArg(op, name, v);
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') argError(op, `${name}[${i}] must be a string, got ${kindOf(v[i])}`);
  return v;
}
