// Path arguments of every file reader and writer (internal: not part of the io namespace).
import { formatValue, TorchError } from '../torch/errors';

/** Refuses a path that is not a non-empty string (a number would be taken by node:fs as a file descriptor). */
export function checkPath(op: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '') {
    throw new TorchError(`${op}(): path must be a non-empty string, got ${formatValue(path)}`, { op });
  }
}
