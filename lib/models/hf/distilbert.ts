// DistilBERT (Sanh et al. 2019) as transformers 5.18's modeling_distilbert.py: word + position embeddings,
// post-LN blocks (`q_lin`, `k_lin`, `v_lin`, `out_lin`, `sa_layer_norm`, `ffn.lin1/lin2`,
// `output_layer_norm`) and the pre_classifier → ReLU → dropout → classifier head on the first token.
import * as nn from '../../nn';
import * as torch from '../../torch';
import { TorchError } from '../../torch/errors';
import type { Tensor } from '../../torch/tensor';
import { checkConfig, type PretrainedConfig } from './config';
import { runEncoder, withLoss } from './bert';
import {
  PreTrainedModel, activation, attend, checkInputs, initWeights, mergeHeads, splitHeads,
  type BaseModelOutput, type ClassifierInputs, type ModelInputs, type SequenceClassifierOutput,
} from './common';

/** Word + position embeddings (sinusoidal ones with sinusoidal_pos_embds), LayerNorm (eps 1e-12), dropout. */
export class Embeddings extends nn.Module {
  readonly word_embeddings: nn.Embedding;
  readonly position_embeddings: nn.Embedding;
  readonly LayerNorm: nn.LayerNorm;
  readonly dropout: nn.Dropout;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.DistilBertEmbeddings', config);
    const dim = config.hiddenSize;
    this.word_embeddings = this.registerModule('word_embeddings', new nn.Embedding(config.vocabSize, dim, { paddingIdx: config.padTokenId }));
    this.position_embeddings = this.registerModule('position_embeddings', new nn.Embedding(config.maxPositionEmbeddings, dim));
    this.LayerNorm = this.registerModule('LayerNorm', new nn.LayerNorm(dim, { eps: 1e-12 }));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.hiddenDropoutProb));
  }
  forward(inputIds: Tensor, positionIds?: Tensor | null): Tensor {
    const L = inputIds.size(1);
    const max = this.position_embeddings.numEmbeddings;
    if (!positionIds && L > max) throw new TorchError(`DistilBERT Embeddings: ${L} tokens exceed max_position_embeddings ${max}`);
    const positions = positionIds ?? torch.arange(L, { dtype: 'int64', device: inputIds.device }).unsqueeze(0);
    return this.dropout.call(this.LayerNorm.call(this.word_embeddings.call(inputIds).add(this.position_embeddings.call(positions))));
  }
}

/** transformers' create_sinusoidal_embeddings: sin at even columns, cos at odd ones, pos / 10000^(2⌊j/2⌋/dim). */
function sinusoidal(weight: Tensor): void {
  const [n, dim] = weight.shape;
  const values = new Float32Array(n * dim);
  for (let pos = 0; pos < n; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / 10000 ** ((2 * Math.floor(j / 2)) / dim);
      values[pos * dim + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  torch.noGrad(() => torch.tidy(() => { weight.copy_(torch.tensor(values, { shape: [n, dim] })); }));
}

/** Multi-head self-attention with its output projection (`q_lin`, `k_lin`, `v_lin`, `out_lin`). */
export class DistilBertSelfAttention extends nn.Module {
  readonly q_lin: nn.Linear;
  readonly k_lin: nn.Linear;
  readonly v_lin: nn.Linear;
  readonly out_lin: nn.Linear;
  readonly dropout: nn.Dropout;
  readonly nHeads: number;
  constructor(readonly config: PretrainedConfig) {
    super();
    checkConfig('hf.DistilBertSelfAttention', config);
    const dim = config.hiddenSize;
    this.nHeads = config.numAttentionHeads;
    this.q_lin = this.registerModule('q_lin', new nn.Linear(dim, dim));
    this.k_lin = this.registerModule('k_lin', new nn.Linear(dim, dim));
    this.v_lin = this.registerModule('v_lin', new nn.Linear(dim, dim));
    this.out_lin = this.registerModule('out_lin', new nn.Linear(dim, dim));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.attentionProbsDropoutProb));
  }
  forward(hidden: Tensor, mask: Tensor | null, weights: boolean): { context: Tensor; weights: Tensor | null } {
    const H = this.nHeads;
    const r = attend(splitHeads(this.q_lin.call(hidden), H), splitHeads(this.k_lin.call(hidden), H), splitHeads(this.v_lin.call(hidden), H), mask,
      { dropout: this.dropout, weights, implementation: this.config.attnImplementation });
    return { context: this.out_lin.call(mergeHeads(r.context)), weights: r.weights };
  }
}

/** lin1, activation, lin2, dropout. */
export class FFN extends nn.Module {
  readonly dropout: nn.Dropout;
  readonly lin1: nn.Linear;
  readonly lin2: nn.Linear;
  private readonly act: (x: Tensor) => Tensor;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.DistilBertFFN', config);
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.hiddenDropoutProb));
    this.lin1 = this.registerModule('lin1', new nn.Linear(config.hiddenSize, config.intermediateSize));
    this.lin2 = this.registerModule('lin2', new nn.Linear(config.intermediateSize, config.hiddenSize));
    this.act = activation(config.hiddenAct);
  }
  forward(x: Tensor): Tensor {
    return this.dropout.call(this.lin2.call(this.act(this.lin1.call(x))));
  }
}

/** One block: sa_layer_norm(attention(x) + x), output_layer_norm(ffn(a) + a); call() returns the hidden state. */
export class TransformerBlock extends nn.Module {
  readonly attention: DistilBertSelfAttention;
  readonly sa_layer_norm: nn.LayerNorm;
  readonly ffn: FFN;
  readonly output_layer_norm: nn.LayerNorm;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.DistilBertTransformerBlock', config);
    this.attention = this.registerModule('attention', new DistilBertSelfAttention(config));
    this.sa_layer_norm = this.registerModule('sa_layer_norm', new nn.LayerNorm(config.hiddenSize, { eps: 1e-12 }));
    this.ffn = this.registerModule('ffn', new FFN(config));
    this.output_layer_norm = this.registerModule('output_layer_norm', new nn.LayerNorm(config.hiddenSize, { eps: 1e-12 }));
  }
  forward(hidden: Tensor, mask: Tensor | null = null, attentions: Tensor[] | null = null): Tensor {
    const r = this.attention.call(hidden, mask, attentions !== null);
    if (attentions !== null) attentions.push(r.weights as Tensor);
    const a = this.sa_layer_norm.call(r.context.add(hidden));
    return this.output_layer_norm.call(this.ffn.call(a).add(a));
  }
}

/** `layer`: n_layers TransformerBlocks. */
export class Transformer extends nn.Module {
  readonly layer: nn.ModuleList;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.DistilBertTransformer', config);
    this.layer = this.registerModule('layer', new nn.ModuleList([...Array(config.numHiddenLayers)].map(() => new TransformerBlock(config))));
  }
  forward(x: Tensor, mask: Tensor | null, hidden: Tensor[] | null = null, attentions: Tensor[] | null = null): Tensor {
    let h = x;
    for (const layer of this.layer) {
      h = (layer as TransformerBlock).call(h, mask, attentions);
      hidden?.push(h);
    }
    return h;
  }
}

/** DistilBertModel: `embeddings`, `transformer`. */
export class DistilBertModel extends PreTrainedModel {
  readonly embeddings: Embeddings;
  readonly transformer: Transformer;
  constructor(readonly config: PretrainedConfig) {
    super();
    checkConfig('hf.DistilBertModel', config);
    this.embeddings = this.registerModule('embeddings', new Embeddings(config));
    this.transformer = this.registerModule('transformer', new Transformer(config));
    initWeights(this, config.initializerRange);
    if (config.get('sinusoidal_pos_embds')) sinusoidal(this.embeddings.position_embeddings.weight);
  }
  get className(): string {
    return this.config.className('Model');
  }
  forward(inputs: ModelInputs): BaseModelOutput {
    checkInputs(`${this.className}.forward()`, inputs);
    const e = this.embeddings.call(inputs.inputIds, inputs.positionIds);
    const r = runEncoder((x, m, h, a) => this.transformer.call(x, m, h, a), e, inputs);
    return { lastHiddenState: r.last, poolerOutput: null, hiddenStates: r.hiddenStates, attentions: r.attentions };
  }
}

/** DistilBertForSequenceClassification: `distilbert`, `pre_classifier`, `classifier`, `dropout` (seq_classif_dropout). */
export class DistilBertForSequenceClassification extends PreTrainedModel {
  readonly distilbert: DistilBertModel;
  readonly pre_classifier: nn.Linear;
  readonly classifier: nn.Linear;
  readonly dropout: nn.Dropout;
  constructor(readonly config: PretrainedConfig) {
    super();
    checkConfig('hf.DistilBertForSequenceClassification', config);
    this.distilbert = this.registerModule('distilbert', new DistilBertModel(config));
    this.pre_classifier = this.registerModule('pre_classifier', new nn.Linear(config.hiddenSize, config.hiddenSize));
    this.classifier = this.registerModule('classifier', new nn.Linear(config.hiddenSize, config.numLabels));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.classifierDropout));
    initWeights(this.pre_classifier, config.initializerRange);
    initWeights(this.classifier, config.initializerRange);
  }
  get className(): string {
    return this.config.className('ForSequenceClassification');
  }
  get baseModel(): DistilBertModel {
    return this.distilbert;
  }
  forward(inputs: ClassifierInputs): SequenceClassifierOutput {
    if (inputs?.tokenTypeIds) throw new TorchError('DistilBertForSequenceClassification.forward(): DistilBERT takes no tokenTypeIds');
    const out = this.distilbert.call(inputs);
    const pooled = this.dropout.call(this.pre_classifier.call(out.lastHiddenState.select(1, 0)).relu());
    return withLoss(this.config, { logits: this.classifier.call(pooled), hiddenStates: out.hiddenStates, attentions: out.attentions }, inputs.labels);
  }
}
