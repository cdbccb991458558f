// MultiheadAttention and the Transformer encoder, following PyTorch's math (torch.nn.functional.
// multi_head_attention_forward) so that the same weights give the same outputs.
import { formatValue, TorchError } from '../torch/errors';
import { Tensor } from '../torch/tensor';
import * as torch from '../torch';
import { versionAtLeast } from '../torch/version';
import { layerOptions } from './options';
import { Module } from './module';
import { Dropout, LayerNorm, Linear, type FactoryOptions } from './layers';
import { ModuleList } from './containers';
import * as init from './init';

const F = torch.nn.functional;

export interface MultiheadAttentionOptions extends FactoryOptions {
  /** Dropout on the attention weights (default 0). */
  dropout?: number;
  /** Biases on the in- and out-projections (default true). */
  bias?: boolean;
  /** Inputs are [batch, seq, embed] (default false: [seq, batch, embed]). */
  batchFirst?: boolean;
}

export interface MultiheadAttentionForwardOptions {
  /** `[N, S]`: true (bool) or an additive float marks keys to ignore. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights (default true, as PyTorch). */
  needWeights?: boolean;
  /** [L, S] or [N·numHeads, L, S]: true (bool) = not allowed, or an additive float mask. */
  attnMask?: Tensor | null;
  /** Average the weights over heads ([N, L, S]; default true) or keep them per head ([N, H, L, S]). */
  averageAttnWeights?: boolean;
}

/** A bool mask becomes an additive float one (−inf where true). */
function toAdditive(mask: Tensor, like: Tensor): Tensor {
  if (mask.dtype === 'bool') {
    return torch.zeros(mask.shape, { dtype: like.dtype, device: like.device }).maskedFill(mask, -Infinity);
  }
  return mask;
}

/**
 * Multi-head attention (Vaswani et al. 2017): softmax(Q Kᵀ / √d_head + mask) V per head, with the packed
 * in-projection `in_proj_weight` [3E, E] (xavier_uniform_), `in_proj_bias` (zeros) and `out_proj`
 * (Linear, bias zeros). forward(query, key, value, options) returns [output, weights | null]: output
 * [L, N, E] ([N, L, E] with batchFirst), weights [N, L, S] averaged over heads (or [N, H, L, S]).
 */
export class MultiheadAttention extends Module {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  constructor(readonly embedDim: number, readonly numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    layerOptions<MultiheadAttentionOptions>('MultiheadAttention', [options], ['dropout', 'bias', 'batchFirst', 'device', 'dtype']);
    this.headDim = Math.floor(embedDim / numHeads);
    if (this.headDim * numHeads !== embedDim) throw new TorchError('embed_dim must be divisible by num_heads');
    this.dropout = options.dropout ?? 0;
    this.batchFirst = options.batchFirst ?? false;
    const bias = options.bias ?? true;
    const f = { dtype: options.dtype ?? 'float32' as const, device: options.device as torch.Device | undefined };
    this.inProjWeight = this.registerParameter('in_proj_weight', torch.empty([3 * embedDim, embedDim], f));
    this.inProjBias = this.registerParameter('in_proj_bias', bias ? torch.empty([3 * embedDim], f) : null);
    // As in PyTorch: out_proj draws its Linear init first, then _reset_parameters.
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias, dtype: options.dtype, device: options.device }));
    init.xavierUniform_(this.inProjWeight);
    if (this.inProjBias !== null) init.zeros_(this.inProjBias);
    if (this.outProj.bias !== null) init.zeros_(this.outProj.bias);
    this.inProjWeight.requiresGrad_(true);
    this.inProjBias?.requiresGrad_(true);
  }

  forward(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    const needWeights = options.needWeights ?? true;
    const average = options.averageAttnWeights ?? true;
    const batched = query.ndim === 3;
    if (!batched && query.ndim !== 2) throw new TorchError(`MultiheadAttention: query should be unbatched 2D or batched 3D tensor but received ${query.ndim}-D query tensor`);
    let kpm = options.keyPaddingMask ?? null;
    // To [L, N, E].
    let q = query;
    let k = key;
    let v = value;
    if (!batched) {
      q = q.unsqueeze(1);
      k = k.unsqueeze(1);
      v = v.unsqueeze(1);
      if (kpm !== null) kpm = kpm.unsqueeze(0);
    } else if (this.batchFirst) {
      q = q.transpose(0, 1);
      k = k.transpose(0, 1);
      v = v.transpose(0, 1);
    }
    const [L, N, E] = q.shape;
    const S = k.shape[0];
    const H = this.numHeads;
    const hd = this.headDim;
    if (E !== this.embedDim) throw new TorchError(`was expecting embedding dimension of ${this.embedDim}, but got ${E}`);
    // In-projection.
    const w = this.inProjWeight.chunk(3, 0);
    const b = this.inProjBias === null ? [null, null, null] : this.inProjBias.chunk(3, 0);
    let qp: Tensor;
    let kp: Tensor;
    let vp: Tensor;
    if (query === key && key === value) {
      [qp, kp, vp] = F.linear(q, this.inProjWeight, this.inProjBias).chunk(3, -1);
    } else {
      qp = F.linear(q, w[0], b[0]);
      kp = F.linear(k, w[1], b[1]);
      vp = F.linear(v, w[2], b[2]);
    }
    // Masks: one additive [N·H or 1, L, S] mask.
    let mask: Tensor | null = null;
    if (options.attnMask) {
      mask = toAdditive(options.attnMask, qp);
      if (mask.ndim === 2) {
        if (mask.shape[0] !== L || mask.shape[1] !== S) {
          throw new TorchError(`The shape of the 2D attn_mask is [${mask.shape.join(', ')}], but should be [${L}, ${S}].`);
        }
        mask = mask.unsqueeze(0);
      } else if (mask.shape[0] !== N * H || mask.shape[1] !== L || mask.shape[2] !== S) {
        throw new TorchError(`The shape of the 3D attn_mask is [${mask.shape.join(', ')}], but should be [${N * H}, ${L}, ${S}].`);
      }
    }
    if (kpm !== null) {
      if (kpm.shape[0] !== N || kpm.shape[1] !== S) {
        throw new TorchError(`expecting key_padding_mask shape of [${N}, ${S}], but got [${kpm.shape.join(', ')}]`);
      }
      const add = toAdditive(kpm, qp).view([N, 1, 1, S]).expand([-1, H, -1, -1]).reshape([N * H, 1, S]);
      mask = mask === null ? add : mask.add(add);
    }
    // [N·H, L|S, hd].
    const qh = qp.reshape([L, N * H, hd]).transpose(0, 1);
    const kh = kp.reshape([S, N * H, hd]).transpose(0, 1);
    const vh = vp.reshape([S, N * H, hd]).transpose(0, 1);
    const p = this.training ? this.dropout : 0;
    let out: Tensor;
    let weights: Tensor | null = null;
    if (!needWeights && versionAtLeast(2, 0)) {
      // PyTorch 2.x hands the heads to the fused scaled_dot_product_attention when no weights are asked for.
      const heads = (t: Tensor, len: number) => t.view([N, H, len, hd]);
      const m = mask === null ? null : mask.shape[0] === 1 ? mask.unsqueeze(0) : mask.view([N, H, -1, S]);
      out = F.scaledDotProductAttention(heads(qh, L), heads(kh, S), heads(vh, S), m, p)
        .permute([2, 0, 1, 3]).contiguous().view([L * N, E]);
    } else {
      // 1.13 divides q by √d; 2.x multiplies it by √(1/d), which rounds differently.
      const qs = versionAtLeast(2, 0) ? qh.mul(Math.sqrt(1 / hd)) : qh.div(Math.sqrt(hd));
      const scores = mask === null ? torch.bmm(qs, kh.transpose(-2, -1)) : torch.baddbmm(mask, qs, kh.transpose(-2, -1));
      let attn = scores.softmax(-1);
      if (p > 0) attn = F.dropout(attn, p, true);
      out = torch.bmm(attn, vh).transpose(0, 1).contiguous().view([L * N, E]);
      if (needWeights) {
        weights = attn.view([N, H, L, S]);
        if (average) weights = weights.mean(1);
        if (!batched) weights = weights.squeeze(0);
      }
    }
    out = this.outProj.call(out).view([L, N, E]);
    if (!batched) out = out.squeeze(1);
    else if (this.batchFirst) out = out.transpose(0, 1);
    return [out, weights];
  }
}

export type Activation = 'relu' | 'gelu' | Module;

export interface TransformerEncoderLayerOptions extends FactoryOptions {
  /** Feed-forward width (default 2048). */
  dimFeedforward?: number;
  /** Dropout (default 0.1). */
  dropout?: number;
  /** 'relu' (default), 'gelu', or a module (registered as `activation`). */
  activation?: Activation;
  /** LayerNorm eps (default 1e-5). */
  layerNormEps?: number;
  /** [batch, seq, feature] inputs (default false). */
  batchFirst?: boolean;
  /** Pre-LN: x + SA(LN(x)), x + FF(LN(x)) (default false: post-LN, LN(x + SA(x))). */
  normFirst?: boolean;
}

export interface EncoderMaskOptions {
  /** Attention mask [S, S] or [N·H, S, S] (bool true = blocked, or additive float). */
  srcMask?: Tensor | null;
  /** `[N, S]`: true = padding. */
  srcKeyPaddingMask?: Tensor | null;
}

/**
 * One Transformer encoder layer (self-attention + feed-forward, each with dropout, residual and
 * LayerNorm), PyTorch's TransformerEncoderLayer with the same parameter names.
 */
export class TransformerEncoderLayer extends Module {
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly normFirst: boolean;
  private readonly activationFn: (x: Tensor) => Tensor;
  constructor(readonly dModel: number, readonly nhead: number, readonly options: TransformerEncoderLayerOptions = {}) {
    super();
    layerOptions<TransformerEncoderLayerOptions>('TransformerEncoderLayer', [options],
      ['dimFeedforward', 'dropout', 'activation', 'layerNormEps', 'batchFirst', 'normFirst', 'device', 'dtype']);
    const p = options.dropout ?? 0.1;
    const f: FactoryOptions = { dtype: options.dtype, device: options.device };
    const ff = options.dimFeedforward ?? 2048;
    const eps = options.layerNormEps ?? 1e-5;
    this.selfAttn = this.registerModule('self_attn', new MultiheadAttention(dModel, nhead, { dropout: p, batchFirst: options.batchFirst, ...f }));
    this.linear1 = this.registerModule('linear1', new Linear(dModel, ff, f));
    this.dropout = this.registerModule('dropout', new Dropout(p));
    this.linear2 = this.registerModule('linear2', new Linear(ff, dModel, f));
    this.normFirst = options.normFirst ?? false;
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, { eps, ...f }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, { eps, ...f }));
    this.dropout1 = this.registerModule('dropout1', new Dropout(p));
    this.dropout2 = this.registerModule('dropout2', new Dropout(p));
    const act = options.activation ?? 'relu';
    if (act === 'relu') this.activationFn = (x) => F.relu(x);
    else if (act === 'gelu') this.activationFn = (x) => F.gelu(x);
    else if (act instanceof Module) {
      const m = this.registerModule('activation', act) as Module & { call(x: Tensor): unknown };
      this.activationFn = (x) => m.call(x) as Tensor;
    } else throw new TorchError(`activation should be relu/gelu, not ${String(act)}`);
  }

  private saBlock(x: Tensor, o: EncoderMaskOptions, needWeights: boolean, average: boolean): [Tensor, Tensor | null] {
    const [y, w] = this.selfAttn.call(x, x, x, {
      attnMask: o.srcMask ?? null, keyPaddingMask: o.srcKeyPaddingMask ?? null, needWeights, averageAttnWeights: average,
    });
    return [this.dropout1.call(y), w];
  }
  private ffBlock(x: Tensor): Tensor {
    return this.dropout2.call(this.linear2.call(this.dropout.call(this.activationFn(this.linear1.call(x)))));
  }

  /** The layer with its self-attention weights ([N, S, S] averaged over heads, or [N, H, S, S]). */
  forwardWithAttention(src: Tensor, options: EncoderMaskOptions & { averageAttnWeights?: boolean } = {}): { output: Tensor; attention: Tensor } {
    const average = options.averageAttnWeights ?? true;
    let x = src;
    let w: Tensor | null;
    if (this.normFirst) {
      const [sa, weights] = this.saBlock(this.norm1.call(x), options, true, average);
      w = weights;
      x = x.add(sa);
      x = x.add(this.ffBlock(this.norm2.call(x)));
    } else {
      const [sa, weights] = this.saBlock(x, options, true, average);
      w = weights;
      x = this.norm1.call(x.add(sa));
      x = this.norm2.call(x.add(this.ffBlock(x)));
    }
    return { output: x, attention: w as Tensor };
  }

  forward(src: Tensor, options: EncoderMaskOptions = {}): Tensor {
    let x = src;
    if (this.normFirst) {
      x = x.add(this.saBlock(this.norm1.call(x), options, false, true)[0]);
      x = x.add(this.ffBlock(this.norm2.call(x)));
    } else {
      x = this.norm1.call(x.add(this.saBlock(x, options, false, true)[0]));
      x = this.norm2.call(x.add(this.ffBlock(x)));
    }
    return x;
  }

  /**
   * A new layer with the same configuration and a copy of the weights (what PyTorch's deepcopy in
   * TransformerEncoder gives, drawing no random numbers; a module activation is shared, not copied).
   */
  clone(): TransformerEncoderLayer {
    const layer = init.withoutRandomInit(() => new TransformerEncoderLayer(this.dModel, this.nhead, {
      ...this.options, dtype: this.inDtype(), device: this.linear1.weight.device,
    }));
    torch.tidy(() => { layer.loadStateDict(this.stateDict()); });
    layer.train(this.training);
    return layer;
  }
  private inDtype(): torch.DType {
    return this.linear1.weight.dtype;
  }
}

/** What TransformerEncoder.forwardAll returns. */
export interface EncoderOutputs {
  /** The final output (after the optional final norm). */
  output: Tensor;
  /** [input, output of layer 1, ..., output of layer n] (before the final norm). */
  hiddenStates: Tensor[];
  /** Per layer, the self-attention weights ([N, S, S], or [N, H, S, S] with averageAttnWeights: false). */
  attentions: Tensor[];
}

/**
 * A stack of numLayers copies of encoderLayer (`layers.0`, `layers.1`, ...; each a copy of its weights, as
 * PyTorch deep-copies) and an optional final norm.
 */
export class TransformerEncoder extends Module {
  readonly layers: ModuleList;
  readonly norm: Module | null;
  readonly numLayers: number;
  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, options: { norm?: Module | null } = {}) {
    super();
    layerOptions<{ norm: Module | null }>('TransformerEncoder', [options], ['norm']);
    if (!(encoderLayer instanceof Module)) throw new TorchError(`TransformerEncoder: encoderLayer must be a module (a TransformerEncoderLayer), got ${formatValue(encoderLayer)}`);
    if (!Number.isSafeInteger(numLayers) || numLayers < 0) throw new TorchError(`TransformerEncoder: numLayers must be a non-negative integer, got ${formatValue(numLayers)}`);
    this.numLayers = numLayers;
    const copies: TransformerEncoderLayer[] = [];
    for (let i = 0; i < numLayers; i++) copies.push(encoderLayer.clone());
    this.layers = this.registerModule('layers', new ModuleList(copies));
    this.norm = this.registerModule('norm', options.norm ?? null);
  }
  private layer(i: number): TransformerEncoderLayer {
    return this.layers.at(i) as TransformerEncoderLayer;
  }
  private finalNorm(x: Tensor): Tensor {
    return this.norm === null ? x : (this.norm as Module & { call(x: Tensor): unknown }).call(x) as Tensor;
  }
  /** forward(src, { mask, srcKeyPaddingMask }). */
  forward(src: Tensor, options: { mask?: Tensor | null; srcKeyPaddingMask?: Tensor | null } = {}): Tensor {
    let x = src;
    for (let i = 0; i < this.numLayers; i++) {
      x = this.layer(i).call(x, { srcMask: options.mask ?? null, srcKeyPaddingMask: options.srcKeyPaddingMask ?? null });
    }
    return this.finalNorm(x);
  }
  /** The output plus every hidden state and every layer's attention map (for distillation). */
  forwardAll(src: Tensor, options: { mask?: Tensor | null; srcKeyPaddingMask?: Tensor | null; averageAttnWeights?: boolean } = {}): EncoderOutputs {
    let x = src;
    const hiddenStates = [src];
    const attentions: Tensor[] = [];
    for (let i = 0; i < this.numLayers; i++) {
      const r = this.layer(i).forwardWithAttention(x, {
        srcMask: options.mask ?? null, srcKeyPaddingMask: options.srcKeyPaddingMask ?? null,
        averageAttnWeights: options.averageAttnWeights,
      });
      x = r.output;
      hiddenStates.push(x);
      attentions.push(r.attention);
    }
    return { output: this.finalNorm(x), hiddenStates, attentions };
  }
}
