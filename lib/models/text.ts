// Text classifiers over padded token ids [batch, length] (index 0 = padding, data.Vocab's layout): a
// Transformer encoder teacher and a fastText-like bag-of-embeddings student, used by `torchkd text`.
import * as nn from '../nn';
import * as torch from '../torch';
import { objectArg, TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';

const F = nn.functional;

/** The padding index of token ids (data.Vocab puts '<pad>' at 0). */
export const PAD_INDEX = 0;

function checkIds(op: string, ids: Tensor): void {
  if (ids.ndim !== 2 || (ids.dtype !== 'int64' && ids.dtype !== 'int32')) {
    throw new TorchError(`${op}: expected token ids int64 [batch, length], got ${ids.dtype} [${ids.shape.join(', ')}]`);
  }
}

function positiveInt(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new TorchError(`${op}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/** Drops the all-padding columns at the end of a right-padded batch (at least one column stays). */
function trimPadding(ids: Tensor): Tensor {
  const longest = Math.max(1, torch.tidy(() => ids.ne(PAD_INDEX).sum(1).max().item()));
  return longest === ids.size(1) ? ids : ids.narrow(1, 0, longest);
}

export interface TextTransformerOptions {
  vocabSize: number;
  numClasses: number;
  /** Model width d (default 128). */
  dim?: number;
  /** Encoder layers (default 2) and attention heads (default 4, must divide dim). */
  layers?: number;
  heads?: number;
  /** Feed-forward width (default 2·dim). */
  ffDim?: number;
  /** Longest input (learned positions; longer inputs are an error; default 64). */
  maxLength?: number;
  /** Dropout in the encoder and before the head (default 0.1). */
  dropout?: number;
}

/**
 * Transformer text classifier: token embedding + learned position embedding, `layers` post-LN encoder
 * layers (PyTorch's TransformerEncoderLayer, GELU, batch first) with the padding masked out of attention,
 * mean pooling over the non-padding positions, dropout and a linear head. Submodules: `embed`,
 * `position`, `encoder` (features at `encoder.layers.i`, [batch, length, dim], layout 'NLH'), `head`.
 */
export class TextTransformer extends nn.Module {
  readonly config: Required<TextTransformerOptions>;
  readonly embed: nn.Embedding;
  readonly position: nn.Embedding;
  readonly encoder: nn.TransformerEncoder;
  readonly drop: nn.Dropout;
  readonly head: nn.Linear;

  constructor(options: TextTransformerOptions) {
    super();
    const op = 'TextTransformer()';
    objectArg('TextTransformer', 'options', options);
    const dim = positiveInt(op, 'dim', options.dim ?? 128);
    const heads = positiveInt(op, 'heads', options.heads ?? 4);
    if (dim % heads !== 0) throw new TorchError(`${op}: heads (${heads}) must divide dim (${dim})`);
    this.config = {
      vocabSize: positiveInt(op, 'vocabSize', options.vocabSize),
      numClasses: positiveInt(op, 'numClasses', options.numClasses),
      dim, heads,
      layers: positiveInt(op, 'layers', options.layers ?? 2),
      ffDim: positiveInt(op, 'ffDim', options.ffDim ?? 2 * dim),
      maxLength: positiveInt(op, 'maxLength', options.maxLength ?? 64),
      dropout: options.dropout ?? 0.1,
    };
    const c = this.config;
    this.embed = this.registerModule('embed', new nn.Embedding(c.vocabSize, dim, { paddingIdx: PAD_INDEX }));
    this.position = this.registerModule('position', new nn.Embedding(c.maxLength, dim));
    const layer = new nn.TransformerEncoderLayer(dim, heads, { dimFeedforward: c.ffDim, dropout: c.dropout, activation: 'gelu', batchFirst: true });
    this.encoder = this.registerModule('encoder', new nn.TransformerEncoder(layer, c.layers));
    layer.dispose();
    this.drop = this.registerModule('drop', new nn.Dropout(c.dropout));
    this.head = this.registerModule('head', new nn.Linear(dim, c.numClasses));
  }

  /** Logits [batch, numClasses] of token ids [batch, length]. */
  forward(ids: Tensor): Tensor {
    checkIds('TextTransformer.forward()', ids);
    const x = trimPadding(ids);
    const length = x.size(1);
    if (length > this.config.maxLength) {
      throw new TorchError(`TextTransformer.forward(): inputs of ${length} tokens exceed maxLength ${this.config.maxLength}`);
    }
    const padding = x.eq(PAD_INDEX);
    const positions = torch.arange(length, { dtype: 'int64', device: x.device });
    const h = this.encoder.call(this.embed.call(x).add(this.position.call(positions)), { srcKeyPaddingMask: padding });
    const keep = padding.logicalNot().unsqueeze(-1).to(h.dtype);
    const pooled = h.mul(keep).sum(1).div(keep.sum(1).clamp(1));
    return this.head.call(this.drop.call(pooled));
  }
}

export interface FastTextOptions {
  vocabSize: number;
  numClasses: number;
  /** Embedding width (default 32). */
  dim?: number;
  /** Hashed bigram buckets added to the vocabulary (default 0: words only). */
  bigramBuckets?: number;
  /** Dropout on the averaged embedding (default 0). */
  dropout?: number;
}

/**
 * fastText-like classifier (Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification"): the
 * mean of the token embeddings (F.embeddingBag, mode 'mean', padding ignored) and a linear head. With
 * bigramBuckets B > 0, each pair of adjacent tokens (a, b) also contributes the embedding row
 * V + (a·1000003 + b) mod B (the hashing trick). Embeddings ~ U(−1/dim, 1/dim) as fastText; the padding
 * row is zero. Submodules: `embed` (weight [V + B, dim]), `drop`, `head`.
 */
export class FastText extends nn.Module {
  readonly config: Required<FastTextOptions>;
  readonly embed: nn.Embedding;
  readonly drop: nn.Dropout;
  readonly head: nn.Linear;

  constructor(options: FastTextOptions) {
    super();
    const op = 'FastText()';
    objectArg('FastText', 'options', options);
    const buckets = options.bigramBuckets ?? 0;
    if (!Number.isInteger(buckets) || buckets < 0) throw new TorchError(`${op}: bigramBuckets must be a non-negative integer, got ${String(buckets)}`);
    this.config = {
      vocabSize: positiveInt(op, 'vocabSize', options.vocabSize),
      numClasses: positiveInt(op, 'numClasses', options.numClasses),
      dim: positiveInt(op, 'dim', options.dim ?? 32),
      bigramBuckets: buckets,
      dropout: options.dropout ?? 0,
    };
    const c = this.config;
    this.embed = this.registerModule('embed', new nn.Embedding(c.vocabSize + buckets, c.dim, { paddingIdx: PAD_INDEX }));
    torch.noGrad(() => torch.tidy(() => {
      nn.init.uniform_(this.embed.weight, -1 / c.dim, 1 / c.dim);
      this.embed.weight.select(0, PAD_INDEX).zero_();
    }));
    this.drop = this.registerModule('drop', new nn.Dropout(c.dropout));
    this.head = this.registerModule('head', new nn.Linear(c.dim, c.numClasses));
  }

  /** The bag of a batch: token ids, then (with buckets) the hashed bigram ids (padding where a side is padding). */
  private bag(ids: Tensor): Tensor {
    const { vocabSize, bigramBuckets } = this.config;
    if (bigramBuckets === 0 || ids.size(1) < 2) return ids;
    const n = ids.size(1);
    const a = ids.narrow(1, 0, n - 1);
    const b = ids.narrow(1, 1, n - 1);
    const valid = a.ne(PAD_INDEX).logicalAnd(b.ne(PAD_INDEX)).to('int64');
    const hashed = a.mul(1000003).add(b).remainder(bigramBuckets).add(vocabSize);
    return torch.cat([ids, hashed.mul(valid)], 1);
  }

  /** Logits [batch, numClasses] of token ids [batch, length]. */
  forward(ids: Tensor): Tensor {
    checkIds('FastText.forward()', ids);
    const x = trimPadding(ids).to('int64');
    const pooled = F.embeddingBag(this.bag(x), this.embed.weight, null, 'mean', null, false, PAD_INDEX);
    return this.head.call(this.drop.call(pooled));
  }
}
