// Loss terms over layer maps for transformer students (TinyBERT's intermediate-layer distillation, Jiao et
// al. 2020): hidden states and attention maps captured at module paths, paired by a layer map, with the
// padding mask of the batch. Exported with the other terms (distill.terms).
import * as nn from '../nn';
import { functionArg, objectArg, stringsArg, TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { attentionLoss, hiddenStateLoss, type AttentionLossOptions } from './hidden';
import { checkLayerPairs, type LayerPair } from './layerMap';
import type { LossTerm, StepContext } from './terms';

/** [B, L] real-token mask of a step (e.g. ctx => ctx.input.ne(padTokenId)). */
export type StepMask = (ctx: StepContext) => Tensor;

/** Checks the options both layer-mapped terms take. */
function checkMapOptions(op: string, options: HiddenStatesTermOptions | AttentionMapsTermOptions): void {
  objectArg(op, 'options', options);
  checkLayerPairs(op, 'options.map', options.map);
  stringsArg(op, 'options.studentPaths', options.studentPaths);
  stringsArg(op, 'options.teacherPaths', options.teacherPaths);
  if (options.mask !== undefined) functionArg(op, 'options.mask', options.mask);
}

/** The captured features at `paths`, by index (absent entries stay undefined). */
function gather(features: Record<string, Tensor>, paths: string[], indices: number[], who: string, term: string): Tensor[] {
  const out: Tensor[] = [];
  for (const i of indices) {
    const path = paths[i];
    if (path === undefined) throw new TorchError(`${term}: the layer map uses ${who} index ${i}, but only ${paths.length} ${who} paths are given`);
    const f = features[path];
    if (!f) throw new TorchError(`${term}: no ${who} feature was captured at '${path}'`);
    out[i] = f;
  }
  return out;
}

export interface HiddenStatesTermOptions {
  /** Pairs of hidden-state indices (layerMap with embeddings: true for hf models' hiddenStates). */
  map: LayerPair[];
  /** The capture path of each student / teacher hidden-state index (TokenIdsClassifier.hiddenStatePaths()). */
  studentPaths: string[];
  teacherPaths: string[];
  /** 'mse' (default) or 'cosine' (hiddenStateLoss). */
  loss?: 'mse' | 'cosine';
  /** Real-token mask of the step; padding is left out of the means. */
  mask?: StepMask;
  /**
   * When the widths differ: one learned nn.Linear from the student's to the teacher's width for every
   * layer ('shared', TinyBERT's W_h; default) or one per pair ('perPair'); trained with the student.
   */
  projection?: 'shared' | 'perPair';
  name?: string;
  weight?: LossTerm['weight'];
}

/**
 * Hidden-state distillation over a layer map: hiddenStateLoss(student, teacher, { map, loss, mask,
 * projection }), Σ over the pairs of the (masked) mean squared error, or 1 − cosine similarity, between the
 * projected student state and the weighted teacher states.
 */
export function hiddenStates(options: HiddenStatesTermOptions): LossTerm {
  checkMapOptions('terms.hiddenStates', options);
  const { map, studentPaths, teacherPaths, loss = 'mse', mask, projection = 'shared', name = 'hidden', weight } = options;
  if (!Array.isArray(map) || map.length === 0) throw new TorchError(`${name}: the layer map is empty`);
  if (projection !== 'shared' && projection !== 'perPair') throw new TorchError(`${name}: projection must be 'shared' or 'perPair', got ${JSON.stringify(projection)}`);
  const modules: Record<string, nn.Module> = {};
  const sIdx = [...new Set(map.map((p) => p.student))];
  const tIdx = [...new Set(map.flatMap((p) => p.teacher))];
  return {
    name, weight, modules,
    studentFeatures: sIdx.map((i) => studentPaths[i]).filter((p) => p !== undefined),
    teacherFeatures: tIdx.map((i) => teacherPaths[i]).filter((p) => p !== undefined),
    compute(ctx) {
      const s = gather(ctx.student.features, studentPaths, sIdx, 'student', name);
      if (ctx.teachers.length === 0) throw new TorchError(`${name}: the hidden-state term needs a teacher`);
      const t = gather(ctx.teachers[0].features, teacherPaths, tIdx, 'teacher', name);
      const sw = s[sIdx[0]].size(-1);
      const tw = t[tIdx[0]].size(-1);
      let proj: nn.Module | nn.Module[] | undefined;
      if (sw !== tw) {
        const make = (key: string) => (modules[key] ??= new nn.Linear(sw, tw).to({ device: s[sIdx[0]].device }));
        proj = projection === 'shared' ? make('proj') : map.map((_, i) => make(`proj${i}`));
      }
      return hiddenStateLoss(s, t, { map, loss, projection: proj, mask: mask?.(ctx) });
    },
  };
}

export interface AttentionMapsTermOptions {
  /** Pairs of layers; with `embeddings` (the default), hidden-state indices: layer j's map is index j + 1 and pairs at 0 are skipped. */
  map: LayerPair[];
  embeddings?: boolean;
  /** The capture path of each student / teacher layer's attention map (TokenIdsClassifier.attentionPaths()). */
  studentPaths: string[];
  teacherPaths: string[];
  /** attentionLoss's mode (default 'mse' over probabilities). */
  mode?: AttentionLossOptions['mode'];
  mask?: StepMask;
  name?: string;
  weight?: LossTerm['weight'];
}

/**
 * Attention-map distillation over a layer map: Σ over the pairs of attentionLoss(s, Σ_k w_k t_k, { mask,
 * mode }) on maps [B, heads, L, L]. When the head counts differ, both sides are averaged over heads first.
 */
export function attentionMaps(options: AttentionMapsTermOptions): LossTerm {
  checkMapOptions('terms.attentionMaps', options);
  const { studentPaths, teacherPaths, mode, mask, embeddings = true, name = 'attention', weight } = options;
  const shift = embeddings ? 1 : 0;
  const map = options.map.filter((p) => !embeddings || p.student > 0)
    .map((p) => ({ student: p.student - shift, teacher: p.teacher.map((t) => t - shift), weights: p.weights }));
  if (map.length === 0) throw new TorchError(`${name}: the layer map pairs no layers`);
  if (map.some((p) => p.teacher.some((t) => t < 0))) throw new TorchError(`${name}: a student layer is paired with the teacher's embeddings, which have no attention map`);
  const sIdx = [...new Set(map.map((p) => p.student))];
  const tIdx = [...new Set(map.flatMap((p) => p.teacher))];
  return {
    name, weight,
    studentFeatures: sIdx.map((i) => studentPaths[i]).filter((p) => p !== undefined),
    teacherFeatures: tIdx.map((i) => teacherPaths[i]).filter((p) => p !== undefined),
    compute(ctx) {
      if (ctx.teachers.length === 0) throw new TorchError(`${name}: the attention term needs a teacher`);
      const s = gather(ctx.student.features, studentPaths, sIdx, 'student', name);
      const t = gather(ctx.teachers[0].features, teacherPaths, tIdx, 'teacher', name);
      const m = mask?.(ctx);
      return map.map((pair) => {
        let sa = s[pair.student];
        let ta = pair.teacher.map((i, k) => t[i].mul(pair.weights[k])).reduce((a, b) => a.add(b));
        if (sa.size(1) !== ta.size(1)) {
          sa = sa.mean(1, { keepdim: true });
          ta = ta.mean(1, { keepdim: true });
        }
        return attentionLoss(sa, ta, { mask: m, mode });
      }).reduce((a, b) => a.add(b));
    },
  };
}
