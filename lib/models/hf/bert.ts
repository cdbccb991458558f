// BERT (Devlin et al. 2019) as transformers 5.18's modeling_bert.py, with its module and parameter names
// (`bert.encoder.layer.3.attention.self.query.weight`), so that checkpoints load without renaming. Also
// the encoder of MiniLM and TinyBERT checkpoints (model_type 'bert'). The layers are shared with RoBERTa.
import * as nn from '../../nn';
import * as torch from '../../torch';
import { TorchError } from '../../torch/errors';
import type { Tensor } from '../../torch/tensor';
import { checkConfig, type PretrainedConfig } from './config';
import {
  PreTrainedModel, activation, attend, checkInputs, classificationLoss, extendedAttentionMask, initWeights, mergeHeads, splitHeads,
  type BaseModelOutput, type ClassifierInputs, type ModelInputs, type SequenceClassifierOutput,
} from './common';

type Call<T> = { call(x: Tensor): T };

/** Word + position + token-type embeddings, LayerNorm, dropout. */
export class BertEmbeddings extends nn.Module {
  readonly word_embeddings: nn.Embedding;
  readonly position_embeddings: nn.Embedding;
  readonly token_type_embeddings: nn.Embedding;
  readonly LayerNorm: nn.LayerNorm;
  readonly dropout: nn.Dropout;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.BertEmbeddings', config);
    const h = config.hiddenSize;
    this.word_embeddings = this.registerModule('word_embeddings', new nn.Embedding(config.vocabSize, h, { paddingIdx: config.padTokenId }));
    this.position_embeddings = this.registerModule('position_embeddings', new nn.Embedding(config.maxPositionEmbeddings, h));
    this.token_type_embeddings = this.registerModule('token_type_embeddings', new nn.Embedding(config.typeVocabSize, h));
    this.LayerNorm = this.registerModule('LayerNorm', new nn.LayerNorm(h, { eps: config.layerNormEps }));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.hiddenDropoutProb));
  }

  forward(inputIds: Tensor, tokenTypeIds?: Tensor | null, positionIds?: Tensor | null): Tensor {
    const [B, L] = inputIds.shape;
    const max = this.position_embeddings.numEmbeddings;
    if (!positionIds && L > max) throw new TorchError(`BertEmbeddings: ${L} tokens exceed max_position_embeddings ${max}`);
    const positions = positionIds ?? torch.arange(L, { dtype: 'int64', device: inputIds.device }).unsqueeze(0);
    const types = tokenTypeIds ?? torch.zeros([B, L], { dtype: 'int64', device: inputIds.device });
    const e = this.word_embeddings.call(inputIds).add(this.token_type_embeddings.call(types)).add(this.position_embeddings.call(positions));
    return this.dropout.call(this.LayerNorm.call(e));
  }
}

/** Multi-head self-attention: `query`, `key`, `value` projections and dropout on the probabilities. */
export class BertSelfAttention extends nn.Module {
  readonly query: nn.Linear;
  readonly key: nn.Linear;
  readonly value: nn.Linear;
  readonly dropout: nn.Dropout;
  readonly numAttentionHeads: number;
  constructor(readonly config: PretrainedConfig) {
    super();
    checkConfig('hf.BertSelfAttention', config);
    const h = config.hiddenSize;
    this.numAttentionHeads = config.numAttentionHeads;
    this.query = this.registerModule('query', new nn.Linear(h, h));
    this.key = this.registerModule('key', new nn.Linear(h, h));
    this.value = this.registerModule('value', new nn.Linear(h, h));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.attentionProbsDropoutProb));
  }

  /** The attended values [B, L, hidden] and, with `weights`, the probabilities [B, heads, L, L]. */
  forward(hidden: Tensor, mask: Tensor | null, weights: boolean): { context: Tensor; weights: Tensor | null } {
    const H = this.numAttentionHeads;
    const r = attend(splitHeads(this.query.call(hidden), H), splitHeads(this.key.call(hidden), H), splitHeads(this.value.call(hidden), H), mask,
      { dropout: this.dropout, weights, implementation: this.config.attnImplementation });
    return { context: mergeHeads(r.context), weights: r.weights };
  }
}

/** dense, dropout, LayerNorm(x + residual). */
export class BertSelfOutput extends nn.Module {
  readonly dense: nn.Linear;
  readonly LayerNorm: nn.LayerNorm;
  readonly dropout: nn.Dropout;
  constructor(config: PretrainedConfig, inFeatures?: number) {
    super();
    checkConfig('hf.BertSelfOutput', config);
    this.dense = this.registerModule('dense', new nn.Linear(inFeatures ?? config.hiddenSize, config.hiddenSize));
    this.LayerNorm = this.registerModule('LayerNorm', new nn.LayerNorm(config.hiddenSize, { eps: config.layerNormEps }));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.hiddenDropoutProb));
  }
  forward(hidden: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.call(this.dropout.call(this.dense.call(hidden)).add(residual));
  }
}

/** `self` (attention) then `output` (projection, residual, LayerNorm). */
export class BertAttention extends nn.Module {
  readonly self: BertSelfAttention;
  readonly output: BertSelfOutput;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.BertAttention', config);
    this.self = this.registerModule('self', new BertSelfAttention(config));
    this.output = this.registerModule('output', new BertSelfOutput(config));
  }
  /** The block's output; the attention probabilities are pushed onto `attentions` when it is given. */
  forward(hidden: Tensor, mask: Tensor | null, attentions: Tensor[] | null): Tensor {
    const r = this.self.call(hidden, mask, attentions !== null);
    if (attentions !== null) attentions.push(r.weights as Tensor);
    return this.output.call(r.context, hidden);
  }
}

/** dense to intermediate_size and hidden_act. */
export class BertIntermediate extends nn.Module {
  readonly dense: nn.Linear;
  private readonly act: (x: Tensor) => Tensor;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.BertIntermediate', config);
    this.dense = this.registerModule('dense', new nn.Linear(config.hiddenSize, config.intermediateSize));
    this.act = activation(config.hiddenAct);
  }
  forward(hidden: Tensor): Tensor {
    return this.act(this.dense.call(hidden));
  }
}

/**
 * One encoder layer: attention, intermediate, output (post-LN). Its call() returns the layer's hidden
 * state [B, L, hidden], so a forward hook on `encoder.layer.i` sees what transformers' hidden_states holds.
 */
export class BertLayer extends nn.Module {
  readonly attention: BertAttention;
  readonly intermediate: BertIntermediate;
  readonly output: BertSelfOutput;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.BertLayer', config);
    this.attention = this.registerModule('attention', new BertAttention(config));
    this.intermediate = this.registerModule('intermediate', new BertIntermediate(config));
    this.output = this.registerModule('output', new BertSelfOutput(config, config.intermediateSize));
  }
  forward(hidden: Tensor, mask: Tensor | null = null, attentions: Tensor[] | null = null): Tensor {
    const a = this.attention.call(hidden, mask, attentions);
    return this.output.call(this.intermediate.call(a), a);
  }
}

/** `layer`: num_hidden_layers BertLayers. */
export class BertEncoder extends nn.Module {
  readonly layer: nn.ModuleList;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.BertEncoder', config);
    this.layer = this.registerModule('layer', new nn.ModuleList([...Array(config.numHiddenLayers)].map(() => new BertLayer(config))));
  }
  /** The last hidden state; every layer's output goes onto `hidden`, its attention map onto `attentions`, when given. */
  forward(x: Tensor, mask: Tensor | null, hidden: Tensor[] | null = null, attentions: Tensor[] | null = null): Tensor {
    let h = x;
    for (const layer of this.layer) {
      h = (layer as BertLayer).call(h, mask, attentions);
      hidden?.push(h);
    }
    return h;
  }
}

/** tanh(dense(h[:, 0])): the [CLS] representation. */
export class BertPooler extends nn.Module {
  readonly dense: nn.Linear;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.BertPooler', config);
    this.dense = this.registerModule('dense', new nn.Linear(config.hiddenSize, config.hiddenSize));
  }
  forward(hidden: Tensor): Tensor {
    return this.dense.call(hidden.select(1, 0)).tanh();
  }
}

/** Runs an encoder over embeddings with the padding mask, collecting hidden states and attentions as asked. */
export function runEncoder(encode: (x: Tensor, mask: Tensor | null, hidden: Tensor[] | null, attentions: Tensor[] | null) => Tensor,
  embeddings: Tensor, inputs: ModelInputs): { last: Tensor; hiddenStates?: Tensor[]; attentions?: Tensor[] } {
  const mask = extendedAttentionMask(inputs.attentionMask, embeddings.dtype, inputs.inputIds.shape);
  const hidden = inputs.outputHiddenStates ? [embeddings] : null;
  const attentions = inputs.outputAttentions ? [] as Tensor[] : null;
  const last = encode(embeddings, mask, hidden, attentions);
  return { last, ...(hidden ? { hiddenStates: hidden } : {}), ...(attentions ? { attentions } : {}) };
}

/** BertModel: `embeddings`, `encoder`, and `pooler` (unless addPoolingLayer is false). */
export class BertModel extends PreTrainedModel {
  readonly embeddings: BertEmbeddings;
  readonly encoder: BertEncoder;
  readonly pooler: BertPooler | null;
  constructor(readonly config: PretrainedConfig, options: { addPoolingLayer?: boolean } = {}) {
    super();
    checkConfig('hf.BertModel', config);
    this.embeddings = this.registerModule('embeddings', new BertEmbeddings(config));
    this.encoder = this.registerModule('encoder', new BertEncoder(config));
    this.pooler = this.registerModule('pooler', options.addPoolingLayer ?? true ? new BertPooler(config) : null);
    initWeights(this, config.initializerRange);
  }
  get className(): string {
    return this.config.className('Model');
  }

  forward(inputs: ModelInputs): BaseModelOutput {
    checkInputs(`${this.className}.forward()`, inputs);
    const e = this.embeddings.call(inputs.inputIds, inputs.tokenTypeIds, inputs.positionIds);
    const r = runEncoder((x, m, h, a) => this.encoder.call(x, m, h, a), e, inputs);
    return { lastHiddenState: r.last, poolerOutput: this.pooler ? this.pooler.call(r.last) : null, hiddenStates: r.hiddenStates, attentions: r.attentions };
  }
}

/** BertForSequenceClassification: `bert` (with pooler), `dropout`, `classifier` on the pooled [CLS]. */
export class BertForSequenceClassification extends PreTrainedModel {
  readonly bert: BertModel;
  readonly dropout: nn.Dropout;
  readonly classifier: nn.Linear;
  constructor(readonly config: PretrainedConfig) {
    super();
    checkConfig('hf.BertForSequenceClassification', config);
    this.bert = this.registerModule('bert', new BertModel(config));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.classifierDropout));
    this.classifier = this.registerModule('classifier', new nn.Linear(config.hiddenSize, config.numLabels));
    initWeights(this.classifier, config.initializerRange);
  }
  get className(): string {
    return this.config.className('ForSequenceClassification');
  }
  /** The base model inside (transformers' base_model_prefix). */
  get baseModel(): BertModel {
    return this.bert;
  }

  forward(inputs: ClassifierInputs): SequenceClassifierOutput {
    const out = this.bert.call(inputs);
    const logits = (this.classifier as Call<Tensor>).call(this.dropout.call(out.poolerOutput as Tensor));
    return withLoss(this.config, { logits, hiddenStates: out.hiddenStates, attentions: out.attentions }, inputs.labels);
  }
}

/** Adds transformers' loss when labels are given; drops absent fields. */
export function withLoss(config: PretrainedConfig, out: SequenceClassifierOutput, labels?: Tensor): SequenceClassifierOutput {
  const result: SequenceClassifierOutput = { logits: out.logits };
  if (labels) result.loss = classificationLoss(config, out.logits, labels);
  if (out.hiddenStates) result.hiddenStates = out.hiddenStates;
  if (out.attentions) result.attentions = out.attentions;
  return result;
}
