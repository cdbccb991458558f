// Hugging Face model configurations (config.json) for the encoders torchkd implements: BERT (also MiniLM
// and TinyBERT checkpoints), RoBERTa / XLM-RoBERTa / CamemBERT and DistilBERT. A config keeps every key
// of the file, so that savePretrained writes back what it read plus what changed; the fields the models
// use are read with transformers 5.18's defaults for each model type.
import { readFileSync } from 'node:fs';
import { argError, kindOf, TorchError } from '../../torch/errors';
import { checkPath } from '../../io/paths';

/** The model types torchkd builds, and the architecture family each belongs to. */
export const MODEL_TYPES = {
  bert: 'bert',
  roberta: 'roberta',
  'xlm-roberta': 'roberta',
  camembert: 'roberta',
  distilbert: 'distilbert',
} as const;

export type ModelType = keyof typeof MODEL_TYPES;
export type Family = (typeof MODEL_TYPES)[ModelType];

/** config.json as a plain object (snake_case keys, as transformers writes them). */
export type ConfigDict = Record<string, unknown>;

// transformers 5.18's defaults (BertConfig, RobertaConfig, XLMRobertaConfig, CamembertConfig, DistilBertConfig).
const BERT_DEFAULTS: ConfigDict = {
  vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
  type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, classifier_dropout: null,
};
const DEFAULTS: Record<ModelType, ConfigDict> = {
  bert: BERT_DEFAULTS,
  roberta: { ...BERT_DEFAULTS, vocab_size: 50265, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2 },
  'xlm-roberta': { ...BERT_DEFAULTS, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2 },
  camembert: { ...BERT_DEFAULTS, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2 },
  distilbert: {
    vocab_size: 30522, max_position_embeddings: 512, sinusoidal_pos_embds: false, n_layers: 6, n_heads: 12, dim: 768,
    hidden_dim: 3072, dropout: 0.1, attention_dropout: 0.1, activation: 'gelu', initializer_range: 0.02,
    qa_dropout: 0.1, seq_classif_dropout: 0.2, pad_token_id: 0,
  },
};

/** DistilBERT's own names of the common fields (transformers' attribute_map). */
const DISTILBERT_NAMES: Record<string, string> = {
  hidden_size: 'dim', num_attention_heads: 'n_heads', num_hidden_layers: 'n_layers', intermediate_size: 'hidden_dim',
  hidden_act: 'activation', hidden_dropout_prob: 'dropout', attention_probs_dropout_prob: 'attention_dropout',
};

/** The Python class names of each model type (config.json's `architectures`). */
const CLASS_PREFIX: Record<ModelType, string> = {
  bert: 'Bert', roberta: 'Roberta', 'xlm-roberta': 'XLMRoberta', camembert: 'Camembert', distilbert: 'DistilBert',
};

/** Overrides in camelCase (the fields a student configuration changes most). */
export interface ConfigOverrides {
  vocabSize?: number;
  hiddenSize?: number;
  numHiddenLayers?: number;
  numAttentionHeads?: number;
  intermediateSize?: number;
  hiddenAct?: string;
  hiddenDropoutProb?: number;
  attentionProbsDropoutProb?: number;
  maxPositionEmbeddings?: number;
  numLabels?: number;
  id2label?: Record<number, string>;
  /** 'sdpa' (default: F.scaledDotProductAttention) or 'eager' (the explicit softmax(QKᵀ/√d)V). */
  attnImplementation?: 'sdpa' | 'eager';
}

function isModelType(t: unknown): t is ModelType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(MODEL_TYPES, t);
}

/** The model type from `model_type`, else from the first `architectures` entry (older TinyBERT / MiniLM files). */
function inferModelType(dict: ConfigDict, where: string): ModelType {
  if (isModelType(dict.model_type)) return dict.model_type;
  if (dict.model_type !== undefined) {
    throw new TorchError(`${where}: model_type ${JSON.stringify(dict.model_type)} is not supported (supported: ${Object.keys(MODEL_TYPES).join(', ')})`);
  }
  const arch = Array.isArray(dict.architectures) ? String(dict.architectures[0] ?? '') : '';
  // Longest prefix first: XLMRoberta before Roberta, DistilBert before Bert.
  const byPrefix = (Object.entries(CLASS_PREFIX) as [ModelType, string][]).sort((a, b) => b[1].length - a[1].length);
  const found = byPrefix.find(([, prefix]) => arch.startsWith(prefix));
  if (found) return found[0];
  throw new TorchError(`${where}: no model_type (and no known architectures entry) in the configuration`);
}

/**
 * A model configuration: `PretrainedConfig` of transformers. The typed fields use the BERT names for every
 * family (DistilBERT's `dim`, `n_layers`, ... are read and written under their own names).
 */
/** Refuses a model's config argument that is not a PretrainedConfig. */
export function checkConfig(op: string, config: unknown): void {
  if (!(config instanceof PretrainedConfig)) argError(op, `config must be a PretrainedConfig, got ${kindOf(config)}`);
}

export class PretrainedConfig {
  readonly modelType: ModelType;
  /** Every key of config.json, with the changes made through this object. */
  private readonly dict: ConfigDict;
  /** 'sdpa' (default) or 'eager'; not written to config.json (as transformers). */
  attnImplementation: 'sdpa' | 'eager' = 'sdpa';

  constructor(dict: ConfigDict, where = 'config') {
    if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) throw new TorchError(`${where}: a configuration must be a JSON object`);
    this.modelType = inferModelType(dict, where);
    this.dict = { ...DEFAULTS[this.modelType], ...dict, model_type: this.modelType };
    const labels = this.dict.id2label;
    if (labels !== undefined && labels !== null && (typeof labels !== 'object' || Array.isArray(labels))) {
      throw new TorchError(`${where}: id2label must be an object {"0": "label", ...}`);
    }
    if (labels === undefined || labels === null) {
      // transformers: no id2label means num_labels (default 2) generic labels.
      const n = typeof dict.num_labels === 'number' ? dict.num_labels : 2;
      this.dict.id2label = Object.fromEntries([...Array(n).keys()].map((i) => [String(i), `LABEL_${i}`]));
    }
    delete this.dict.num_labels;
    this.validate(where);
  }

  /** Reads DIR/config.json (or a config.json path). */
  static fromFile(path: string): PretrainedConfig {
    checkPath('PretrainedConfig.fromFile', path);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new TorchError(`cannot read ${path}: ${(e as Error).message}`);
    }
    let dict: unknown;
    try {
      dict = JSON.parse(text);
    } catch (e) {
      throw new TorchError(`${path}: not valid JSON (${(e as Error).message})`);
    }
    return new PretrainedConfig(dict as ConfigDict, path);
  }

  get family(): Family {
    return MODEL_TYPES[this.modelType];
  }

  private key(name: string): string {
    return this.family === 'distilbert' ? DISTILBERT_NAMES[name] ?? name : name;
  }
  /** A field by its transformers name (BERT names work for DistilBERT too). */
  get<T = unknown>(name: string): T {
    return this.dict[this.key(name)] as T;
  }
  set(name: string, value: unknown): void {
    this.dict[this.key(name)] = value;
  }

  get vocabSize(): number { return this.get('vocab_size'); }
  get hiddenSize(): number { return this.get('hidden_size'); }
  get numHiddenLayers(): number { return this.get('num_hidden_layers'); }
  get numAttentionHeads(): number { return this.get('num_attention_heads'); }
  get intermediateSize(): number { return this.get('intermediate_size'); }
  get hiddenAct(): string { return this.get('hidden_act'); }
  get hiddenDropoutProb(): number { return this.get('hidden_dropout_prob'); }
  get attentionProbsDropoutProb(): number { return this.get('attention_probs_dropout_prob'); }
  get maxPositionEmbeddings(): number { return this.get('max_position_embeddings'); }
  get typeVocabSize(): number { return this.get('type_vocab_size'); }
  get layerNormEps(): number { return this.family === 'distilbert' ? 1e-12 : this.get('layer_norm_eps'); }
  get padTokenId(): number { return (this.get<number | null>('pad_token_id') ?? 0); }
  get initializerRange(): number { return this.get('initializer_range'); }
  /** Dropout before the classification head: classifier_dropout (else hidden_dropout_prob); DistilBERT's seq_classif_dropout. */
  get classifierDropout(): number {
    if (this.family === 'distilbert') return this.get('seq_classif_dropout');
    return this.get<number | null>('classifier_dropout') ?? this.hiddenDropoutProb;
  }
  get problemType(): string | null { return this.get<string | null>('problem_type') ?? null; }
  set problemType(v: string | null) { this.set('problem_type', v); }

  /** Label names by class index. */
  get id2label(): Record<number, string> {
    const m = this.dict.id2label as Record<string, string>;
    return Object.fromEntries(Object.entries(m).map(([k, v]) => [Number(k), v]));
  }
  set id2label(m: Record<number, string>) {
    this.dict.id2label = Object.fromEntries(Object.entries(m).map(([k, v]) => [String(k), String(v)]));
    this.dict.label2id = Object.fromEntries(Object.entries(m).map(([k, v]) => [String(v), Number(k)]));
    this.validate('config');
  }
  get label2id(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.id2label).map(([k, v]) => [v, Number(k)]));
  }
  get numLabels(): number {
    return Object.keys(this.dict.id2label as object).length;
  }
  /** As transformers: a new number of labels resets the label names to LABEL_0, LABEL_1, ... */
  set numLabels(n: number) {
    if (!Number.isInteger(n) || n < 1) throw new TorchError(`numLabels must be a positive integer, got ${String(n)}`);
    if (n !== this.numLabels) this.id2label = Object.fromEntries([...Array(n).keys()].map((i) => [i, `LABEL_${i}`]));
  }

  /** The Python class of a task head of this model type (e.g. 'BertForSequenceClassification'). */
  className(task: 'Model' | 'ForSequenceClassification'): string {
    return `${CLASS_PREFIX[this.modelType]}${task}`;
  }

  /** A copy with camelCase overrides applied (a student's configuration, a fresh head). */
  copy(overrides: ConfigOverrides = {}): PretrainedConfig {
    const c = new PretrainedConfig(structuredClone(this.dict));
    c.attnImplementation = overrides.attnImplementation ?? this.attnImplementation;
    const names: [keyof ConfigOverrides, string][] = [
      ['vocabSize', 'vocab_size'], ['hiddenSize', 'hidden_size'], ['numHiddenLayers', 'num_hidden_layers'],
      ['numAttentionHeads', 'num_attention_heads'], ['intermediateSize', 'intermediate_size'], ['hiddenAct', 'hidden_act'],
      ['hiddenDropoutProb', 'hidden_dropout_prob'], ['attentionProbsDropoutProb', 'attention_probs_dropout_prob'],
      ['maxPositionEmbeddings', 'max_position_embeddings'],
    ];
    for (const [camel, snake] of names) if (overrides[camel] !== undefined) c.set(snake, overrides[camel]);
    if (overrides.id2label !== undefined) c.id2label = overrides.id2label;
    else if (overrides.numLabels !== undefined) c.numLabels = overrides.numLabels;
    c.validate('config');
    return c;
  }

  /** config.json's content for a model of class `architecture`. */
  toDict(architecture?: string): ConfigDict {
    const out: ConfigDict = { ...structuredClone(this.dict) };
    if (architecture) out.architectures = [architecture];
    out.model_type = this.modelType;
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  private validate(where: string): void {
    const positive = ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'max_position_embeddings'];
    if (this.family !== 'distilbert') positive.push('type_vocab_size');
    for (const name of positive) {
      const v = this.get(name);
      if (!Number.isInteger(v) || (v as number) < (name === 'num_hidden_layers' ? 0 : 1)) {
        throw new TorchError(`${where}: ${this.key(name)} must be a positive integer, got ${JSON.stringify(v)}`);
      }
    }
    if (this.hiddenSize % this.numAttentionHeads !== 0) {
      throw new TorchError(`${where}: the hidden size (${this.hiddenSize}) is not a multiple of the number of attention heads (${this.numAttentionHeads})`);
    }
    for (const name of ['hidden_dropout_prob', 'attention_probs_dropout_prob']) {
      const v = this.get(name);
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new TorchError(`${where}: ${this.key(name)} must be a probability, got ${JSON.stringify(v)}`);
    }
    if (this.numLabels < 1) throw new TorchError(`${where}: id2label is empty`);
  }
}
