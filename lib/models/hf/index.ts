// The `hf` namespace: Hugging Face encoders (BERT, RoBERTa / XLM-R / CamemBERT, DistilBERT) on torchkd's nn
// with transformers' parameter names, the Auto classes, tokenizers, and students for distillation.
export { PretrainedConfig, MODEL_TYPES, type ModelType, type Family, type ConfigDict, type ConfigOverrides } from './config';
export {
  PreTrainedModel, activation, extendedAttentionMask,
  type ModelInputs, type ClassifierInputs, type BaseModelOutput, type SequenceClassifierOutput, type SavePretrainedOptions,
} from './common';
export {
  BertModel, BertForSequenceClassification, BertEmbeddings, BertSelfAttention, BertSelfOutput, BertAttention,
  BertIntermediate, BertLayer, BertEncoder, BertPooler,
} from './bert';
export { RobertaModel, RobertaForSequenceClassification, RobertaEmbeddings, RobertaClassificationHead } from './roberta';
export {
  DistilBertModel, DistilBertForSequenceClassification, Embeddings as DistilBertEmbeddings, DistilBertSelfAttention, FFN as DistilBertFFN,
  TransformerBlock as DistilBertTransformerBlock, Transformer as DistilBertTransformer,
} from './distilbert';
export {
  AutoConfig, AutoModel, AutoModelForSequenceClassification, readCheckpoint, loadPretrainedWeights,
  type FromPretrainedOptions, type HfBaseModel, type HfSequenceClassifier,
} from './auto';
export {
  AutoTokenizer, PreTrainedTokenizer,
  type TokenizerCallOptions, type BatchEncoding, type PaddingStrategy, type TruncationStrategy,
} from './tokenizer';
export { studentFromTeacher, freshStudent, TokenIdsClassifier, type TokenIdsClassifierOptions } from './students';
