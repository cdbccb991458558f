// Function forms of the ops (torch.add(a, b) ≡ a.add(b)).
import type { DType } from './dtype';
import { asTensor, type Tensor } from './tensor';

type Scalar = number | boolean;

export function add(input: Tensor, other: Tensor | Scalar, alpha?: number | { alpha?: number }): Tensor {
  return asTensor(input, 'add').add(other, alpha);
}
export function mul(input: Tensor, other: Tensor | Scalar): Tensor {
  return asTensor(input, 'mul').mul(other);
}
export function matmul(input: Tensor, other: Tensor): Tensor {
  return asTensor(input, 'matmul').matmul(other);
}
export function relu(input: Tensor): Tensor {
  return asTensor(input, 'relu').relu();
}
export function sum(
  input: Tensor,
  dim?: number | number[] | { dim?: number | number[]; keepdim?: boolean; dtype?: DType },
  keepdim?: boolean | { keepdim?: boolean; dtype?: DType },
  options?: { dtype?: DType },
): Tensor {
  return asTensor(input, 'sum').sum(dim, keepdim, options);
}
export function softmax(input: Tensor, dim: number | { dim: number; dtype?: DType }, options?: { dtype?: DType }): Tensor {
  return asTensor(input, 'softmax').softmax(dim, options);
}
