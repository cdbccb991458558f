// Tensor attributes that PyTorch exposes as properties rather than methods: x.real, x.imag, x.T, x.mT.
import { imag, permute, real, transpose } from './ops.generated';
import { Tensor } from './tensor';

declare module './tensor' {
  interface Tensor {
    /** The real part: a view for complex tensors, the tensor itself (a new handle) for real ones. */
    readonly real: Tensor;
    /** The imaginary part (a view); complex tensors only. */
    readonly imag: Tensor;
    /** All dimensions reversed (PyTorch's x.T). */
    readonly T: Tensor;
    /** The last two dimensions swapped (PyTorch's x.mT). */
    readonly mT: Tensor;
  }
}

Object.defineProperties(Tensor.prototype, {
  real: { get(this: Tensor) { return real(this); }, configurable: true },
  imag: { get(this: Tensor) { return imag(this); }, configurable: true },
  T: { get(this: Tensor) { return permute(this, [...Array(this.dim()).keys()].reverse()); }, configurable: true },
  mT: { get(this: Tensor) { return transpose(this, -2, -1); }, configurable: true },
});
