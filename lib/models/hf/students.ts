// Students for distilling a Hugging Face classifier, and the module the Distiller trains: a student cut
// from the teacher (a subset of its layers with their weights: DistilBERT's initialisation, Sanh et al.
// 2019), a fresh smaller configuration (TinyBERT-like, Jiao et al. 2020), and TokenIdsClassifier, which
// takes padded token ids and exposes the hidden states and attention maps at module paths for capture.
import * as nn from '../../nn';
import * as torch from '../../torch';
import { optionsArg, TorchError } from '../../torch/errors';
import type { Tensor } from '../../torch/tensor';
import type { ConfigOverrides } from './config';
import { AutoModelForSequenceClassification, type HfSequenceClassifier } from './auto';
import { checkModel } from './common';

/** A layer key of any family: `bert.encoder.layer.3.…`, `distilbert.transformer.layer.3.…`. */
const LAYER_KEY = /^(.*(?:^|\.)(?:encoder|transformer)\.layer\.)(\d+)(\..*)$/;

/**
 * A student of the teacher's class and configuration with layers.length layers: the embeddings, the
 * listed teacher layers (0-based, in the given order) and the pooler / head are copies of the teacher's.
 */
export function studentFromTeacher<T extends HfSequenceClassifier>(teacher: T, layers: number[]): T {
  checkModel('hf.studentFromTeacher', 'teacher', teacher);
  const n = teacher.config.numHiddenLayers;
  if (!Array.isArray(layers) || layers.length === 0) throw new TorchError('studentFromTeacher(): layers must list at least one teacher layer');
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= n) throw new TorchError(`studentFromTeacher(): teacher layer ${String(l)} does not exist (the teacher has layers 0..${n - 1})`);
  }
  const config = teacher.config.copy({ numHiddenLayers: layers.length });
  const student = AutoModelForSequenceClassification.fromConfig(config) as T;
  torch.tidy(() => {
    const source = teacher.stateDict();
    const target: Record<string, Tensor> = {};
    for (const key of Object.keys(student.stateDict())) {
      const m = LAYER_KEY.exec(key);
      const from = m ? `${m[1]}${layers[Number(m[2])]}${m[3]}` : key;
      if (!source[from]) throw new TorchError(`studentFromTeacher(): the teacher has no ${from}`);
      target[key] = source[from];
    }
    student.loadStateDict(target);
  });
  const device = teacher.parameters()[0]?.device;
  if (device && device !== 'cpu') student.to(device);
  student.train(teacher.training);
  return student;
}

/** A freshly initialised classifier with the teacher's configuration changed by `overrides` (same vocabulary and labels). */
export function freshStudent(teacher: HfSequenceClassifier, overrides: ConfigOverrides): HfSequenceClassifier {
  checkModel('hf.freshStudent', 'teacher', teacher);
  const student = AutoModelForSequenceClassification.fromConfig(teacher.config.copy(optionsArg('hf.freshStudent', overrides, 'overrides')));
  const device = teacher.parameters()[0]?.device;
  if (device && device !== 'cpu') student.to(device);
  return student;
}

export interface TokenIdsClassifierOptions {
  /** The padding id of the token ids (default the model's pad_token_id): attentionMask = ids ≠ pad. */
  padTokenId?: number;
  /** Pass every hidden state through the `hidden_states.i` taps (default true). */
  outputHiddenStates?: boolean;
  /** Pass every attention map through the `attentions.i` taps (default false: it needs the explicit attention path). */
  outputAttentions?: boolean;
}

/**
 * A Hugging Face classifier as a module of padded token ids [B, L] → logits [B, numLabels], for the
 * Distiller and the Trainer. The attention mask is ids ≠ padTokenId; hidden states (embeddings at 0) go
 * through identity taps `hidden_states.i` and attention maps [B, heads, L, L] through `attentions.i`, so
 * that forward hooks capture them by module path. Submodule `model` is the classifier (its state dict is
 * the classifier's under `model.`).
 */
export class TokenIdsClassifier extends nn.Module {
  readonly model: HfSequenceClassifier;
  readonly hidden_states: nn.ModuleList;
  readonly attentions: nn.ModuleList;
  readonly padTokenId: number;
  outputHiddenStates: boolean;
  outputAttentions: boolean;
  constructor(model: HfSequenceClassifier, options: TokenIdsClassifierOptions = {}) {
    super();
    this.model = this.registerModule('model', model);
    const layers = model.config.numHiddenLayers;
    this.hidden_states = this.registerModule('hidden_states', new nn.ModuleList([...Array(layers + 1)].map(() => new nn.Identity())));
    this.attentions = this.registerModule('attentions', new nn.ModuleList([...Array(layers)].map(() => new nn.Identity())));
    this.padTokenId = options.padTokenId ?? model.config.padTokenId;
    this.outputHiddenStates = options.outputHiddenStates ?? true;
    this.outputAttentions = options.outputAttentions ?? false;
    this.training = model.training;
  }
  /** The capture paths of the hidden states: hidden_states.0 (embeddings) .. hidden_states.N. */
  hiddenStatePaths(): string[] {
    return [...Array(this.hidden_states.length).keys()].map((i) => `hidden_states.${i}`);
  }
  /** The capture paths of the attention maps: attentions.0 .. attentions.N−1. */
  attentionPaths(): string[] {
    return [...Array(this.attentions.length).keys()].map((i) => `attentions.${i}`);
  }
  forward(inputIds: Tensor): Tensor {
    if (inputIds?.ndim !== 2) throw new TorchError(`TokenIdsClassifier.forward(): expected token ids [batch, length], got ${inputIds?.ndim}-D`);
    const out = this.model.call({
      inputIds, attentionMask: inputIds.ne(this.padTokenId).to('int64'),
      outputHiddenStates: this.outputHiddenStates, outputAttentions: this.outputAttentions,
    });
    out.hiddenStates?.forEach((h, i) => (this.hidden_states.at(i) as nn.Identity).call(h));
    out.attentions?.forEach((a, i) => (this.attentions.at(i) as nn.Identity).call(a));
    return out.logits;
  }
}
