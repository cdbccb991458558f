// `torchkd text --teacher DIR`: a Hugging Face classifier (BERT, RoBERTa, XLM-R, DistilBERT folder) as the
// teacher, fine-tuned on the training set first when asked; a transformer student cut from it (a subset of
// its layers) or built fresh from a smaller configuration; hidden-state (and attention) distillation over a
// layer map, KD and CE; the same student trained on the labels alone ("scratch"); the teacher's and the
// student's spectral profiles; the students written as Hugging Face folders.
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as torch from '../torch';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { DataLoader, LabelVocab, TensorDataset, type TextExample } from '../data';
import { Distiller } from '../distill/distiller';
import { attentionMaps, crossEntropy, hiddenStates, kd, type LossTerm } from '../distill/terms';
import { initialLayers, layerMap, type LayerMapOptions, type LayerMapStrategy, type LayerPair } from '../distill/layerMap';
import { spectralProfile, type SelectOptions } from '../distill/spectral';
import type { Loader } from '../train/trainer';
import * as hf from '../models/hf';
import type { SpectralSeries } from '../report';

/** What the HF pipeline needs from `torchkd text`'s options (see TextOptions). */
export interface HfTextOptions {
  teacher: string;
  finetuneTeacher: boolean;
  studentLayers?: number;
  studentConfig?: string;
  layerMap: string;
  hiddenLoss: 'mse' | 'cosine';
  hiddenWeight: number;
  attentionWeight: number;
  twoStage: boolean;
  maxLength: number;
  batchSize: number;
  spectralSamples: number;
  seed: number;
  device: string;
}

/** A parsed --layer-map. */
export interface LayerMapSpec {
  strategy: LayerMapStrategy;
  weights?: number[];
  select?: SelectOptions;
}

/** skip | average | uniform | last | weighted:0.3,0.7 | spectral[:top=K | :threshold=X | :edges[=K]]. */
export function parseLayerMap(spec: string): LayerMapSpec {
  const [name, arg] = spec.split(/:(.*)/s);
  const bad = (why: string): never => {
    throw new TorchError(`--layer-map ${JSON.stringify(spec)}: ${why} (skip | average | uniform | last | weighted:W1,W2,... | spectral[:top=K|:threshold=X|:edges[=K]])`);
  };
  if (['skip', 'average', 'uniform', 'last'].includes(name)) {
    if (arg !== undefined) bad(`'${name}' takes no argument`);
    return { strategy: name as LayerMapStrategy };
  }
  if (name === 'weighted') {
    const weights = (arg ?? '').split(',').map(Number);
    if (arg === undefined || arg === '' || weights.some((w) => !Number.isFinite(w))) bad("'weighted' needs its weights, e.g. weighted:0.3,0.7");
    return { strategy: 'weighted', weights };
  }
  if (name === 'spectral') {
    if (arg === undefined) return { strategy: 'spectral' };
    const m = /^(top|threshold|edges)(?:=(.+))?$/.exec(arg);
    if (!m) return bad(`unknown selection '${arg}'`);
    const k = m[2] === undefined ? undefined : Number(m[2]);
    if (m[2] !== undefined && !Number.isFinite(k)) bad(`'${m[1]}' needs a number, got '${m[2]}'`);
    if (m[1] === 'threshold' && k === undefined) bad("'threshold' needs its fraction of the maximum, e.g. spectral:threshold=0.8");
    if (m[1] === 'top' && k === undefined) bad("'top' needs its count, e.g. spectral:top=4");
    return { strategy: 'spectral', select: { strategy: m[1] as SelectOptions['strategy'], ...(k === undefined ? {} : { k }) } };
  }
  return bad(`unknown strategy '${name}'`);
}

/**
 * --student-config: LAYERSxHIDDEN[xHEADS] (e.g. 4x312: TinyBERT's 4 layers of 312, intermediate 4·hidden,
 * heads hidden/64 unless given) or a JSON file of config.json fields to change (snake_case or camelCase).
 */
export function parseStudentConfig(spec: string, teacher: hf.PretrainedConfig): hf.ConfigOverrides {
  const m = /^(\d+)x(\d+)(?:x(\d+))?$/.exec(spec);
  if (m) {
    const [layers, hidden] = [Number(m[1]), Number(m[2])];
    const heads = m[3] !== undefined ? Number(m[3]) : Math.max(1, Math.round(hidden / 64));
    if (hidden % heads !== 0) throw new TorchError(`--student-config ${spec}: ${heads} heads do not divide the width ${hidden} (give them: ${layers}x${hidden}xHEADS)`);
    return { numHiddenLayers: layers, hiddenSize: hidden, numAttentionHeads: heads, intermediateSize: 4 * hidden };
  }
  if (!existsSync(spec) || !statSync(spec).isFile()) throw new TorchError(`--student-config ${JSON.stringify(spec)}: neither LAYERSxHIDDEN[xHEADS] nor a JSON file`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(spec, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new TorchError(`--student-config ${spec}: not valid JSON (${(e as Error).message})`);
  }
  const names: Record<string, keyof hf.ConfigOverrides> = {
    num_hidden_layers: 'numHiddenLayers', hidden_size: 'hiddenSize', num_attention_heads: 'numAttentionHeads',
    intermediate_size: 'intermediateSize', hidden_act: 'hiddenAct', hidden_dropout_prob: 'hiddenDropoutProb',
    attention_probs_dropout_prob: 'attentionProbsDropoutProb',
    n_layers: 'numHiddenLayers', dim: 'hiddenSize', n_heads: 'numAttentionHeads', hidden_dim: 'intermediateSize',
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    const key = names[k] ?? (Object.values(names).includes(k as keyof hf.ConfigOverrides) ? k : undefined);
    if (!key) throw new TorchError(`--student-config ${spec}: unknown field ${JSON.stringify(k)} (${Object.keys(names).slice(0, 7).join(', ')})`);
    out[key] = v;
  }
  if (out.hiddenSize !== undefined && out.intermediateSize === undefined) out.intermediateSize = 4 * Number(out.hiddenSize);
  teacher.copy(out as hf.ConfigOverrides);
  return out as hf.ConfigOverrides;
}

/** Token ids padded on the right with `pad`; each batch is cut to its longest row (less attention work). */
export class PaddedIdsDataset extends TensorDataset {
  constructor(ids: Tensor, labels: Tensor, readonly pad: number) {
    super(ids, labels);
  }
  override getBatch(indices: readonly number[]): Tensor[] {
    const [ids, labels] = super.getBatch(indices);
    const longest = Math.max(1, torch.tidy(() => ids.ne(this.pad).sum(1).max().item()));
    if (longest === ids.size(1)) return [ids, labels];
    const cut = ids.narrow(1, 0, longest).contiguous();
    ids.dispose();
    return [cut, labels];
  }
}

/** The label order of the run: the teacher's id2label when it names exactly the training labels, else the data's. */
export function teacherLabels(config: hf.PretrainedConfig, data: LabelVocab): LabelVocab | null {
  const names = Object.entries(config.id2label).sort(([a], [b]) => Number(a) - Number(b)).map(([, v]) => v);
  const same = names.length === data.length && new Set(names).size === names.length && names.every((n) => data.labels.includes(n));
  return same ? new LabelVocab(names) : null;
}

/** Encodes texts (truncated to maxLength, padded to the longest) into a PaddedIdsDataset. */
export function encodeHf(tok: hf.PreTrainedTokenizer, examples: TextExample[], labels: LabelVocab, maxLength: number): PaddedIdsDataset {
  const pad = tok.padTokenId;
  if (pad === null) throw new TorchError('the teacher\'s tokenizer has no pad_token; torchkd text needs one to batch texts');
  if (tok.paddingSide !== 'right') throw new TorchError('the teacher\'s tokenizer pads on the left; torchkd text expects padding_side right');
  const enc = tok.call(examples.map((e) => e.text), { padding: true, truncation: true, maxLength, returnTokenTypeIds: false });
  enc.attentionMask.dispose();
  return new PaddedIdsDataset(enc.inputIds, labels.encode(examples.map((e) => e.label)), pad);
}

/**
 * The spectral intensity of each hidden state of `model` (embeddings first) over the real tokens of
 * `ids` (spectralProfile with the real-token mask), computed in chunks and averaged by token count.
 */
export function hiddenStateProfile(model: hf.TokenIdsClassifier, ids: Tensor, device: string): number[] {
  const sums: number[] = [];
  let tokens = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    for (let start = 0; start < ids.size(0); start += 64) {
      torch.noGrad(() => torch.tidy(() => {
        const x = ids.narrow(0, start, Math.min(64, ids.size(0) - start)).to(device);
        const real = x.ne(model.padTokenId);
        const count = real.sum().item();
        const out = model.model.call({ inputIds: x, attentionMask: real.to('int64'), outputHiddenStates: true });
        spectralProfile(out.hiddenStates as Tensor[], { mask: real }).forEach((v, i) => {
          sums[i] = (sums[i] ?? 0) + v * count;
        });
        tokens += count;
      }));
    }
  } finally {
    model.train(wasTraining);
  }
  return sums.map((s) => s / tokens);
}

/** The plot series of a profile: 'embeddings', 'layer 1', ...; selected hidden-state indices marked. */
export function profileSeries(model: string, profile: number[], selected?: number[]): SpectralSeries {
  return { model, layers: profile.map((_, i) => (i === 0 ? 'embeddings' : `layer ${i}`)), intensity: profile, ...(selected ? { selected } : {}) };
}

/** The layer map of the run in hidden-state indices (embeddings at 0), and the teacher layers a cut student starts from. */
export function runLayerMap(spec: LayerMapSpec, teacherLayers: number, studentLayers: number, profile: number[]): { map: LayerPair[]; init: number[] } {
  const options: LayerMapOptions = { embeddings: true, weights: spec.weights, select: spec.select, profile };
  const map = layerMap(teacherLayers, studentLayers, spec.strategy, options);
  // Layer-numbered pairs (no embeddings) for the initial layers of a cut student.
  const layers = map.filter((p) => p.student > 0).map((p) => ({ student: p.student - 1, teacher: p.teacher.map((t) => t - 1), weights: p.weights }));
  return { map, init: initialLayers(layers, studentLayers, teacherLayers) };
}

/** The distillation terms of a student stage: CE, KD, and the layer-mapped hidden-state and attention terms. */
export function studentTerms(o: HfTextOptions & { alpha: number; temperature: number }, map: LayerPair[], student: hf.TokenIdsClassifier,
  teacher: hf.TokenIdsClassifier, stage: 'all' | 'intermediate' | 'prediction'): LossTerm[] {
  const pad = teacher.padTokenId;
  const mask = (ctx: { input: Tensor }) => ctx.input.ne(pad);
  const terms: LossTerm[] = [];
  if (stage !== 'intermediate') {
    if (o.alpha < 1) terms.push(crossEntropy({ weight: 1 - o.alpha }));
    if (o.alpha > 0) terms.push(kd({ temperature: o.temperature, weight: o.alpha }));
  }
  if (stage !== 'prediction') {
    if (o.hiddenWeight > 0) {
      terms.push(hiddenStates({ map, studentPaths: student.hiddenStatePaths(), teacherPaths: teacher.hiddenStatePaths(), loss: o.hiddenLoss, mask, weight: o.hiddenWeight }));
    }
    if (o.attentionWeight > 0) {
      terms.push(attentionMaps({ map, studentPaths: student.attentionPaths(), teacherPaths: teacher.attentionPaths(), mask, weight: o.attentionWeight }));
    }
  }
  if (terms.length === 0) throw new TorchError('the student has no loss term (alpha, --hidden-weight and --attention-weight leave none)');
  return terms;
}

/** A Distiller over token-id batches. */
export function distillerFor(student: hf.TokenIdsClassifier, teacher: hf.TokenIdsClassifier | null, terms: LossTerm[]): Distiller {
  return new Distiller({ student, teachers: teacher ? [teacher] : [], terms });
}

/** Evaluation loader of a padded dataset. */
export function hfLoader(d: PaddedIdsDataset, batchSize: number, shuffle = false, seed = 0): Loader {
  return new DataLoader(d, { batchSize, shuffle, seed }) as Loader;
}
