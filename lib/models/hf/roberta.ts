// RoBERTa (Liu et al. 2019) as transformers 5.18's modeling_roberta.py: BERT's layers with position ids
// counted from the padding (fairseq's make_positions) and the <s>-token classification head. XLM-RoBERTa
// and CamemBERT are the same architecture (model_type 'xlm-roberta' / 'camembert', prefix `roberta`).
import * as nn from '../../nn';
import * as torch from '../../torch';
import { TorchError } from '../../torch/errors';
import type { Tensor } from '../../torch/tensor';
import { checkConfig, type PretrainedConfig } from './config';
import { BertEncoder, BertPooler, runEncoder, withLoss } from './bert';
import { PreTrainedModel, checkInputs, initWeights, type BaseModelOutput, type ClassifierInputs, type ModelInputs, type SequenceClassifierOutput } from './common';

/**
 * RoBERTa's embeddings: as BERT's, but position ids are padding_idx + the running count of non-padding
 * tokens (padding keeps padding_idx), and the position table has a padding row.
 */
export class RobertaEmbeddings extends nn.Module {
  readonly word_embeddings: nn.Embedding;
  readonly token_type_embeddings: nn.Embedding;
  readonly LayerNorm: nn.LayerNorm;
  readonly dropout: nn.Dropout;
  readonly position_embeddings: nn.Embedding;
  readonly paddingIdx: number;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.RobertaEmbeddings', config);
    const h = config.hiddenSize;
    this.paddingIdx = config.padTokenId;
    this.word_embeddings = this.registerModule('word_embeddings', new nn.Embedding(config.vocabSize, h, { paddingIdx: this.paddingIdx }));
    this.token_type_embeddings = this.registerModule('token_type_embeddings', new nn.Embedding(config.typeVocabSize, h));
    this.LayerNorm = this.registerModule('LayerNorm', new nn.LayerNorm(h, { eps: config.layerNormEps }));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.hiddenDropoutProb));
    this.position_embeddings = this.registerModule('position_embeddings', new nn.Embedding(config.maxPositionEmbeddings, h, { paddingIdx: this.paddingIdx }));
  }

  /** transformers' create_position_ids_from_input_ids: cumsum(mask) · mask + padding_idx. */
  positionIds(inputIds: Tensor): Tensor {
    const mask = inputIds.ne(this.paddingIdx).to('int64');
    return mask.cumsum(1).mul(mask).add(this.paddingIdx);
  }

  forward(inputIds: Tensor, tokenTypeIds?: Tensor | null, positionIds?: Tensor | null): Tensor {
    const [B, L] = inputIds.shape;
    const positions = positionIds ?? this.positionIds(inputIds);
    const max = this.position_embeddings.numEmbeddings;
    if (!positionIds && L + this.paddingIdx >= max) {
      throw new TorchError(`RobertaEmbeddings: ${L} tokens need ${L + this.paddingIdx + 1} positions, max_position_embeddings is ${max}`);
    }
    const types = tokenTypeIds ?? torch.zeros([B, L], { dtype: 'int64', device: inputIds.device });
    const e = this.word_embeddings.call(inputIds).add(this.token_type_embeddings.call(types)).add(this.position_embeddings.call(positions));
    return this.dropout.call(this.LayerNorm.call(e));
  }
}

/** RobertaModel: `embeddings`, `encoder` (BERT's layers), `pooler` unless addPoolingLayer is false. */
export class RobertaModel extends PreTrainedModel {
  readonly embeddings: RobertaEmbeddings;
  readonly encoder: BertEncoder;
  readonly pooler: BertPooler | null;
  constructor(readonly config: PretrainedConfig, options: { addPoolingLayer?: boolean } = {}) {
    super();
    checkConfig('hf.RobertaModel', config);
    this.embeddings = this.registerModule('embeddings', new RobertaEmbeddings(config));
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

/** The head on <s>: dropout, dense, tanh, dropout, out_proj. */
export class RobertaClassificationHead extends nn.Module {
  readonly dense: nn.Linear;
  readonly dropout: nn.Dropout;
  readonly out_proj: nn.Linear;
  constructor(config: PretrainedConfig) {
    super();
    checkConfig('hf.RobertaClassificationHead', config);
    this.dense = this.registerModule('dense', new nn.Linear(config.hiddenSize, config.hiddenSize));
    this.dropout = this.registerModule('dropout', new nn.Dropout(config.classifierDropout));
    this.out_proj = this.registerModule('out_proj', new nn.Linear(config.hiddenSize, config.numLabels));
  }
  forward(features: Tensor): Tensor {
    const x = this.dropout.call(this.dense.call(this.dropout.call(features.select(1, 0))).tanh());
    return this.out_proj.call(x);
  }
}

/** RobertaForSequenceClassification: `roberta` (no pooler) and `classifier` (RobertaClassificationHead). */
export class RobertaForSequenceClassification extends PreTrainedModel {
  readonly roberta: RobertaModel;
  readonly classifier: RobertaClassificationHead;
  constructor(readonly config: PretrainedConfig) {
    super();
    checkConfig('hf.RobertaForSequenceClassification', config);
    this.roberta = this.registerModule('roberta', new RobertaModel(config, { addPoolingLayer: false }));
    this.classifier = this.registerModule('classifier', new RobertaClassificationHead(config));
    initWeights(this.classifier, config.initializerRange);
  }
  get className(): string {
    return this.config.className('ForSequenceClassification');
  }
  get baseModel(): RobertaModel {
    return this.roberta;
  }
  forward(inputs: ClassifierInputs): SequenceClassifierOutput {
    const out = this.roberta.call(inputs);
    return withLoss(this.config, { logits: this.classifier.call(out.lastHiddenState), hiddenStates: out.hiddenStates, attentions: out.attentions }, inputs.labels);
  }
}
