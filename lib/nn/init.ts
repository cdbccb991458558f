// nn.init: in-place initialisers with PyTorch's gains and fan computations. Each runs without autograd and
// returns its tensor. On CPU, the numbers equal PyTorch's after the same torch.manualSeed (uniform draws
// exactly; normal draws to the last bit or two).
import { functionArg, optionsArg, TorchError } from '../torch/errors';
import { asTensor, Tensor } from '../torch/tensor';
import { noGrad } from '../torch/autograd';
import * as torch from '../torch';
import { versionAtLeast } from '../torch/version';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

/** Recommended gain: 1 (linear, conv, sigmoid), 5/3 (tanh), √2 (relu), √(2/(1+slope²)) (leaky_relu, slope 0.01), 3/4 (selu). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d': case 'conv_transpose1d':
    case 'conv_transpose2d': case 'conv_transpose3d': case 'sigmoid':
      return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number') throw new TorchError(`negative_slope ${String(slope)} not a valid number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu': return 3 / 4;
    default: throw new TorchError(`Unsupported nonlinearity ${String(nonlinearity)}`);
  }
}

/** fan_in = size(1)·receptive field, fan_out = size(0)·receptive field (receptive field = Π size(2:)). */
export function calculateFanInAndFanOut(tensor: Tensor): { fanIn: number; fanOut: number } {
  const shape = asTensor(tensor, 'nn.init.calculateFanInAndFanOut', 'tensor').shape;
  if (shape.length < 2) {
    throw new TorchError('Fan in and fan out can not be computed for tensor with fewer than 2 dimensions');
  }
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

let skipDepth = 0;

/**
 * @internal Runs fn with the random initialisers turned into no-ops (no draws from the generator), for
 * modules whose values are overwritten right away (copies, as PyTorch's deepcopy, which draws nothing).
 */
export function withoutRandomInit<T>(fn: () => T): T {
  functionArg('nn.init.withoutRandomInit', 'fn', fn);
  skipDepth++;
  try {
    return fn();
  } finally {
    skipDepth--;
  }
}

function fill(tensor: Tensor, make: () => Tensor): Tensor {
  if (skipDepth > 0) return tensor;
  noGrad(() => torch.tidy(() => { tensor.copy_(make()); }));
  return tensor;
}

/** Fills with U(a, b) (defaults 0, 1), drawing exactly as PyTorch's uniform_. */
export function uniform_(tensor: Tensor, a = 0, b = 1): Tensor {
  asTensor(tensor, 'nn.init.uniform_', 'tensor');
  return fill(tensor, () => {
    const u = torch.rand(tensor.shape, { dtype: tensor.dtype, device: tensor.device });
    if (tensor.dtype === 'float64') return u.mul_(b - a).add_(a);
    // PyTorch computes u·(to − from) + from in double, from and to first cast to the tensor's dtype.
    const from = Math.fround(a);
    const to = Math.fround(b);
    return u.to('float64').mul_(to - from).add_(from).to(tensor.dtype);
  });
}

/** Fills with N(mean, std²) (defaults 0, 1). */
export function normal_(tensor: Tensor, mean = 0, std = 1): Tensor {
  asTensor(tensor, 'nn.init.normal_', 'tensor');
  return fill(tensor, () => torch.randn(tensor.shape, { dtype: tensor.dtype, device: tensor.device }).mul_(std).add_(mean));
}

const erfScalar = (x: number): number => torch.tidy(() => torch.tensor([x], { dtype: 'float64' }).erf().item());

/** erfinv on a float64 tensor: Giles' single-precision approximation, then Newton steps on erf. */
function erfinv(y: Tensor): Tensor {
  const w = y.mul(y).neg().log1p().neg();
  const small = w.lt(5);
  const ws = w.sub(2.5);
  let ps = ws.mul(2.81022636e-08).add(3.43273939e-07);
  for (const c of [-3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]) {
    ps = ps.mul(ws).add(c);
  }
  const wl = w.sqrt().sub(3);
  let pl = wl.mul(-0.000200214257).add(0.000100950558);
  for (const c of [0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]) {
    pl = pl.mul(wl).add(c);
  }
  let x = torch.where(small, ps, pl).mul(y);
  const k = 2 / Math.sqrt(Math.PI);
  for (let i = 0; i < 3; i++) {
    x = x.sub(x.erf().sub(y).div(x.square().neg().exp().mul(k)));
  }
  return x;
}

/**
 * Fills with N(mean, std²) truncated to [a, b] (defaults 0, 1, −2, 2), drawing as the PyTorch of this
 * libtorch does. Up to 2.11: uniform on [2Φ(a')−1, 2Φ(b')−1], erfinv, ·std√2 + mean, clamp. From 2.12
 * (pytorch#174997, which fixed the erfinv outliers at small std): rejection sampling, redrawing from
 * N(mean, std²) what falls outside [a, b] when that mass p is over 0.3, else uniform proposals on [a, b]
 * accepted with probability exp(−((x − mean)/std)²/2) relative to the density's peak in [a, b].
 */
export function truncNormal_(tensor: Tensor, mean = 0, std = 1, a = -2, b = 2): Tensor {
  asTensor(tensor, 'nn.init.truncNormal_', 'tensor');
  if (skipDepth > 0) return tensor;
  const normCdf = (x: number) => (1 + erfScalar(x / Math.SQRT2)) / 2;
  const l = normCdf((a - mean) / std);
  const u = normCdf((b - mean) / std);
  if (!versionAtLeast(2, 12)) {
    return fill(tensor, () => {
      const t = torch.empty(tensor.shape, { dtype: tensor.dtype, device: tensor.device });
      uniform_(t, 2 * l - 1, 2 * u - 1);
      const x = erfinv(t.to('float64')).to(tensor.dtype);
      return x.mul_(std * Math.SQRT2).add_(mean).clamp_(a, b);
    });
  }
  return fill(tensor, () => (u - l > 0.3 ? redrawOutside(tensor, mean, std, a, b) : acceptReject(tensor, mean, std, a, b)));
}

/** N(mean, std²) draws, those outside [a, b] (a and b in the tensor's dtype) redrawn until none is. */
function redrawOutside(like: Tensor, mean: number, std: number, a: number, b: number): Tensor {
  const lo = torch.tensor([a], { dtype: like.dtype }).item();
  const hi = torch.tensor([b], { dtype: like.dtype }).item();
  let result = torch.emptyLike(like).normal_(mean, std);
  for (;;) {
    const outside = result.lt(lo).logicalOr(result.gt(hi));
    if (!outside.any().item()) return result;
    result = torch.where(outside, torch.emptyLike(result).normal_(mean, std), result);
  }
}

/** Uniform proposals on [a, b], each accepted when log U < log-density − log-peak, until all are. */
function acceptReject(like: Tensor, mean: number, std: number, a: number, b: number): Tensor {
  const mode = Math.max(a, Math.min(mean, b));
  const logPeak = -0.5 * ((mode - mean) / std) ** 2;
  const logDensity = (x: Tensor) => x.sub(mean).div_(std).pow_(2).mul_(-0.5).sub_(logPeak);
  let result = torch.emptyLike(like).uniform_(a, b);
  const acceptBuf = torch.emptyLike(like);
  let pending = acceptBuf.uniform_().log_().gt(logDensity(result));
  while (pending.any().item()) {
    const candidates = torch.emptyLike(like).uniform_(a, b);
    result = torch.where(pending, candidates, result);
    pending = torch.where(pending, acceptBuf.uniform_().log_().gt(logDensity(candidates)), pending);
  }
  return result;
}

/** Fills with val. */
export function constant_(tensor: Tensor, val: number): Tensor {
  asTensor(tensor, 'nn.init.constant_', 'tensor');
  noGrad(() => tensor.fill_(val));
  return tensor;
}
/** Fills with 0. */
export function zeros_(tensor: Tensor): Tensor {
  asTensor(tensor, 'nn.init.zeros_', 'tensor');
  noGrad(() => tensor.zero_());
  return tensor;
}
/** Fills with 1. */
export function ones_(tensor: Tensor): Tensor {
  asTensor(tensor, 'nn.init.ones_', 'tensor');
  return constant_(tensor, 1);
}

/** U(−a, a) with a = gain·√(6 / (fan_in + fan_out)) (Glorot). */
export function xavierUniform_(tensor: Tensor, gain = 1): Tensor {
  asTensor(tensor, 'nn.init.xavierUniform_', 'tensor');
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor);
  const std = gain * Math.sqrt(2 / (fanIn + fanOut));
  const a = Math.sqrt(3) * std;
  return uniform_(tensor, -a, a);
}
/** N(0, std²) with std = gain·√(2 / (fan_in + fan_out)). */
export function xavierNormal_(tensor: Tensor, gain = 1): Tensor {
  asTensor(tensor, 'nn.init.xavierNormal_', 'tensor');
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor);
  return normal_(tensor, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

export interface KaimingOptions {
  /** Negative slope of the leaky_relu after this layer (default 0). */
  a?: number;
  /** 'fan_in' (default) preserves the forward variance, 'fan_out' the backward one. */
  mode?: FanMode;
  /** Default 'leaky_relu'. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(tensor: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor);
  const mode = o.mode ?? 'fan_in';
  if (mode !== 'fan_in' && mode !== 'fan_out') {
    throw new TorchError(`Mode ${String(mode)} not supported, please use one of fan_in, fan_out`);
  }
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  return gain / Math.sqrt(mode === 'fan_in' ? fanIn : fanOut);
}

/** U(−bound, bound), bound = gain·√(3 / fan) (He). kaimingUniform_(w, { a: √5 }) is Linear's default. */
export function kaimingUniform_(tensor: Tensor, options?: KaimingOptions): Tensor {
  asTensor(tensor, 'nn.init.kaimingUniform_', 'tensor');
  options = optionsArg('nn.init.kaimingUniform_', options);
  if (tensor.numel() === 0) return tensor;
  const bound = Math.sqrt(3) * kaimingStd(tensor, options);
  return uniform_(tensor, -bound, bound);
}
/** N(0, std²), std = gain / √fan (He). */
export function kaimingNormal_(tensor: Tensor, options?: KaimingOptions): Tensor {
  asTensor(tensor, 'nn.init.kaimingNormal_', 'tensor');
  options = optionsArg('nn.init.kaimingNormal_', options);
  if (tensor.numel() === 0) return tensor;
  return normal_(tensor, 0, kaimingStd(tensor, options));
}

/** A (semi-)orthogonal matrix from the QR decomposition of a normal draw, times gain (Saxe et al. 2013). */
export function orthogonal_(tensor: Tensor, gain = 1): Tensor {
  asTensor(tensor, 'nn.init.orthogonal_', 'tensor');
  if (tensor.ndim < 2) throw new TorchError('Only tensors with 2 or more dimensions are supported');
  if (tensor.numel() === 0) return tensor;
  const rows = tensor.shape[0];
  const cols = tensor.numel() / rows;
  return fill(tensor, () => {
    let flat = torch.randn([rows, cols], { dtype: tensor.dtype, device: tensor.device });
    if (rows < cols) flat = flat.t();
    let { Q: q, R: r } = torch.linalg.qr(flat);
    q = q.mul(torch.diag(r, 0).sign());
    if (rows < cols) q = q.t();
    return q.reshape(tensor.shape).mul(gain);
  });
}
