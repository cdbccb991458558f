// Layer maps: which teacher layers each student layer learns from in hidden-state and attention
// distillation, for any teacher and student depth. TinyBERT's uniform map (Jiao et al. 2020) and
// DistilBERT's every-other-layer choice (Sanh et al. 2019) are the classic ones; averaging or weighting
// groups of teacher layers, the last layers, explicit lists, and a spectral selection (SpectralKD: the
// teacher layers whose hidden states carry the most spectral intensity) are the others.
import { argError, arrayArg, intArg, numbersArg, objectArg, TorchError } from '../torch/errors';
import { selectLayers, type SelectOptions } from './spectral';

/** Student hidden state `student` is matched with Σ_k weights[k] · teacher hidden state teacher[k]. */
export interface LayerPair {
  student: number;
  teacher: number[];
  weights: number[];
}

/** Checks a list of LayerPairs, pair by pair. */
export function checkLayerPairs(op: string, name: string, map: readonly LayerPair[]): readonly LayerPair[] {
  arrayArg(op, name, map);
  for (let i = 0; i < map.length; i++) {
    const { student, teacher, weights } = objectArg(op, `${name}[${i}]`, map[i]);
    intArg(op, `${name}[${i}].student`, student);
    numbersArg(op, `${name}[${i}].teacher`, teacher, true);
    numbersArg(op, `${name}[${i}].weights`, weights);
    if (teacher.length === 0 || weights.length !== teacher.length) argError(op, `${name}[${i}] needs one weight per teacher layer, at least one`);
  }
  return map;
}

export type LayerMapStrategy = 'uniform' | 'skip' | 'last' | 'average' | 'weighted' | 'spectral';

export interface LayerMapOptions {
  /** 'weighted': the weight of each teacher layer of a group, in depth order (e.g. [0.3, 0.7]). */
  weights?: number[];
  /**
   * Index hidden-state lists that start with the embeddings (transformers' hidden_states, hf models'
   * hiddenStates): layer j's output is index j + 1 for student and teacher. Without it indices are layer
   * numbers (0 = the first layer's output). 'uniform' always includes the embeddings at 0.
   */
  embeddings?: boolean;
  /**
   * 'spectral': the teacher's spectral profile (spectralProfile over its hidden states): one intensity
   * per layer, or per hidden state with the embeddings first (their entry is never selected).
   */
  profile?: number[];
  /**
   * 'spectral': how to select teacher layers (selectLayers; default 'top' with k = studentLayers; 'edges'
   * takes every layer of both runs unless k is given, and more layers than the student has are spread).
   */
  select?: SelectOptions;
}

const range = (n: number) => [...Array(n).keys()];
const one = (student: number, teacher: number): LayerPair => ({ student, teacher: [teacher], weights: [1] });

/** The teacher layers [⌊j·N/M⌋, ⌊(j+1)·N/M⌋) of student layer j: M contiguous groups covering all N layers. */
function groups(teacherLayers: number, studentLayers: number): number[][] {
  return range(studentLayers).map((j) => {
    const from = Math.floor((j * teacherLayers) / studentLayers);
    const to = Math.floor(((j + 1) * teacherLayers) / studentLayers);
    return range(to - from).map((i) => from + i);
  });
}

/**
 * Pairs selected teacher layers (ascending, of N) with M student layers in depth order: one each when there
 * are M; with more, M of them evenly spread (first and last kept); with fewer, each goes to the student
 * layer at its relative depth, round((t + 1)·M/N) − 1, kept increasing.
 */
function pairInOrder(selected: number[], teacherLayers: number, studentLayers: number): LayerPair[] {
  const S = selected.length;
  if (S === studentLayers) return selected.map((t, j) => one(j, t));
  if (S > studentLayers) {
    if (studentLayers === 1) return [one(0, selected[S - 1])];
    return range(studentLayers).map((j) => one(j, selected[Math.round((j * (S - 1)) / (studentLayers - 1))]));
  }
  const students: number[] = [];
  selected.forEach((t, i) => {
    const depth = Math.max(0, Math.round(((t + 1) * studentLayers) / teacherLayers) - 1);
    // Increasing, and leaving room for the selected layers still to come.
    students.push(Math.min(Math.max(depth, i === 0 ? 0 : students[i - 1] + 1), studentLayers - (S - i)));
  });
  return selected.map((t, i) => one(students[i], t));
}

function checkDepth(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new TorchError(`layerMap(): ${name} must be an integer ≥ ${min}, got ${String(v)}`);
}

/**
 * Which teacher layers each student layer learns from, for N teacher and M student layers (M ≤ N):
 * - 'uniform' (TinyBERT): hidden-state indices with the embeddings at 0; student i ↔ teacher round(i·N/M),
 *   i = 0..M (embeddings ↔ embeddings, last ↔ last);
 * - 'skip' (DistilBERT-like, every k-th layer): student j ↔ teacher round((j + 1)·N/M) − 1, the last layer
 *   of each of M groups;
 * - 'last': student j ↔ teacher N − M + j;
 * - 'average': student j ↔ the mean of its group [⌊j·N/M⌋, ⌊(j + 1)·N/M⌋);
 * - 'weighted': the same groups with the given weights (e.g. [0.3, 0.7] for N = 2M); the groups must all
 *   have weights.length layers;
 * - 'spectral': the teacher layers selectLayers picks from `profile` (top-k, threshold, or the leading and
 *   trailing runs of a U-shaped profile), paired with the student layers in order;
 * - an explicit list of [student, teacher or [teachers]] pairs (teachers averaged), indices as given.
 * With `embeddings`, layer indices are shifted by one so they index hidden-state lists that start with the
 * embeddings.
 */
export function layerMap(teacherLayers: number, studentLayers: number,
  strategy: LayerMapStrategy | [number, number | number[]][], options: LayerMapOptions = {}): LayerPair[] {
  if (Array.isArray(strategy)) {
    return strategy.map((entry) => {
      if (!Array.isArray(entry) || entry.length !== 2) throw new TorchError(`layerMap(): explicit pairs are [student, teacher] or [student, [teachers]], got ${JSON.stringify(entry)}`);
      const [s, t] = entry;
      const teacher = Array.isArray(t) ? t : [t];
      for (const i of [s, ...teacher]) {
        if (!Number.isInteger(i) || i < 0) throw new TorchError(`layerMap(): layer indices must be non-negative integers, got ${JSON.stringify(entry)}`);
      }
      if (teacher.length === 0) throw new TorchError(`layerMap(): student layer ${s} has no teacher layer`);
      return { student: s, teacher, weights: teacher.map(() => 1 / teacher.length) };
    });
  }
  checkDepth('teacherLayers', teacherLayers, 1);
  checkDepth('studentLayers', studentLayers, 1);
  const N = teacherLayers;
  const M = studentLayers;
  if (M > N && strategy !== 'spectral') {
    throw new TorchError(`layerMap(): '${strategy}' maps a deeper teacher onto a student: the student has ${M} layers, the teacher ${N}`);
  }
  if (strategy === 'uniform') return range(M + 1).map((i) => one(i, Math.round((i * N) / M)));
  let pairs: LayerPair[];
  switch (strategy) {
    case 'skip':
      pairs = range(M).map((j) => one(j, Math.round(((j + 1) * N) / M) - 1));
      break;
    case 'last':
      pairs = range(M).map((j) => one(j, N - M + j));
      break;
    case 'average':
      pairs = groups(N, M).map((g, j) => ({ student: j, teacher: g, weights: g.map(() => 1 / g.length) }));
      break;
    case 'weighted': {
      const { weights } = options;
      if (!Array.isArray(weights) || weights.length === 0 || weights.some((w) => typeof w !== 'number' || !Number.isFinite(w))) {
        throw new TorchError("layerMap(): 'weighted' needs weights, one number per teacher layer of a group (e.g. [0.3, 0.7])");
      }
      const gs = groups(N, M);
      const bad = gs.find((g) => g.length !== weights.length);
      if (bad) {
        throw new TorchError(`layerMap(): 'weighted' with ${weights.length} weights needs groups of ${weights.length} teacher layers, ` +
          `but ${N} teacher layers over ${M} student layers give groups of ${[...new Set(gs.map((g) => g.length))].join(' and ')}`);
      }
      pairs = gs.map((g, j) => ({ student: j, teacher: g, weights: [...weights] }));
      break;
    }
    case 'spectral': {
      const { profile } = options;
      if (!Array.isArray(profile) || (profile.length !== N && profile.length !== N + 1)) {
        throw new TorchError(`layerMap(): 'spectral' needs the teacher's profile with ${N} entries (one per layer) or ${N + 1} (embeddings first), got ${Array.isArray(profile) ? profile.length : typeof profile}`);
      }
      const layers = profile.length === N ? profile : profile.slice(1);
      // 'top' defaults to one teacher layer per student layer; 'edges' keeps both arms of the U, spread below.
      const select: SelectOptions = { strategy: 'top', ...options.select };
      if (select.strategy === 'top' && select.k === undefined) select.k = M;
      const selected = selectLayers(layers, select);
      if (selected.length === 0) throw new TorchError("layerMap(): the spectral selection chose no teacher layer (a lower threshold?)");
      pairs = pairInOrder(selected, N, M);
      break;
    }
    default:
      throw new TorchError(`layerMap(): unknown strategy ${JSON.stringify(strategy)} (uniform | skip | last | average | weighted | spectral, or a list of pairs)`);
  }
  if (!options.embeddings) return pairs;
  return pairs.map((p) => ({ student: p.student + 1, teacher: p.teacher.map((t) => t + 1), weights: p.weights }));
}

/**
 * The teacher layer a student layer is initialised from when a student is cut from its teacher: for each
 * student layer in order, the paired teacher layer with the largest weight (the deepest on ties); a
 * student layer the map leaves unpaired takes the 'skip' layer round((j + 1)·N/M) − 1 of the N
 * teacherLayers when given. The pairs' indices are layer numbers (no embeddings entry).
 */
export function initialLayers(map: LayerPair[], studentLayers: number, teacherLayers?: number): number[] {
  checkLayerPairs('initialLayers', 'map', map);
  intArg('initialLayers', 'studentLayers', studentLayers, 1);
  if (teacherLayers !== undefined) intArg('initialLayers', 'teacherLayers', teacherLayers, 1);
  return range(studentLayers).map((j) => {
    const pair = map.find((p) => p.student === j);
    if (!pair && teacherLayers !== undefined) return Math.round(((j + 1) * teacherLayers) / studentLayers) - 1;
    if (!pair) throw new TorchError(`initialLayers(): the layer map has no pair for student layer ${j}`);
    let best = 0;
    pair.weights.forEach((w, k) => { if (w >= pair.weights[best]) best = k; });
    return pair.teacher[best];
  });
}
