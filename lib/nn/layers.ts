// Layers with PyTorch's defaults and default initialisation.
import { TorchError } from '../torch/errors';
import { Tensor } from '../torch/tensor';
import type { Device, DType } from '../torch/dtype';
import { noGrad } from '../torch/autograd';
import * as torch from '../torch';
import { Module } from './module';
import * as init from './init';

const F = torch.nn.functional;

/** Where a layer's parameters are created. */
export interface FactoryOptions {
  device?: Device | string;
  dtype?: DType;
}

type IntOrPair = number | [number, number];

function emptyParam(shape: number[], o: FactoryOptions): Tensor {
  return torch.empty(shape, { dtype: o.dtype ?? 'float32', device: o.device as Device | undefined });
}

/** The bias bound 1/√fan_in that Linear and Conv use. */
function initBias(bias: Tensor | null, weight: Tensor): void {
  if (bias === null) return;
  const { fanIn } = init.calculateFanInAndFanOut(weight);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  init.uniform_(bias, -bound, bound);
}

const pair = (v: IntOrPair): [number, number] => (Array.isArray(v) ? v : [v, v]);

// ------------------------------------------------------------------------------------------- Linear

/**
 * y = x Wᵀ + b. weight [outFeatures, inFeatures] ~ U(−1/√in, 1/√in) (kaiming_uniform_(a=√5)), bias likewise.
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number,
    options: { bias?: boolean } & FactoryOptions = {}) {
    super();
    this.weight = this.registerParameter('weight', emptyParam([outFeatures, inFeatures], options));
    this.bias = this.registerParameter('bias', options.bias ?? true ? emptyParam([outFeatures], options) : null);
    this.resetParameters();
  }
  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    initBias(this.bias, this.weight);
    this.weight.requiresGrad_(true);
    this.bias?.requiresGrad_(true);
  }
  forward(input: Tensor): Tensor {
    return F.linear(input, this.weight, this.bias);
  }
  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** Returns its input. */
export class Identity extends Module {
  forward(input: Tensor): Tensor {
    return input;
  }
}

// ---------------------------------------------------------------------------------------- Embedding

/** A lookup table: weight [numEmbeddings, embeddingDim] ~ N(0, 1); the paddingIdx row is zero and gets no gradient. */
export class Embedding extends Module {
  readonly weight: Tensor;
  readonly paddingIdx: number | null;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number,
    options: { paddingIdx?: number | null; scaleGradByFreq?: boolean } & FactoryOptions = {}) {
    super();
    let p = options.paddingIdx ?? null;
    if (p !== null) {
      if (p >= numEmbeddings || p < -numEmbeddings) throw new TorchError('Padding_idx must be within num_embeddings');
      if (p < 0) p += numEmbeddings;
    }
    this.paddingIdx = p;
    this.scaleGradByFreq = options.scaleGradByFreq ?? false;
    this.weight = this.registerParameter('weight', emptyParam([numEmbeddings, embeddingDim], options));
    init.normal_(this.weight);
    if (p !== null) noGrad(() => torch.tidy(() => { this.weight.select(0, p as number).fill_(0); }));
    this.weight.requiresGrad_(true);
  }
  readonly scaleGradByFreq: boolean;
  forward(input: Tensor): Tensor {
    return F.embedding(input, this.weight, this.paddingIdx, this.scaleGradByFreq);
  }
}

// ------------------------------------------------------------------------------------ normalisation

/** (x − E[x]) / √(Var[x] + eps) · γ + β over the last dims normalizedShape; eps 1e-5; γ = 1, β = 0. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(normalizedShape: number | number[],
    options: { eps?: number; elementwiseAffine?: boolean } & FactoryOptions = {}) {
    super();
    this.normalizedShape = Array.isArray(normalizedShape) ? normalizedShape : [normalizedShape];
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = this.registerParameter('weight', affine ? init.ones_(emptyParam(this.normalizedShape, options)).requiresGrad_(true) : null);
    this.bias = this.registerParameter('bias', affine ? init.zeros_(emptyParam(this.normalizedShape, options)).requiresGrad_(true) : null);
  }
  forward(input: Tensor): Tensor {
    return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

/** Group normalisation over numGroups channel groups; eps 1e-5; γ = 1, β = 0. */
export class GroupNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(readonly numGroups: number, readonly numChannels: number,
    options: { eps?: number; affine?: boolean } & FactoryOptions = {}) {
    super();
    if (numChannels % numGroups !== 0) throw new TorchError('num_channels must be divisible by num_groups');
    this.eps = options.eps ?? 1e-5;
    const affine = options.affine ?? true;
    this.weight = this.registerParameter('weight', affine ? init.ones_(emptyParam([numChannels], options)).requiresGrad_(true) : null);
    this.bias = this.registerParameter('bias', affine ? init.zeros_(emptyParam([numChannels], options)).requiresGrad_(true) : null);
  }
  forward(input: Tensor): Tensor {
    return F.groupNorm(input, this.numGroups, this.weight, this.bias, this.eps);
  }
}

export interface BatchNormOptions extends FactoryOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Running-stat update factor (default 0.1); null for a cumulative average. */
  momentum?: number | null;
  /** Learnable γ, β (default true). */
  affine?: boolean;
  /** Keep running_mean / running_var / num_batches_tracked (default true). */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation. Training: normalises with the batch statistics and updates
 * running = (1 − momentum)·running + momentum·batch (unbiased variance), num_batches_tracked += 1.
 * Eval: normalises with the running statistics.
 */
class BatchNormBase extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    const affine = options.affine ?? true;
    const track = options.trackRunningStats ?? true;
    this.weight = this.registerParameter('weight', affine ? init.ones_(emptyParam([numFeatures], options)).requiresGrad_(true) : null);
    this.bias = this.registerParameter('bias', affine ? init.zeros_(emptyParam([numFeatures], options)).requiresGrad_(true) : null);
    this.runningMean = this.registerBuffer('running_mean', track ? init.zeros_(emptyParam([numFeatures], options)) : null);
    this.runningVar = this.registerBuffer('running_var', track ? init.ones_(emptyParam([numFeatures], options)) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked',
      track ? torch.zeros([], { dtype: 'int64', device: options.device as Device | undefined }) : null);
  }
  protected checkInputDim(_input: Tensor): void {}
  forward(input: Tensor): Tensor {
    this.checkInputDim(input);
    let factor = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked !== null) {
      const nbt = this.numBatchesTracked;
      noGrad(() => nbt.add_(1));
      if (this.momentum === null) factor = 1 / nbt.item();
    }
    const useBatchStats = this.training || this.runningMean === null;
    return F.batchNorm(input, this.runningMean, this.runningVar, this.weight, this.bias, useBatchStats, factor, this.eps);
  }
}

/** BatchNorm over [N, C] or [N, C, L] inputs. */
export class BatchNorm1d extends BatchNormBase {
  protected override checkInputDim(input: Tensor): void {
    if (input.ndim !== 2 && input.ndim !== 3) throw new TorchError(`expected 2D or 3D input (got ${input.ndim}D input)`);
  }
}
/** BatchNorm over [N, C, H, W] inputs. */
export class BatchNorm2d extends BatchNormBase {
  protected override checkInputDim(input: Tensor): void {
    if (input.ndim !== 4) throw new TorchError(`expected 4D input (got ${input.ndim}D input)`);
  }
}

// ------------------------------------------------------------------------------------------ Dropout

/** Zeroes elements with probability p (default 0.5) in training and scales the rest by 1/(1 − p); identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (p < 0 || p > 1) throw new TorchError(`dropout probability has to be between 0 and 1, but got ${p}`);
  }
  forward(input: Tensor): Tensor {
    return F.dropout(input, this.p, this.training);
  }
}

// -------------------------------------------------------------------------------------- convolution

export interface ConvOptions extends FactoryOptions {
  stride?: number | number[];
  padding?: number | number[] | 'valid' | 'same';
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
}

class ConvBase extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number | number[];
  readonly padding: number | number[] | 'valid' | 'same';
  readonly dilation: number | number[];
  readonly groups: number;
  constructor(readonly inChannels: number, readonly outChannels: number, weightShape: number[],
    options: ConvOptions & { outputPadding?: number | number[] }) {
    super();
    this.groups = options.groups ?? 1;
    if (inChannels % this.groups !== 0) throw new TorchError('in_channels must be divisible by groups');
    if (outChannels % this.groups !== 0) throw new TorchError('out_channels must be divisible by groups');
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.weight = this.registerParameter('weight', emptyParam(weightShape, options));
    this.bias = this.registerParameter('bias', options.bias ?? true ? emptyParam([outChannels], options) : null);
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    initBias(this.bias, this.weight);
    this.weight.requiresGrad_(true);
    this.bias?.requiresGrad_(true);
  }
}

/** 1-d convolution. weight [out, in/groups, k] ~ kaiming_uniform_(a=√5); bias ~ U(±1/√fan_in). */
export class Conv1d extends ConvBase {
  constructor(inChannels: number, outChannels: number, readonly kernelSize: number, options: ConvOptions = {}) {
    super(inChannels, outChannels, [outChannels, inChannels / (options.groups ?? 1), kernelSize], options);
  }
  forward(input: Tensor): Tensor {
    const pad = this.padding;
    if (typeof pad === 'string') return F.conv1d(input, this.weight, this.bias, this.stride, pad, this.dilation, this.groups);
    return F.conv1d(input, this.weight, this.bias, this.stride, pad, this.dilation, this.groups);
  }
}

/** 2-d convolution. weight [out, in/groups, kh, kw] ~ kaiming_uniform_(a=√5); bias ~ U(±1/√fan_in). */
export class Conv2d extends ConvBase {
  readonly kernelSize: [number, number];
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrPair, options: ConvOptions = {}) {
    const k = pair(kernelSize);
    super(inChannels, outChannels, [outChannels, inChannels / (options.groups ?? 1), ...k], options);
    this.kernelSize = k;
  }
  forward(input: Tensor): Tensor {
    const pad = this.padding;
    if (typeof pad === 'string') return F.conv2d(input, this.weight, this.bias, this.stride, pad, this.dilation, this.groups);
    return F.conv2d(input, this.weight, this.bias, this.stride, pad, this.dilation, this.groups);
  }
}

/** Transposed 2-d convolution. weight [in, out/groups, kh, kw]; init as Conv2d with fan_in = out/groups·kh·kw. */
export class ConvTranspose2d extends ConvBase {
  readonly kernelSize: [number, number];
  readonly outputPadding: number | number[];
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrPair,
    options: Omit<ConvOptions, 'padding'> & { padding?: number | number[]; outputPadding?: number | number[] } = {}) {
    const k = pair(kernelSize);
    super(inChannels, outChannels, [inChannels, outChannels / (options.groups ?? 1), ...k], options);
    this.kernelSize = k;
    this.outputPadding = options.outputPadding ?? 0;
  }
  forward(input: Tensor): Tensor {
    return F.convTranspose2d(input, this.weight, this.bias, this.stride, this.padding as number | number[],
      this.outputPadding, this.groups, this.dilation);
  }
}

// ------------------------------------------------------------------------------------------ pooling

/** Max pooling; stride defaults to kernelSize. */
export class MaxPool2d extends Module {
  readonly stride: number | number[];
  readonly padding: number | number[];
  readonly dilation: number | number[];
  readonly ceilMode: boolean;
  constructor(readonly kernelSize: number | number[],
    options: { stride?: number | number[] | null; padding?: number | number[]; dilation?: number | number[]; ceilMode?: boolean } = {}) {
    super();
    this.stride = options.stride ?? kernelSize;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.ceilMode = options.ceilMode ?? false;
  }
  forward(input: Tensor): Tensor {
    return F.maxPool2d(input, this.kernelSize, this.stride, this.padding, this.dilation, this.ceilMode);
  }
}

/** Average pooling; stride defaults to kernelSize, countIncludePad true. */
export class AvgPool2d extends Module {
  readonly stride: number | number[];
  readonly padding: number | number[];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
  constructor(readonly kernelSize: number | number[],
    options: { stride?: number | number[] | null; padding?: number | number[]; ceilMode?: boolean; countIncludePad?: boolean; divisorOverride?: number | null } = {}) {
    super();
    this.stride = options.stride ?? kernelSize;
    this.padding = options.padding ?? 0;
    this.ceilMode = options.ceilMode ?? false;
    this.countIncludePad = options.countIncludePad ?? true;
    this.divisorOverride = options.divisorOverride ?? null;
  }
  forward(input: Tensor): Tensor {
    return F.avgPool2d(input, this.kernelSize, this.stride, this.padding, this.ceilMode, this.countIncludePad, this.divisorOverride);
  }
}

/** Adaptive average pooling to outputSize. */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | number[]) {
    super();
  }
  forward(input: Tensor): Tensor {
    return F.adaptiveAvgPool2d(input, this.outputSize);
  }
}

/** Flattens dims startDim..endDim (defaults 1, −1). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }
}

// -------------------------------------------------------------------------------------- activations

/** max(0, x). */
export class ReLU extends Module {
  forward(input: Tensor): Tensor {
    return F.relu(input);
  }
}
/** x·Φ(x); approximate: 'none' (default) or 'tanh'. */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(input: Tensor): Tensor {
    return F.gelu(input, this.approximate);
  }
}
/** x·σ(x). */
export class SiLU extends Module {
  forward(input: Tensor): Tensor {
    return F.silu(input);
  }
}
/** tanh(x). */
export class Tanh extends Module {
  forward(input: Tensor): Tensor {
    return input.tanh();
  }
}
/** σ(x). */
export class Sigmoid extends Module {
  forward(input: Tensor): Tensor {
    return input.sigmoid();
  }
}
/** softmax along dim (required: PyTorch's implicit dim is deprecated). */
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
  }
  forward(input: Tensor): Tensor {
    return F.softmax(input, this.dim);
  }
}
