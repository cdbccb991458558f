// Command-line flags: `--flag value` and `--flag=value`, typed (integers, numbers, choices, lists, files),
// with usage errors that name the flag, and help text that lists every flag with its default.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { closest } from '../util/validate';

/** A mistake on the command line (exit code 2); everything else that fails is a runtime error (exit code 1). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * 'file': a path that must name an existing file; 'path': any path (an output); 'int' / 'number': finite
 * numbers (with `min`); 'choice': one of `choices`; 'list': comma-separated non-empty strings;
 * 'boolean': `--flag` alone, `--flag=true|false`, or `--no-flag`; 'device': cpu, cuda or cuda:N.
 */
export type FlagKind = 'string' | 'path' | 'file' | 'int' | 'number' | 'choice' | 'list' | 'boolean' | 'device';

export type FlagValue = string | number | boolean | string[];

export interface Flag {
  /** The name after `--` (kebab-case); the parsed value is stored under its camelCase form. */
  name: string;
  kind: FlagKind;
  description: string;
  default?: FlagValue;
  required?: boolean;
  choices?: readonly string[];
  /** Smallest accepted value (int / number), whether it is excluded, and the largest accepted value. */
  min?: number;
  exclusiveMin?: boolean;
  max?: number;
  /** What the value looks like in the help text (default from the kind: N, X, FILE, DIR...). */
  placeholder?: string;
}

export interface CommandSpec {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The usage line after `torchkd `, e.g. 'text --train FILE --test FILE [options]'. */
  usage: string;
  /** Paragraphs printed between the usage line and the options. */
  description?: string;
  flags: Flag[];
  examples?: string[];
  /**
   * The command takes a program and its arguments after its flags (e.g. `run ... script.js [args]`): the
   * first argument that is not a flag and everything after it are passed on verbatim, in `values.rest`.
   */
  rest?: string;
}

export type Values = Record<string, FlagValue | undefined>;

/** Where a command's own flags end: the index of its first positional argument (spec.rest), else the length. */
function flagsEnd(spec: CommandSpec, argv: readonly string[]): number {
  if (spec.rest === undefined) return argv.length;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') return i;
    if (arg === '--') return i + 1;
    const f = spec.flags.find((x) => x.name === arg.slice(2));
    if (f !== undefined && f.kind !== 'boolean' && !arg.includes('=')) i++;
  }
  return argv.length;
}

/** 'max-length' → 'maxLength'. */
export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function placeholder(f: Flag): string {
  if (f.placeholder) return f.placeholder;
  switch (f.kind) {
    case 'int': return 'N';
    case 'number': return 'X';
    case 'file': return 'FILE';
    case 'path': return 'PATH';
    case 'choice': return (f.choices ?? []).join('|');
    case 'list': return 'A,B,...';
    case 'device': return 'cpu|cuda';
    default: return 'VALUE';
  }
}

/** ' (did you mean X?)' for the closest candidate within 2 edits, else ''. */
export function suggest(word: string, candidates: readonly string[], prefix = ''): string {
  const best = closest(word, candidates, { ignoreCase: false });
  return best === null ? '' : ` (did you mean ${prefix}${best}?)`;
}

function convert(f: Flag, raw: string): FlagValue {
  const flag = `--${f.name}`;
  switch (f.kind) {
    case 'int':
    case 'number': {
      const n = Number(raw);
      const ok = raw.trim() !== '' && Number.isFinite(n) && (f.kind === 'number' || /^[+-]?\d+$/.test(raw.trim()));
      const what = f.kind === 'int' ? 'an integer' : 'a number';
      if (!ok) throw new UsageError(`${flag} expects ${what}, got '${raw}'`);
      if (f.min !== undefined && (f.exclusiveMin ? n <= f.min : n < f.min)) {
        throw new UsageError(`${flag} must be ${f.exclusiveMin ? 'greater than' : 'at least'} ${f.min}, got ${raw}`);
      }
      if (f.max !== undefined && n > f.max) throw new UsageError(`${flag} must be at most ${f.max}, got ${raw}`);
      return n;
    }
    case 'choice': {
      const choices = f.choices ?? [];
      if (!choices.includes(raw)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}; got '${raw}'${suggest(raw, choices)}`);
      return raw;
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim());
      if (items.some((s) => s === '')) throw new UsageError(`${flag} expects a comma-separated list without empty items, got '${raw}'`);
      return items;
    }
    case 'file': {
      if (raw === '') throw new UsageError(`${flag} expects a file path, got an empty string`);
      const abs = resolve(raw);
      if (!existsSync(abs)) throw new UsageError(`${flag}: file not found: ${raw}${raw === abs ? '' : ` (${abs})`}`);
      if (!statSync(abs).isFile()) throw new UsageError(`${flag}: not a file: ${raw}`);
      return raw;
    }
    case 'device':
      if (!/^(cpu|cuda(:\d+)?)$/.test(raw)) throw new UsageError(`${flag} must be cpu, cuda or cuda:N, got '${raw}'`);
      return raw;
    case 'path':
    case 'string':
      if (raw === '') throw new UsageError(`${flag} expects a non-empty value`);
      return raw;
    case 'boolean': {
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new UsageError(`${flag} expects true or false, got '${raw}'`);
    }
  }
}

/**
 * Parses argv against a command's flags: `{ help: true }` when -h/--help is present, else the values by
 * camelCase name, defaults filled in. Unknown flags, missing values, repeated flags, bad numbers,
 * missing files, stray arguments and missing required flags are UsageErrors naming the flag.
 */
export function parseFlags(spec: CommandSpec, all: readonly string[]): { help: true } | { help: false; values: Values } {
  const end = flagsEnd(spec, all);
  const argv = all.slice(0, end > 0 && all[end - 1] === '--' ? end - 1 : end);
  if (argv.includes('--help') || argv.includes('-h')) return { help: true };
  const byName = new Map(spec.flags.map((f) => [f.name, f]));
  const values: Values = {};
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      throw new UsageError(`unexpected argument '${arg}' (every option is a --flag; see torchkd ${spec.name} --help)`);
    }
    if (!arg.startsWith('--')) throw new UsageError(`unknown option '${arg}' (options are --flags; see torchkd ${spec.name} --help)`);
    const eq = arg.indexOf('=');
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    let f = byName.get(name);
    let negated = false;
    if (f === undefined && name.startsWith('no-') && byName.get(name.slice(3))?.kind === 'boolean' && inline === undefined) {
      name = name.slice(3);
      f = byName.get(name);
      negated = true;
    }
    if (f === undefined) {
      throw new UsageError(`unknown flag --${name} for '${spec.name}'${suggest(name, [...byName.keys()], '--')}`);
    }
    if (seen.has(f.name)) throw new UsageError(`--${f.name} is given more than once`);
    seen.add(f.name);
    let value: FlagValue;
    if (f.kind === 'boolean') {
      value = negated ? false : inline === undefined ? true : convert(f, inline);
    } else {
      let raw = inline;
      if (raw === undefined) {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2)) {
          throw new UsageError(`--${f.name} needs a value (${placeholder(f)})`);
        }
        raw = next;
        i++;
      }
      value = convert(f, raw);
    }
    values[camel(f.name)] = value;
  }
  if (spec.rest !== undefined) {
    if (end >= all.length) throw new UsageError(`missing ${spec.rest} (see torchkd ${spec.name} --help)`);
    values.rest = all.slice(end);
  }
  for (const f of spec.flags) {
    const key = camel(f.name);
    if (values[key] !== undefined) continue;
    if (f.required) throw new UsageError(`missing required flag --${f.name} ${placeholder(f)} (see torchkd ${spec.name} --help)`);
    if (f.default !== undefined) values[key] = f.default;
  }
  return { help: false, values };
}

function formatDefault(v: FlagValue): string {
  return Array.isArray(v) ? v.join(',') : String(v);
}

/** The help text of a command: usage, description, every flag with its default, examples. */
export function formatHelp(spec: CommandSpec): string {
  const rows = spec.flags.map((f) => {
    const left = f.kind === 'boolean' ? `--${f.name}` : `--${f.name} ${placeholder(f)}`;
    const tail = f.required ? ' (required)' : f.default !== undefined ? ` (default: ${formatDefault(f.default)})` : '';
    return [left, `${f.description}${tail}`];
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, r]) => (l.length + 2 > width ? `  ${l}\n  ${' '.repeat(width)}${r}` : `  ${l.padEnd(width)}${r}`));
  let out = `usage: torchkd ${spec.usage}\n\n${spec.summary}\n`;
  if (spec.description) out += `\n${spec.description.trim()}\n`;
  out += `\noptions:\n${lines.join('\n')}\n`;
  if (spec.examples?.length) out += `\nexamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n`;
  return out;
}
