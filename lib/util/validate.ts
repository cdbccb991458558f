// A small validator for JSON configurations: every check names the JSON path of the value
// (`config.terms[1].temperature must be a positive number, got "4"`), unknown keys are errors, and all
// problems are collected before one ConfigError reports them.
import { formatValue, stringsArg, TorchError } from '../torch/errors';

/** A configuration with one or more problems; `errors` holds one message per problem. */
export class ConfigError extends TorchError {
  readonly errors: string[];
  constructor(errors: string[], what = 'invalid configuration') {
    stringsArg('ConfigError', 'errors', errors);
    super(`${what}:\n  ${errors.join('\n  ')}`);
    this.name = 'ConfigError';
    this.errors = errors;
  }
}

/** A value, JSON-like and shortened, for messages (any value: bigints, cycles...). */
export function show(v: unknown): string {
  return v === undefined ? 'nothing' : formatValue(v, 30);
}

/** Levenshtein distance (case-insensitive when asked), for "did you mean" hints. */
function editDistance(a: string, b: string, ignoreCase: boolean): number {
  const same = ignoreCase ? (x: string, y: string) => x.toLowerCase() === y.toLowerCase() : (x: string, y: string) => x === y;
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (same(a[i - 1], b[j - 1]) ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The candidate closest to `word` within 2 edits (the first of equals), or null. */
export function closest(word: string, candidates: readonly string[], options: { ignoreCase?: boolean } = {}): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const c of candidates) {
    const k = editDistance(word, c, options.ignoreCase ?? true);
    if (k < bestDistance) {
      best = c;
      bestDistance = k;
    }
  }
  return best;
}

export interface NumberRule {
  integer?: boolean;
  /** Inclusive bounds, or exclusive with `gt`. */
  min?: number;
  max?: number;
  gt?: number;
}

/** Collects errors; each check returns the value when it is valid, else undefined (and records why). */
export class Validator {
  readonly errors: string[] = [];

  fail(path: string, message: string): undefined {
    this.errors.push(`${path} ${message}`);
    return undefined;
  }

  /** Throws a ConfigError listing every recorded problem, if any. */
  throwIfAny(what?: string): void {
    if (this.errors.length > 0) throw new ConfigError(this.errors, what);
  }

  /** A plain object whose keys are all in `allowed` (an unknown key is an error, with a "did you mean"). */
  object(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return this.fail(path, `must be an object, got ${show(v)}`);
    const obj = v as Record<string, unknown>;
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) {
        const hint = closest(k, allowed);
        this.fail(`${path}.${k}`, `is not a known key${hint ? ` (did you mean '${hint}'?)` : ''}; known keys: ${allowed.join(', ')}`);
      }
    }
    return obj;
  }

  required(obj: Record<string, unknown>, key: string, path: string, what: string): boolean {
    if (obj[key] !== undefined) return true;
    this.fail(`${path}.${key}`, `is required (${what})`);
    return false;
  }

  number(v: unknown, path: string, rule: NumberRule = {}): number | undefined {
    const { integer = false, min, max, gt } = rule;
    let what = integer ? 'an integer' : 'a number';
    if (gt === 0) what = integer ? 'a positive integer' : 'a positive number';
    else if (min === 0 && max === undefined) what = integer ? 'a non-negative integer' : 'a non-negative number';
    else if (min !== undefined && max !== undefined) what = `${what} in [${min}, ${max}]`;
    else if (min !== undefined) what = `${what} ≥ ${min}`;
    else if (gt !== undefined) what = `${what} > ${gt}`;
    else if (max !== undefined) what = `${what} ≤ ${max}`;
    const ok = typeof v === 'number' && Number.isFinite(v) && (!integer || Number.isInteger(v)) &&
      (min === undefined || v >= min) && (max === undefined || v <= max) && (gt === undefined || v > gt);
    return ok ? (v as number) : this.fail(path, `must be ${what}, got ${show(v)}`);
  }

  string(v: unknown, path: string): string | undefined {
    return typeof v === 'string' && v !== '' ? v : this.fail(path, `must be a non-empty string, got ${show(v)}`);
  }

  boolean(v: unknown, path: string): boolean | undefined {
    return typeof v === 'boolean' ? v : this.fail(path, `must be true or false, got ${show(v)}`);
  }

  oneOf<T extends string>(v: unknown, path: string, choices: readonly T[]): T | undefined {
    if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
    const hint = typeof v === 'string' ? closest(v, choices) : null;
    return this.fail(path, `must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${show(v)}${hint ? ` (did you mean '${hint}'?)` : ''}`);
  }

  array(v: unknown, path: string, minLength = 0): unknown[] | undefined {
    if (!Array.isArray(v)) return this.fail(path, `must be an array, got ${show(v)}`);
    if (v.length < minLength) return this.fail(path, `must have at least ${minLength} element${minLength > 1 ? 's' : ''}`);
    return v;
  }

  /** A non-empty list of strings. */
  strings(v: unknown, path: string): string[] | undefined {
    const a = this.array(v, path, 1);
    if (!a) return undefined;
    const bad = a.findIndex((s) => typeof s !== 'string' || s === '');
    return bad < 0 ? (a as string[]) : this.fail(`${path}[${bad}]`, `must be a non-empty string, got ${show(a[bad])}`);
  }

  /** [student path, teacher path] pairs. */
  pairs(v: unknown, path: string): [string, string][] | undefined {
    const a = this.array(v, path, 1);
    if (!a) return undefined;
    let ok = true;
    a.forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'string') {
        this.fail(`${path}[${i}]`, `must be a [student layer, teacher layer] pair of module paths, got ${show(p)}`);
        ok = false;
      }
    });
    return ok ? (a as [string, string][]) : undefined;
  }

  /** Checks an optional key with `check` when present. */
  optional<T>(obj: Record<string, unknown>, key: string, path: string, check: (v: unknown, p: string) => T | undefined): T | undefined {
    return obj[key] === undefined ? undefined : check(obj[key], `${path}.${key}`);
  }
}
