// Layers with PyTorch's defaults and default initialisation.
import { formatValue, TorchError } from '../torch/errors';
import { Tensor } from '../torch/tensor';
import type { Device, DType } from '../torch/dtype';
import { noGrad } from '../torch/autograd';
import * as torch from '../torch';
import { Module } from './module';
import * as init from './init';
import { boolOption, layerOptions, numberOption } from './options';

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

/** An int or a pair of ints (PyTorch's _pair), checked: anything else is a TorchError naming the layer. */
function pair(cls: string, name: string, v: IntOrPair): [number, number] {
  const p = Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [v, v];
  if (!p.every((x) => Number.isSafeInteger(x) && (x as number) > 0)) {
    throw new TorchError(`nn.${cls}(): ${name} must be a positive integer or a pair of them, got ${formatValue(v)}`);
  }
  return p as [number, number];
}
const FACTORY = ['device', 'dtype'] as const;

// ------------------------------------------------------------------------------------------- Linear

export interface LinearOptions extends FactoryOptions {
  /** Learnable bias (default true). */
  bias?: boolean;
}

/**
 * y = x Wᵀ + b. weight [outFeatures, inFeatures] ~ U(−1/√in, 1/√in) (kaiming_uniform_(a=√5)), bias likewise.
 * `new nn.Linear(784, 10, { bias: false })` (or positionally, `new nn.Linear(784, 10, false)`).
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias?: boolean | LinearOptions, options?: LinearOptions) {
    super();
    const o = layerOptions<LinearOptions>('Linear', [bias, options], ['bias', ...FACTORY]);
    this.weight = this.registerParameter('weight', emptyParam([outFeatures, inFeatures], o));
    this.bias = this.registerParameter('bias', boolOption('Linear', 'bias', o.bias, true) ? emptyParam([outFeatures], o) : null);
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

/** Returns its input (any constructor arguments are ignored, as in PyTorch). */
export class Identity extends Module {
  constructor(..._args: unknown[]) {
    super();
  }
  forward(input: Tensor): Tensor {
    return input;
  }
}

// ---------------------------------------------------------------------------------------- Embedding

export interface EmbeddingOptions extends FactoryOptions {
  /** The row that stays zero and gets no gradient. */
  paddingIdx?: number | null;
  /** Renormalising looked-up rows in place: not supported (must stay null). */
  maxNorm?: number | null;
  normType?: number;
  /** Scale gradients by the inverse frequency of the words in the batch (default false). */
  scaleGradByFreq?: boolean;
  /** Sparse gradients: not supported (must stay false). */
  sparse?: boolean;
  /** A weight to use instead of N(0, 1) initialisation ([numEmbeddings, embeddingDim]). */
  _weight?: Tensor | null;
  /** With _weight: no gradient (Embedding.from_pretrained's freeze). */
  _freeze?: boolean;
}

/** A lookup table: weight [numEmbeddings, embeddingDim] ~ N(0, 1); the paddingIdx row is zero and gets no gradient. */
export class Embedding extends Module {
  readonly weight: Tensor;
  readonly paddingIdx: number | null;
  readonly scaleGradByFreq: boolean;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    const o = layerOptions<EmbeddingOptions>('Embedding', [options],
      ['paddingIdx', 'maxNorm', 'normType', 'scaleGradByFreq', 'sparse', '_weight', '_freeze', ...FACTORY]);
    if (o.maxNorm != null) throw new TorchError('nn.Embedding(): maxNorm (renormalising looked-up rows in place) is not supported; renormalise the weight explicitly');
    if (o.sparse) throw new TorchError('nn.Embedding(): sparse gradients are not supported; leave sparse false');
    let p = o.paddingIdx ?? null;
    if (p !== null) {
      if (p >= numEmbeddings || p < -numEmbeddings) throw new TorchError('Padding_idx must be within num_embeddings');
      if (p < 0) p += numEmbeddings;
    }
    this.paddingIdx = p;
    this.scaleGradByFreq = boolOption('Embedding', 'scaleGradByFreq', o.scaleGradByFreq, false);
    const given = o._weight ?? null;
    if (given !== null && (given.ndim !== 2 || given.shape[0] !== numEmbeddings || given.shape[1] !== embeddingDim)) {
      throw new TorchError('nn.Embedding(): Shape of weight does not match num_embeddings and embedding_dim');
    }
    this.weight = this.registerParameter('weight', given ?? emptyParam([numEmbeddings, embeddingDim], o));
    if (given === null) {
      init.normal_(this.weight);
      if (p !== null) noGrad(() => torch.tidy(() => { this.weight.select(0, p as number).fill_(0); }));
    }
    this.weight.requiresGrad_(!(o._freeze ?? false));
  }
  forward(input: Tensor): Tensor {
    return F.embedding(input, this.weight, this.paddingIdx, this.scaleGradByFreq);
  }
}

// ------------------------------------------------------------------------------------ normalisation

export interface LayerNormOptions extends FactoryOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Learnable γ (and β) (default true). */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine: learnable β (default true). */
  bias?: boolean;
}

/** (x − E[x]) / √(Var[x] + eps) · γ + β over the last dims normalizedShape; eps 1e-5; γ = 1, β = 0. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(normalizedShape: number | number[], eps?: number | LayerNormOptions, options?: LayerNormOptions) {
    super();
    const o = layerOptions<LayerNormOptions>('LayerNorm', [eps, options], ['eps', 'elementwiseAffine', 'bias', ...FACTORY]);
    this.normalizedShape = Array.isArray(normalizedShape) ? normalizedShape : [normalizedShape];
    this.eps = numberOption('LayerNorm', 'eps', o.eps, 1e-5);
    const affine = boolOption('LayerNorm', 'elementwiseAffine', o.elementwiseAffine, true);
    const bias = affine && boolOption('LayerNorm', 'bias', o.bias, true);
    this.weight = this.registerParameter('weight', affine ? init.ones_(emptyParam(this.normalizedShape, o)).requiresGrad_(true) : null);
    this.bias = this.registerParameter('bias', bias ? init.zeros_(emptyParam(this.normalizedShape, o)).requiresGrad_(true) : null);
  }
  forward(input: Tensor): Tensor {
    return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

export interface GroupNormOptions extends FactoryOptions {
  eps?: number;
  affine?: boolean;
}

/** Group normalisation over numGroups channel groups; eps 1e-5; γ = 1, β = 0. */
export class GroupNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;
  constructor(readonly numGroups: number, readonly numChannels: number, eps?: number | GroupNormOptions, options?: GroupNormOptions) {
    super();
    const o = layerOptions<GroupNormOptions>('GroupNorm', [eps, options], ['eps', 'affine', ...FACTORY]);
    if (numChannels % numGroups !== 0) throw new TorchError('num_channels must be divisible by num_groups');
    this.eps = numberOption('GroupNorm', 'eps', o.eps, 1e-5);
    const affine = boolOption('GroupNorm', 'affine', o.affine, true);
    this.weight = this.registerParameter('weight', affine ? init.ones_(emptyParam([numChannels], o)).requiresGrad_(true) : null);
    this.bias = this.registerParameter('bias', affine ? init.zeros_(emptyParam([numChannels], o)).requiresGrad_(true) : null);
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
 * Eval: normalises with the running statistics. Options positionally in PyTorch's order (eps, momentum,
 * affine, trackRunningStats) or by name.
 */
class BatchNormBase extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  constructor(readonly numFeatures: number, eps?: number | BatchNormOptions, momentum?: number | null | BatchNormOptions,
    affine?: boolean | BatchNormOptions, trackRunningStats?: boolean | BatchNormOptions, options?: BatchNormOptions) {
    super();
    const cls = new.target.name;
    const o = layerOptions<BatchNormOptions>(cls, [eps, momentum, affine, trackRunningStats, options],
      ['eps', 'momentum', 'affine', 'trackRunningStats', ...FACTORY]);
    this.eps = numberOption(cls, 'eps', o.eps, 1e-5);
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum === null ? null : numberOption(cls, 'momentum', o.momentum, 0.1);
    const aff = boolOption(cls, 'affine', o.affine, true);
    const track = boolOption(cls, 'trackRunningStats', o.trackRunningStats, true);
    this.weight = this.registerParameter('weight', aff ? init.ones_(emptyParam([numFeatures], o)).requiresGrad_(true) : null);
    this.bias = this.registerParameter('bias', aff ? init.zeros_(emptyParam([numFeatures], o)).requiresGrad_(true) : null);
    this.runningMean = this.registerBuffer('running_mean', track ? init.zeros_(emptyParam([numFeatures], o)) : null);
    this.runningVar = this.registerBuffer('running_var', track ? init.ones_(emptyParam([numFeatures], o)) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked',
      track ? torch.zeros([], { dtype: 'int64', device: o.device as Device | undefined }) : null);
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

/**
 * Zeroes elements with probability p (default 0.5) in training and scales the rest by 1/(1 − p); identity in
 * eval. inplace (default false) overwrites the input. `new nn.Dropout(0.2)`, `new nn.Dropout({ p: 0.2 })`.
 */
export class Dropout extends Module {
  readonly p: number;
  readonly inplace: boolean;
  constructor(p?: number | { p?: number; inplace?: boolean }, inplace?: boolean | { inplace?: boolean }) {
    super();
    const o = layerOptions<{ p: number; inplace: boolean }>('Dropout', [p, inplace], ['p', 'inplace']);
    this.p = numberOption('Dropout', 'p', o.p, 0.5);
    this.inplace = boolOption('Dropout', 'inplace', o.inplace, false);
    if (this.p < 0 || this.p > 1) throw new TorchError(`dropout probability has to be between 0 and 1, but got ${this.p}`);
  }
  forward(input: Tensor): Tensor {
    return F.dropout(input, this.p, this.training, this.inplace);
  }
  override extraRepr(): string {
    return `p=${this.p}, inplace=${this.inplace ? 'True' : 'False'}`;
  }
}

// -------------------------------------------------------------------------------------- convolution

export interface ConvOptions extends FactoryOptions {
  stride?: number | number[];
  padding?: number | number[] | 'valid' | 'same';
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
  /** Only 'zeros' (PyTorch's default) is supported. */
  paddingMode?: 'zeros';
}

const CONV_OPTIONS = ['stride', 'padding', 'dilation', 'groups', 'bias', 'paddingMode', ...FACTORY] as const;

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
    const cls = new.target.name;
    if (options.paddingMode !== undefined && options.paddingMode !== 'zeros') {
      throw new TorchError(`nn.${cls}(): paddingMode '${String(options.paddingMode)}' is not supported (only 'zeros'); pad with F.pad first`);
    }
    this.groups = options.groups ?? 1;
    if (inChannels % this.groups !== 0) throw new TorchError('in_channels must be divisible by groups');
    if (outChannels % this.groups !== 0) throw new TorchError('out_channels must be divisible by groups');
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.weight = this.registerParameter('weight', emptyParam(weightShape, options));
    this.bias = this.registerParameter('bias', boolOption(cls, 'bias', options.bias, true) ? emptyParam([outChannels], options) : null);
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    initBias(this.bias, this.weight);
    this.weight.requiresGrad_(true);
    this.bias?.requiresGrad_(true);
  }
}

type ConvArgs = [stride?: number | number[] | ConvOptions, padding?: number | number[] | 'valid' | 'same' | ConvOptions,
  dilation?: number | number[] | ConvOptions, groups?: number | ConvOptions, bias?: boolean | ConvOptions, options?: ConvOptions];

/**
 * 1-d convolution. weight [out, in/groups, k] ~ kaiming_uniform_(a=√5); bias ~ U(±1/√fan_in). Options
 * positionally in PyTorch's order (stride, padding, dilation, groups, bias) or by name.
 */
export class Conv1d extends ConvBase {
  constructor(inChannels: number, outChannels: number, readonly kernelSize: number, ...args: ConvArgs) {
    const o = layerOptions<ConvOptions>('Conv1d', args, CONV_OPTIONS);
    super(inChannels, outChannels, [outChannels, inChannels / (o.groups ?? 1), kernelSize], o);
  }
  forward(input: Tensor): Tensor {
    const pad = this.padding;
    if (typeof pad === 'string') return F.conv1d(input, this.weight, this.bias, this.stride, pad, this.dilation, this.groups);
    return F.conv1d(input, this.weight, this.bias, this.stride, pad, this.dilation, this.groups);
  }
}

/**
 * 2-d convolution. weight [out, in/groups, kh, kw] ~ kaiming_uniform_(a=√5); bias ~ U(±1/√fan_in). Options
 * positionally in PyTorch's order (stride, padding, dilation, groups, bias) or by name.
 */
export class Conv2d extends ConvBase {
  readonly kernelSize: [number, number];
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrPair, ...args: ConvArgs) {
    const o = layerOptions<ConvOptions>('Conv2d', args, CONV_OPTIONS);
    const k = pair('Conv2d', 'kernelSize', kernelSize);
    super(inChannels, outChannels, [outChannels, inChannels / (o.groups ?? 1), ...k], o);
    this.kernelSize = k;
  }
  forward(input: Tensor): Tensor {
    const pad = this.padding;
    if (typeof pad === 'string') return F.conv2d(input, this.weight, this.bias, this.stride, pad, this.dilation, this.groups);
    return F.conv2d(input, this.weight, this.bias, this.stride, pad, this.dilation, this.groups);
  }
}

export type ConvTransposeOptions = Omit<ConvOptions, 'padding'> & { padding?: number | number[]; outputPadding?: number | number[] };

/** Transposed 2-d convolution. weight [in, out/groups, kh, kw]; init as Conv2d with fan_in = out/groups·kh·kw. */
export class ConvTranspose2d extends ConvBase {
  readonly kernelSize: [number, number];
  readonly outputPadding: number | number[];
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrPair, stride?: number | number[] | ConvTransposeOptions,
    padding?: number | number[] | ConvTransposeOptions, outputPadding?: number | number[] | ConvTransposeOptions,
    groups?: number | ConvTransposeOptions, bias?: boolean | ConvTransposeOptions, dilation?: number | number[] | ConvTransposeOptions,
    options?: ConvTransposeOptions) {
    const o = layerOptions<ConvTransposeOptions>('ConvTranspose2d', [stride, padding, outputPadding, groups, bias, dilation, options],
      ['stride', 'padding', 'outputPadding', 'groups', 'bias', 'dilation', 'paddingMode', ...FACTORY]);
    const k = pair('ConvTranspose2d', 'kernelSize', kernelSize);
    super(inChannels, outChannels, [inChannels, outChannels / (o.groups ?? 1), ...k], o);
    this.kernelSize = k;
    this.outputPadding = o.outputPadding ?? 0;
  }
  forward(input: Tensor): Tensor {
    return F.convTranspose2d(input, this.weight, this.bias, this.stride, this.padding as number | number[],
      this.outputPadding, this.groups, this.dilation);
  }
}

// ------------------------------------------------------------------------------------------ pooling

export interface MaxPoolOptions {
  stride?: number | number[] | null;
  padding?: number | number[];
  dilation?: number | number[];
  ceilMode?: boolean;
  /** Not supported by the modules (they return one tensor): use F.maxPool2dWithIndices / maxPool1dWithIndices. */
  returnIndices?: false;
}

class MaxPoolBase extends Module {
  readonly stride: number | number[];
  readonly padding: number | number[];
  readonly dilation: number | number[];
  readonly ceilMode: boolean;
  constructor(readonly kernelSize: number | number[], args: unknown[]) {
    super();
    const cls = new.target.name;
    const o = layerOptions<MaxPoolOptions>(cls, args, ['stride', 'padding', 'dilation', 'returnIndices', 'ceilMode']);
    if (o.returnIndices) throw new TorchError(`nn.${cls}(): returnIndices is not supported by the module; call F.${cls[0].toLowerCase()}${cls.slice(1)}WithIndices(x, ...) for { output, indices }`);
    this.stride = o.stride ?? kernelSize;
    this.padding = o.padding ?? 0;
    this.dilation = o.dilation ?? 1;
    this.ceilMode = boolOption(cls, 'ceilMode', o.ceilMode, false);
  }
}

type MaxPoolArgs = [stride?: number | number[] | null | MaxPoolOptions, padding?: number | number[] | MaxPoolOptions,
  dilation?: number | number[] | MaxPoolOptions, returnIndices?: false | MaxPoolOptions, ceilMode?: boolean | MaxPoolOptions];

/** Max pooling over [N, C, L]; stride defaults to kernelSize. */
export class MaxPool1d extends MaxPoolBase {
  constructor(kernelSize: number | number[], ...args: MaxPoolArgs) {
    super(kernelSize, args);
  }
  forward(input: Tensor): Tensor {
    return F.maxPool1d(input, this.kernelSize, this.stride, this.padding, this.dilation, this.ceilMode);
  }
}

/** Max pooling; stride defaults to kernelSize. */
export class MaxPool2d extends MaxPoolBase {
  constructor(kernelSize: number | number[], ...args: MaxPoolArgs) {
    super(kernelSize, args);
  }
  forward(input: Tensor): Tensor {
    return F.maxPool2d(input, this.kernelSize, this.stride, this.padding, this.dilation, this.ceilMode);
  }
}

export interface AvgPoolOptions {
  stride?: number | number[] | null;
  padding?: number | number[];
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

type AvgPoolArgs = [stride?: number | number[] | null | AvgPoolOptions, padding?: number | number[] | AvgPoolOptions,
  ceilMode?: boolean | AvgPoolOptions, countIncludePad?: boolean | AvgPoolOptions, divisorOverride?: number | null | AvgPoolOptions];

class AvgPoolBase extends Module {
  readonly stride: number | number[];
  readonly padding: number | number[];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
  constructor(readonly kernelSize: number | number[], args: unknown[], names: (keyof AvgPoolOptions)[]) {
    super();
    const cls = new.target.name;
    const o = layerOptions<AvgPoolOptions>(cls, args, names);
    this.stride = o.stride ?? kernelSize;
    this.padding = o.padding ?? 0;
    this.ceilMode = boolOption(cls, 'ceilMode', o.ceilMode, false);
    this.countIncludePad = boolOption(cls, 'countIncludePad', o.countIncludePad, true);
    this.divisorOverride = o.divisorOverride ?? null;
  }
}

/** Average pooling over [N, C, L]; stride defaults to kernelSize, countIncludePad true. */
export class AvgPool1d extends AvgPoolBase {
  constructor(kernelSize: number | number[], ...args: AvgPoolArgs) {
    super(kernelSize, args, ['stride', 'padding', 'ceilMode', 'countIncludePad']);
  }
  forward(input: Tensor): Tensor {
    return F.avgPool1d(input, this.kernelSize, this.stride, this.padding, this.ceilMode, this.countIncludePad);
  }
}

/** Average pooling; stride defaults to kernelSize, countIncludePad true. */
export class AvgPool2d extends AvgPoolBase {
  constructor(kernelSize: number | number[], ...args: AvgPoolArgs) {
    super(kernelSize, args, ['stride', 'padding', 'ceilMode', 'countIncludePad', 'divisorOverride']);
  }
  forward(input: Tensor): Tensor {
    return F.avgPool2d(input, this.kernelSize, this.stride, this.padding, this.ceilMode, this.countIncludePad, this.divisorOverride);
  }
}

/** Adaptive average pooling to outputSize ([N, C, L]). */
export class AdaptiveAvgPool1d extends Module {
  constructor(readonly outputSize: number | number[]) {
    super();
  }
  forward(input: Tensor): Tensor {
    return F.adaptiveAvgPool1d(input, this.outputSize);
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

/** Adaptive max pooling to outputSize (returnIndices: use F.adaptiveMaxPool2dWithIndices). */
export class AdaptiveMaxPool2d extends Module {
  constructor(readonly outputSize: number | number[], returnIndices?: false | { returnIndices?: false }) {
    super();
    const o = layerOptions<{ returnIndices: boolean }>('AdaptiveMaxPool2d', [returnIndices], ['returnIndices']);
    if (o.returnIndices) throw new TorchError('nn.AdaptiveMaxPool2d(): returnIndices is not supported by the module; call F.adaptiveMaxPool2dWithIndices(x, size)');
  }
  forward(input: Tensor): Tensor {
    return F.adaptiveMaxPool2d(input, this.outputSize);
  }
}

/** Flattens dims startDim..endDim (defaults 1, −1). */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;
  constructor(startDim?: number | { startDim?: number; endDim?: number }, endDim?: number | { endDim?: number }) {
    super();
    const o = layerOptions<{ startDim: number; endDim: number }>('Flatten', [startDim, endDim], ['startDim', 'endDim']);
    this.startDim = numberOption('Flatten', 'startDim', o.startDim, 1);
    this.endDim = numberOption('Flatten', 'endDim', o.endDim, -1);
  }
  forward(input: Tensor): Tensor {
    return torch.flatten(input, this.startDim, this.endDim);
  }
}

// -------------------------------------------------------------------------------------- activations

type InplaceArg = boolean | { inplace?: boolean };

/** max(0, x); inplace (default false) overwrites the input. */
export class ReLU extends Module {
  readonly inplace: boolean;
  constructor(inplace?: InplaceArg) {
    super();
    this.inplace = boolOption('ReLU', 'inplace', layerOptions<{ inplace: boolean }>('ReLU', [inplace], ['inplace']).inplace, false);
  }
  forward(input: Tensor): Tensor {
    return this.inplace ? input.relu_() : F.relu(input);
  }
}
/** x for x > 0, negativeSlope·x otherwise (default 0.01); inplace overwrites the input. */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  readonly inplace: boolean;
  constructor(negativeSlope?: number | { negativeSlope?: number; inplace?: boolean }, inplace?: InplaceArg) {
    super();
    const o = layerOptions<{ negativeSlope: number; inplace: boolean }>('LeakyReLU', [negativeSlope, inplace], ['negativeSlope', 'inplace']);
    this.negativeSlope = numberOption('LeakyReLU', 'negativeSlope', o.negativeSlope, 0.01);
    this.inplace = boolOption('LeakyReLU', 'inplace', o.inplace, false);
  }
  forward(input: Tensor): Tensor {
    return F.leakyRelu(input, this.negativeSlope, this.inplace);
  }
}
/** x for x > 0, alpha·(eˣ − 1) otherwise (alpha 1); inplace overwrites the input. */
export class ELU extends Module {
  readonly alpha: number;
  readonly inplace: boolean;
  constructor(alpha?: number | { alpha?: number; inplace?: boolean }, inplace?: InplaceArg) {
    super();
    const o = layerOptions<{ alpha: number; inplace: boolean }>('ELU', [alpha, inplace], ['alpha', 'inplace']);
    this.alpha = numberOption('ELU', 'alpha', o.alpha, 1);
    this.inplace = boolOption('ELU', 'inplace', o.inplace, false);
  }
  forward(input: Tensor): Tensor {
    return F.elu(input, this.alpha, this.inplace);
  }
}
/** x·Φ(x); approximate: 'none' (default) or 'tanh'. */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(approximate?: 'none' | 'tanh' | { approximate?: 'none' | 'tanh' }) {
    super();
    const o = layerOptions<{ approximate: 'none' | 'tanh' }>('GELU', [approximate], ['approximate']);
    this.approximate = o.approximate ?? 'none';
    if (this.approximate !== 'none' && this.approximate !== 'tanh') {
      throw new TorchError(`nn.GELU(): approximate must be 'none' or 'tanh', got ${String(this.approximate)}`);
    }
  }
  forward(input: Tensor): Tensor {
    return F.gelu(input, this.approximate);
  }
}
/** x·σ(x); inplace overwrites the input. */
export class SiLU extends Module {
  readonly inplace: boolean;
  constructor(inplace?: InplaceArg) {
    super();
    this.inplace = boolOption('SiLU', 'inplace', layerOptions<{ inplace: boolean }>('SiLU', [inplace], ['inplace']).inplace, false);
  }
  forward(input: Tensor): Tensor {
    return F.silu(input, this.inplace);
  }
}
/** log(1 + e^(beta·x)) / beta, linear above threshold (beta 1, threshold 20). */
export class Softplus extends Module {
  readonly beta: number;
  readonly threshold: number;
  constructor(beta?: number | { beta?: number; threshold?: number }, threshold?: number | { threshold?: number }) {
    super();
    const o = layerOptions<{ beta: number; threshold: number }>('Softplus', [beta, threshold], ['beta', 'threshold']);
    this.beta = numberOption('Softplus', 'beta', o.beta, 1);
    this.threshold = numberOption('Softplus', 'threshold', o.threshold, 20);
  }
  forward(input: Tensor): Tensor {
    return F.softplus(input, this.beta, this.threshold);
  }
}
/** tanh(x). */
export class Tanh extends Module {
  forward(input: Tensor): Tensor {
    return torch.tanh(input);
  }
}
/** σ(x). */
export class Sigmoid extends Module {
  forward(input: Tensor): Tensor {
    return torch.sigmoid(input);
  }
}
/** softmax along dim (required: PyTorch's implicit dim is deprecated). */
export class Softmax extends Module {
  readonly dim: number;
  constructor(dim: number | { dim: number }) {
    super();
    const o = layerOptions<{ dim: number }>('Softmax', [dim], ['dim']);
    if (typeof o.dim !== 'number') throw new TorchError('nn.Softmax(): dim is required (a number): PyTorch\'s implicit dim is deprecated');
    this.dim = o.dim;
  }
  forward(input: Tensor): Tensor {
    return F.softmax(input, this.dim);
  }
}
/** log softmax along dim (required). */
export class LogSoftmax extends Module {
  readonly dim: number;
  constructor(dim: number | { dim: number }) {
    super();
    const o = layerOptions<{ dim: number }>('LogSoftmax', [dim], ['dim']);
    if (typeof o.dim !== 'number') throw new TorchError('nn.LogSoftmax(): dim is required (a number): PyTorch\'s implicit dim is deprecated');
    this.dim = o.dim;
  }
  forward(input: Tensor): Tensor {
    return F.logSoftmax(input, this.dim);
  }
}
