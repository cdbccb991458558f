// dtypes and devices: the string names of the API, the codes of the native layer (c10::ScalarType).
import { formatValue, TorchError } from './errors';

export type DType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'bool'
  | 'complex64' | 'complex128';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

/** c10::ScalarType values; stable across libtorch 1.13 and 2.x. */
const CODES: Record<DType, number> = {
  float32: 6, float64: 7, float16: 5, bfloat16: 15, int8: 1, int16: 2, int32: 3, int64: 4, uint8: 0, bool: 11,
  complex64: 9, complex128: 10,
};

const NAMES: DType[] = [];
for (const [name, code] of Object.entries(CODES)) NAMES[code] = name as DType;

export const DTYPES = Object.keys(CODES) as DType[];

/** The native code of a dtype name; op names the caller in the error for an unknown name. */
export function dtypeCode(dtype: DType, op?: string): number {
  if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(CODES, dtype)) {
    throw new TorchError(`${op ? `${op}(): ` : ''}unknown dtype ${formatValue(dtype)}; expected one of ${DTYPES.join(', ')}`, { op });
  }
  return CODES[dtype];
}

/** The code of an optional dtype argument: undefined stays undefined (the op's default). */
export function optDtypeCode(dtype: DType | undefined | null, op?: string): number | undefined {
  return dtype === undefined || dtype === null ? undefined : dtypeCode(dtype, op);
}

export function dtypeName(code: number): DType {
  const name = NAMES[code];
  if (name === undefined) throw new TorchError(`tensor has an unsupported dtype (code ${code})`, { code: 'ERR_TORCH' });
  return name;
}

export function isFloatingPoint(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

export function isComplex(dtype: DType): boolean {
  return dtype === 'complex64' || dtype === 'complex128';
}

const DEVICE = /^(cpu|cuda)(?::(\d{1,9}))?$/;

/** Validates a device name ('cpu', 'cuda', 'cuda:N'); returns it unchanged for the native layer. */
export function checkDevice(device: string): Device {
  const m = typeof device === 'string' ? DEVICE.exec(device) : null;
  if (!m || (m[1] === 'cpu' && m[2] !== undefined && m[2] !== '0')) {
    throw new TorchError(`unknown device ${formatValue(device)}; expected 'cpu', 'cuda' or 'cuda:N'`);
  }
  return device as Device;
}

export function optDevice(device: string | undefined | null): Device | undefined {
  return device === undefined || device === null ? undefined : checkDevice(device);
}

/** Constants `torch.float32` etc., as in PyTorch (plus PyTorch's aliases). */
export const dtypeConstants = {
  float32: 'float32', float: 'float32', float64: 'float64', double: 'float64', float16: 'float16',
  half: 'float16', bfloat16: 'bfloat16', int8: 'int8', int16: 'int16', short: 'int16', int32: 'int32',
  int: 'int32', int64: 'int64', long: 'int64', uint8: 'uint8', bool: 'bool', complex64: 'complex64',
  cfloat: 'complex64', complex128: 'complex128', cdouble: 'complex128',
} as const satisfies Record<string, DType>;
