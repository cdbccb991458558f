/**
 * Every error torchkd raises. The message names the op and, for native errors, the shape, dtype and
 * device of each tensor argument: `add(): The size of tensor a (3) must match ... (self: float32[2, 3] on
 * cpu, other: float32[4] on cpu)`.
 */
export class TorchError extends Error {
  /** The op that failed, when known. */
  op?: string;
  /** 'ERR_TORCH' (libtorch refused), 'ERR_INVALID_ARG' (bad JS argument), or 'ERR_NAPI'. */
  code?: string;

  constructor(message: string) {
    super(message);
    this.name = 'TorchError';
  }
}

/** Throws a TorchError for a JS argument of the wrong kind. */
export function argError(op: string, message: string): never {
  const e = new TorchError(`${op}(): ${message}`);
  e.op = op;
  e.code = 'ERR_INVALID_ARG';
  throw e;
}

/** 'number', 'string', 'Tensor', 'null', 'Array'... for messages. */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'Array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
