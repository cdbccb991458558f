// Constructor arguments of layers and losses as PyTorch takes them: positional in PyTorch's order, or by
// name in one trailing options object; an unknown name is an error (never silently ignored).
import { TorchError } from '../torch/errors';
import { isOptions } from '../torch/tensor';
import { closest } from '../util/validate';

/**
 * Merges positional arguments (PyTorch's order, `names`) and a trailing options object into one record.
 * Throws a TorchError for an unknown option (with a "did you mean" hint), an argument given both ways, or
 * more positional arguments than the class takes.
 */
export function layerOptions<T extends object>(cls: string, args: readonly unknown[], names: readonly (keyof T & string)[]): Partial<T> {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  let positional = args.slice(0, n);
  let given: Record<string, unknown> = {};
  if (n > 0 && isOptions(args[n - 1])) {
    given = args[n - 1] as Record<string, unknown>;
    positional = args.slice(0, n - 1);
  }
  if (positional.length > names.length) {
    throw new TorchError(`nn.${cls}(): takes at most ${names.length} optional argument(s) (${names.join(', ')}), got ${positional.length}`);
  }
  const out: Record<string, unknown> = {};
  positional.forEach((v, i) => {
    if (isOptions(v)) throw new TorchError(`nn.${cls}(): an options object may only be the last argument`);
    out[names[i]] = v;
  });
  for (const [k, v] of Object.entries(given)) {
    if (!(names as readonly string[]).includes(k)) {
      const hint = closest(k, names);
      throw new TorchError(`nn.${cls}(): unknown option '${k}'${hint ? ` (did you mean '${hint}'?)` : ''}; ` +
        `${cls} takes ${names.length ? names.join(', ') : 'no options'}`);
    }
    if (v === undefined) continue;
    if (out[k] !== undefined) throw new TorchError(`nn.${cls}(): got '${k}' both as a positional argument and as an option`);
    out[k] = v;
  }
  return out as Partial<T>;
}

/** A boolean option (PyTorch's flags: inplace, bias, affine...). */
export function boolOption(cls: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new TorchError(`nn.${cls}(): ${name} must be a boolean, got ${typeof v}`);
  return v;
}

/** A number option. */
export function numberOption(cls: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TorchError(`nn.${cls}(): ${name} must be a number, got ${typeof v}`);
  return v;
}
