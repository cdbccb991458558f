// transformers' Auto classes: AutoConfig, AutoModel and AutoModelForSequenceClassification pick the class
// from config.json's model_type and load the weights of a Hugging Face folder: model.safetensors, sharded
// safetensors (model.safetensors.index.json), or pytorch_model.bin (torchkd's restricted unpickler), with
// transformers' key fixes (base-model prefix added or removed, legacy LayerNorm gamma/beta).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../torch';
import { objectArg, optionsArg, stringArg, TorchError } from '../../torch/errors';
import type { Tensor } from '../../torch/tensor';
import type { DType } from '../../torch/dtype';
import { loadSafetensors, loadStateDict } from '../../io';
import { checkPath } from '../../io/paths';
import { checkConfig, PretrainedConfig, type ConfigOverrides } from './config';
import { checkModel, type PreTrainedModel } from './common';
import { BertForSequenceClassification, BertModel } from './bert';
import { RobertaForSequenceClassification, RobertaModel } from './roberta';
import { DistilBertForSequenceClassification, DistilBertModel } from './distilbert';

/** A base model (AutoModel's classes). */
export type HfBaseModel = BertModel | RobertaModel | DistilBertModel;
/** A sequence classifier (AutoModelForSequenceClassification's classes). */
export type HfSequenceClassifier = BertForSequenceClassification | RobertaForSequenceClassification | DistilBertForSequenceClassification;

export interface FromPretrainedOptions extends ConfigOverrides {
  /** Parameter dtype (default 'float32'; checkpoint tensors are cast). */
  dtype?: DType;
  /** Where the model goes (default 'cpu'). */
  device?: string;
  /**
   * Keep the fresh initialisation for checkpoint tensors whose shape differs (transformers'
   * ignore_mismatched_sizes). Default: true when numLabels / id2label change the head, else false.
   */
  ignoreMismatchedSizes?: boolean;
  /** Use this configuration instead of DIR/config.json. */
  config?: PretrainedConfig;
}

/** The checkpoint's state dict, from the first file transformers would read. Tensors are the caller's. */
export function readCheckpoint(dir: string): { tensors: Record<string, Tensor>; source: string } {
  const file = (name: string) => join(dir, name);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new TorchError(`${dir}: not a folder (a Hugging Face model folder holds config.json and model.safetensors)`);
  if (existsSync(file('model.safetensors'))) return { tensors: loadSafetensors(file('model.safetensors')).tensors, source: file('model.safetensors') };
  for (const [index, load] of [
    ['model.safetensors.index.json', (p: string) => loadSafetensors(p).tensors],
    ['pytorch_model.bin.index.json', (p: string) => loadStateDict(p, { device: 'cpu' })],
  ] as const) {
    if (!existsSync(file(index))) continue;
    let map: Record<string, string>;
    try {
      map = JSON.parse(readFileSync(file(index), 'utf8')).weight_map;
    } catch (e) {
      throw new TorchError(`${file(index)}: not valid JSON (${(e as Error).message})`);
    }
    if (map === null || typeof map !== 'object') throw new TorchError(`${file(index)}: no weight_map`);
    const tensors: Record<string, Tensor> = {};
    try {
      for (const shard of [...new Set(Object.values(map))]) {
        if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) throw new TorchError(`${file(index)}: bad shard name ${JSON.stringify(shard)}`);
        const got = load(file(shard));
        for (const [k, t] of Object.entries(got)) {
          if (map[k] === shard) tensors[k] = t;
          else t.dispose();
        }
      }
      const absent = Object.keys(map).filter((k) => !(k in tensors));
      if (absent.length > 0) throw new TorchError(`${file(index)}: ${absent.length} tensors of the index are missing from their shards (first: ${absent[0]})`);
    } catch (e) {
      torch.dispose(Object.values(tensors));
      throw e;
    }
    return { tensors, source: file(index) };
  }
  if (existsSync(file('pytorch_model.bin'))) return { tensors: loadStateDict(file('pytorch_model.bin'), { device: 'cpu' }), source: file('pytorch_model.bin') };
  throw new TorchError(`${dir}: no weights (model.safetensors, model.safetensors.index.json or pytorch_model.bin)`);
}

/** transformers' legacy renames: LayerNorm.gamma → .weight, LayerNorm.beta → .bias. */
function fixKey(key: string): string {
  if (key.endsWith('LayerNorm.gamma')) return `${key.slice(0, -'gamma'.length)}weight`;
  if (key.endsWith('LayerNorm.beta')) return `${key.slice(0, -'beta'.length)}bias`;
  return key;
}

/**
 * Copies a checkpoint into a model as transformers' from_pretrained does: keys renamed, the base-model
 * prefix ('bert.', 'roberta.', 'distilbert.') added for a base checkpoint loaded into a task model or
 * removed for a task checkpoint loaded into a base model. Keys the model lacks (an MLM head, buffers) are
 * reported as unexpected; the model's keys without a value (a new head) keep their initialisation and
 * are reported as missing; shape mismatches are errors unless ignoreMismatchedSizes.
 */
export function loadPretrainedWeights(model: PreTrainedModel, checkpoint: Record<string, Tensor>, options: { prefix: string; ignoreMismatchedSizes?: boolean; source?: string }): PreTrainedModel['loadingInfo'] {
  checkModel('hf.loadPretrainedWeights', 'model', model);
  objectArg('hf.loadPretrainedWeights', 'checkpoint', checkpoint);
  const { prefix, ignoreMismatchedSizes = false, source = 'the checkpoint' } = objectArg('hf.loadPretrainedWeights', 'options', options);
  stringArg('hf.loadPretrainedWeights', 'options.prefix', prefix);
  const own = torch.tidy(() => Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.shape])));
  const ownKeys = Object.keys(own);
  const modelHasPrefix = ownKeys.some((k) => k.startsWith(`${prefix}.`));
  const fixed = Object.entries(checkpoint).map(([k, t]) => [fixKey(k), t] as const);
  const checkpointHasPrefix = fixed.some(([k]) => k.startsWith(`${prefix}.`));
  const rename = (k: string) => {
    if (modelHasPrefix && !checkpointHasPrefix) return `${prefix}.${k}`;
    if (!modelHasPrefix && checkpointHasPrefix) return k.startsWith(`${prefix}.`) ? k.slice(prefix.length + 1) : `#${k}`;
    return k;
  };
  const take: Record<string, Tensor> = {};
  const unexpectedKeys: string[] = [];
  const mismatchedKeys: string[] = [];
  for (const [k, t] of fixed) {
    const name = rename(k);
    const shape = own[name];
    if (!shape) {
      unexpectedKeys.push(k);
      continue;
    }
    if (shape.length !== t.shape.length || shape.some((s, i) => s !== t.shape[i])) {
      if (!ignoreMismatchedSizes) {
        throw new TorchError(`${source}: ${k} has shape [${t.shape.join(', ')}], the model expects [${shape.join(', ')}]` +
          ' (a head for another number of labels? pass numLabels, or ignoreMismatchedSizes: true)');
      }
      mismatchedKeys.push(k);
      continue;
    }
    take[name] = t;
  }
  const missingKeys = ownKeys.filter((k) => !(k in take));
  torch.noGrad(() => model.loadStateDict(take, { strict: false }));
  return { missingKeys, unexpectedKeys, mismatchedKeys };
}

type Task = 'Model' | 'ForSequenceClassification';

function construct(config: PretrainedConfig, task: Task): PreTrainedModel {
  if (task === 'Model') {
    if (config.family === 'bert') return new BertModel(config);
    if (config.family === 'roberta') return new RobertaModel(config);
    return new DistilBertModel(config);
  }
  if (config.family === 'bert') return new BertForSequenceClassification(config);
  if (config.family === 'roberta') return new RobertaForSequenceClassification(config);
  return new DistilBertForSequenceClassification(config);
}

/** The base-model prefix of a family (transformers' base_model_prefix). */
export function basePrefix(config: PretrainedConfig): string {
  return config.family;
}

function fromPretrained(task: Task, dir: string, options: FromPretrainedOptions): PreTrainedModel {
  checkPath(`AutoModel${task === 'Model' ? '' : `For${task.slice(3)}`}.fromPretrained`, dir);
  const base = options.config ?? PretrainedConfig.fromFile(join(dir, 'config.json'));
  const config = base.copy(options);
  const headChanged = config.numLabels !== base.numLabels;
  const { tensors, source } = readCheckpoint(dir);
  let model: PreTrainedModel | null = null;
  try {
    model = construct(config, task);
    model.loadingInfo = loadPretrainedWeights(model, tensors, {
      prefix: basePrefix(config), source, ignoreMismatchedSizes: options.ignoreMismatchedSizes ?? headChanged,
    });
    if (options.dtype && options.dtype !== 'float32') model.to(options.dtype);
    if (options.device && options.device !== 'cpu') model.to(options.device);
    return model.eval();
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    torch.dispose(Object.values(tensors));
  }
}

function fromConfig(task: Task, config: PretrainedConfig, options?: { dtype?: DType; device?: string }): PreTrainedModel {
  checkConfig('hf.fromConfig', config);
  options = optionsArg('hf.fromConfig', options);
  const model = construct(config, task);
  if (options.dtype && options.dtype !== 'float32') model.to(options.dtype);
  if (options.device && options.device !== 'cpu') model.to(options.device);
  return model;
}

/** AutoConfig.fromPretrained(dir): DIR/config.json (or a path to a JSON file). */
export const AutoConfig = {
  fromPretrained(path: string, overrides: ConfigOverrides = {}): PretrainedConfig {
    checkPath('AutoConfig.fromPretrained', path);
    const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'config.json') : path;
    return PretrainedConfig.fromFile(file).copy(overrides);
  },
};

/**
 * AutoModel: the base encoder (BertModel, RobertaModel, DistilBertModel) of a Hugging Face folder, in eval
 * mode as transformers returns it; fromConfig builds a freshly initialised one (train mode).
 */
export const AutoModel = {
  fromPretrained(dir: string, options: FromPretrainedOptions = {}): HfBaseModel {
    return fromPretrained('Model', dir, options) as HfBaseModel;
  },
  fromConfig(config: PretrainedConfig, options: { dtype?: DType; device?: string } = {}): HfBaseModel {
    return fromConfig('Model', config, options) as HfBaseModel;
  },
};

/**
 * AutoModelForSequenceClassification: BertForSequenceClassification, RobertaForSequenceClassification
 * (also XLM-R, CamemBERT) or DistilBertForSequenceClassification. With numLabels (or id2label) different
 * from the folder's, the head is new (N(0, initializer_range)), the rest loads from the checkpoint.
 */
export const AutoModelForSequenceClassification = {
  fromPretrained(dir: string, options: FromPretrainedOptions = {}): HfSequenceClassifier {
    return fromPretrained('ForSequenceClassification', dir, options) as HfSequenceClassifier;
  },
  fromConfig(config: PretrainedConfig, options: { dtype?: DType; device?: string } = {}): HfSequenceClassifier {
    return fromConfig('ForSequenceClassification', config, options) as HfSequenceClassifier;
  },
};
