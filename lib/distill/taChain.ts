// Teacher-assistant knowledge distillation (Mirzadeh et al., "Improved Knowledge Distillation via Teacher
// Assistant", AAAI 2020): a chain T → TA_1 → … → TA_k → S where each model is distilled from the previous
// one, and the search for the TA size whose distilled student is best.
import { join } from 'node:path';
import * as nn from '../nn';
import * as torch from '../torch';
import { formatValue, TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { ScriptModule } from '../io';
import { Distiller, type Teacher } from './distiller';
import { crossEntropy, kd, type LossTerm } from './terms';
import { fit, type EvalMetrics, type FitResult, type Loader, type TrainerOptions } from '../train/trainer';

/** One model of the chain after the teacher: a teacher assistant, or the student (last). */
export interface ChainStage {
  /** Used in reports, progress output and the stage's directory `<index>-<name>`. */
  name: string;
  model: nn.Module;
}

/** Trainer options applied to every stage; the chain sets the distiller, loaders, outDir, name and restoreBest itself. */
export type StageFitOptions = Partial<Omit<TrainerOptions, 'distiller' | 'train' | 'valid' | 'outDir' | 'name' | 'restoreBest'>>;

export interface TaChainOptions {
  /** The trained teacher at the head of the chain. */
  teacher: Teacher;
  /** TA_1 … TA_k, then the student last (at least one stage). */
  stages: ChainStage[];
  train: Loader;
  valid: Loader;
  /**
   * The loss terms of stage i (called once per stage; return new terms, since terms with modules are
   * trained with their stage). Default [crossEntropy(), kd({ temperature: 4 })]: CE + T²·KL, equal weights.
   */
  terms?: (stageIndex: number) => LossTerm[];
  /** Epochs, optimizer, scheduler, seed, monitor, device, resume... for every stage. */
  fit?: StageFitOptions;
  /** Each stage's checkpoints and metrics in outDir/<index>-<name>/ (without it, nothing is written: best weights are kept in memory). */
  outDir?: string;
  /** Called after each stage, with its report. */
  onStage?: (report: StageReport) => void;
}

export interface StageReport {
  index: number;
  name: string;
  /** The name of the model it was distilled from ('teacher' for the first stage). */
  teacher: string;
  /** The stage model's parameter count (all parameters). */
  parameters: number;
  /** The trainer's result (checkpoints is {} without outDir). */
  result: FitResult;
  /** The best evaluation's metrics: the weights the stage ends with and teaches the next stage with. */
  best: EvalMetrics;
  /** Wall-clock seconds of the stage. */
  seconds: number;
}

/** Trainer options the chain sets per stage, and where to give them instead. */
const FIT_KEYS_SET_BY_CHAIN: Record<string, string> = {
  distiller: 'options.terms (the chain builds each stage\'s Distiller)', train: 'options.train', valid: 'options.valid',
  outDir: 'options.outDir', name: 'the stage names', restoreBest: 'nothing: every stage restores its best checkpoint',
};

function defaultTerms(): LossTerm[] {
  return [crossEntropy(), kd({ temperature: 4 })];
}

function isLoader(x: unknown): x is Loader {
  return x !== null && typeof x === 'object' && typeof (x as Loader).batchIndices === 'function' && typeof (x as Loader)[Symbol.iterator] === 'function';
}

/** Checks the options the chain and the search share. */
function checkCommon(fn: string, o: { teacher?: unknown; train?: unknown; valid?: unknown; terms?: unknown; fit?: unknown; outDir?: unknown }): void {
  if (!(o.teacher instanceof nn.Module) && !(o.teacher instanceof ScriptModule)) throw new TorchError(`${fn}: options.teacher must be an nn.Module or an io.ScriptModule`);
  if (!isLoader(o.train)) throw new TorchError(`${fn}: options.train must be a data.DataLoader`);
  if (!isLoader(o.valid)) throw new TorchError(`${fn}: options.valid must be a data.DataLoader (the best checkpoint of each stage is chosen on it)`);
  if (o.terms !== undefined && typeof o.terms !== 'function') throw new TorchError(`${fn}: options.terms must be a function (stageIndex) => LossTerm[]`);
  if (o.outDir !== undefined && (typeof o.outDir !== 'string' || o.outDir === '')) throw new TorchError(`${fn}: options.outDir must be a non-empty string`);
  if (o.fit !== undefined) {
    if (o.fit === null || typeof o.fit !== 'object') throw new TorchError(`${fn}: options.fit must be an object of trainer options`);
    for (const [k, instead] of Object.entries(FIT_KEYS_SET_BY_CHAIN)) {
      if (k in o.fit) throw new TorchError(`${fn}: fit.${k} is set by the chain for each stage; use ${instead}`);
    }
    if ((o.fit as StageFitOptions).resume && o.outDir === undefined) throw new TorchError(`${fn}: fit.resume needs options.outDir (where each stage's last checkpoint is)`);
  }
}

/**
 * Teacher-assistant distillation (Mirzadeh et al. 2020): T → TA_1 → … → TA_k → S. Stage i trains
 * stages[i].model with a Distiller whose single teacher is the previous model (the teacher for i = 0),
 * frozen and in eval mode, on terms(i) (default CE + KD at T = 4); at the end of the stage its best
 * checkpoint (by fit.monitor, default validation accuracy) is loaded back (restoreBest), so that each
 * model teaches the next with its best weights. The assistants are left frozen (requiresGrad false, eval
 * mode) by serving as teachers; the student is left trainable. Aborting through fit.signal rejects with a
 * TorchError naming the stage (completed stages' checkpoints stay in outDir; fit.resume continues from them).
 */
export async function taChain(options: TaChainOptions): Promise<{ stages: StageReport[]; student: nn.Module }> {
  const fn = 'taChain()';
  if (options === null || typeof options !== 'object') throw new TorchError(`${fn}: options must be an object`);
  checkCommon(fn, options);
  const { teacher, stages, train, valid, terms = defaultTerms, fit: fitOptions = {}, outDir, onStage } = options;
  if (!Array.isArray(stages) || stages.length === 0) throw new TorchError(`${fn}: options.stages must be a non-empty array of { name, model } (the assistants, then the student)`);
  const seen = new Set<unknown>([teacher]);
  stages.forEach((s, i) => {
    if (s === null || typeof s !== 'object') throw new TorchError(`${fn}: stages[${i}] must be { name, model }`);
    if (typeof s.name !== 'string' || s.name === '' || /[/\\\0]/.test(s.name)) throw new TorchError(`${fn}: stages[${i}].name must be a non-empty string without path separators, got ${JSON.stringify(s.name)}`);
    if (!(s.model instanceof nn.Module)) throw new TorchError(`${fn}: stages[${i}].model ('${s.name}') must be an nn.Module`);
    if (seen.has(s.model)) throw new TorchError(`${fn}: stages[${i}].model ('${s.name}') is the teacher or an earlier stage's model; each stage needs its own model`);
    seen.add(s.model);
  });
  if (onStage !== undefined && typeof onStage !== 'function') throw new TorchError(`${fn}: options.onStage must be a function`);

  const reports: StageReport[] = [];
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i];
    const previous: Teacher = i === 0 ? teacher : stages[i - 1].model;
    const stageTerms = terms(i);
    if (!Array.isArray(stageTerms)) throw new TorchError(`${fn}: options.terms(${i}) must return an array of loss terms`);
    const started = Date.now();
    const distiller = new Distiller({ student: stage.model, teachers: [previous], terms: stageTerms });
    let result: FitResult;
    try {
      result = await fit({
        ...fitOptions, distiller, train, valid,
        outDir: outDir === undefined ? undefined : join(outDir, `${i}-${stage.name}`), name: stage.name, restoreBest: true,
      });
    } finally {
      distiller.dispose();
    }
    if (result.stopReason === 'cancelled') throw new TorchError(`${fn}: cancelled during stage ${i} ('${stage.name}') at step ${result.steps}`);
    if (result.best === null) throw new TorchError(`${fn}: stage ${i} ('${stage.name}') ended without an evaluation`);
    const report: StageReport = {
      index: i, name: stage.name, teacher: i === 0 ? 'teacher' : stages[i - 1].name,
      parameters: stage.model.numParameters(),
      result,
      best: result.best.metrics,
      seconds: (Date.now() - started) / 1000,
    };
    reports.push(report);
    onStage?.(report);
  }
  return { stages: reports, student: stages[stages.length - 1].model };
}

export interface TaSearchOptions {
  /** The trained teacher. */
  teacher: Teacher;
  /** Builds a fresh student; every candidate's student starts from the first one's initial weights. */
  student: () => nn.Module;
  /** Builds a TA between the student (fraction 0) and the teacher (fraction 1) in size, e.g. with interpolateWidths. */
  candidate: (fraction: number) => nn.Module;
  /** The candidate sizes, each in (0, 1) (default [0.25, 0.5, 0.75]). */
  fractions?: number[];
  train: Loader;
  valid: Loader;
  /** Terms of the TA's stage (0) and of the student's (1); default CE + KD at T = 4 (as taChain). */
  terms?: (stageIndex: number) => LossTerm[];
  /** Trainer options for every stage (fit.monitor is also the selection criterion). */
  fit?: StageFitOptions;
  /** Candidate f's stages in outDir/ta-<f>/0-ta and 1-student; the direct run in outDir/direct/0-student. */
  outDir?: string;
  /** Also distil the student straight from the teacher (no TA) for comparison (default false). */
  direct?: boolean;
  /** Called after each candidate's chain. */
  onCandidate?: (candidate: TaCandidate) => void;
}

export interface TaCandidate {
  fraction: number;
  /** The TA's parameter count. */
  parameters: number;
  /** The TA's own best validation metrics (distilled from the teacher). */
  best: EvalMetrics;
  /** The best validation metrics of the student distilled through this TA (the selection criterion). */
  studentBest: EvalMetrics;
  /** The chain's two stage reports (TA, student). */
  stages: StageReport[];
}

export interface TaSearchResult {
  /** One entry per fraction, in the order given. */
  candidates: TaCandidate[];
  /** The candidate whose distilled student is best, with its trained TA and student (best weights). */
  best: TaCandidate & { ta: nn.Module; student: nn.Module };
  /** The student's parameter count. */
  studentParameters: number;
  /** The student distilled straight from the teacher (with options.direct). */
  direct?: StageReport;
}

/**
 * The TA-size search of Mirzadeh et al. 2020: for each fraction f, a TA candidate(f) is distilled
 * from the teacher, then a student from that TA (taChain with stages [ta, student]); the chosen TA is the
 * one whose distilled student has the best validation metric (fit.monitor, default accuracy 'max'; ties
 * go to the earlier fraction), the paper's criterion being the final student's performance. Each TA's own
 * accuracy is reported as well. All students start from the same initial weights, so candidates differ by
 * their TA only. The models of the candidates that lose are disposed; the winner's TA and student are
 * returned with their best weights.
 */
export async function searchTeacherAssistant(options: TaSearchOptions): Promise<TaSearchResult> {
  const fn = 'searchTeacherAssistant()';
  if (options === null || typeof options !== 'object') throw new TorchError(`${fn}: options must be an object`);
  checkCommon(fn, options);
  const { teacher, student, candidate, fractions = [0.25, 0.5, 0.75], train, valid, terms, fit: fitOptions = {}, outDir, direct = false, onCandidate } = options;
  if (typeof student !== 'function') throw new TorchError(`${fn}: options.student must be a function returning a fresh student module`);
  if (typeof candidate !== 'function') throw new TorchError(`${fn}: options.candidate must be a function (fraction) => nn.Module`);
  if (!Array.isArray(fractions) || fractions.length === 0) throw new TorchError(`${fn}: options.fractions must be a non-empty array of numbers in (0, 1)`);
  for (const f of fractions) {
    if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new TorchError(`${fn}: each fraction must be a number in (0, 1) (0 = student size, 1 = teacher size), got ${String(f)}`);
  }
  if (new Set(fractions).size !== fractions.length) throw new TorchError(`${fn}: options.fractions has duplicates (${fractions.join(', ')})`);
  if (onCandidate !== undefined && typeof onCandidate !== 'function') throw new TorchError(`${fn}: options.onCandidate must be a function`);
  const monitor = fitOptions.monitor ?? { metric: 'accuracy', mode: 'max' as const };

  const newStudent = (): nn.Module => {
    const s = student();
    if (!(s instanceof nn.Module)) throw new TorchError(`${fn}: options.student() must return an nn.Module`);
    return s;
  };
  const first = newStudent();
  const initial: Record<string, Tensor> = torch.tidy(() => Object.fromEntries(Object.entries(first.stateDict()).map(([k, v]) => [k, v.clone()])));
  const freshStudent = (): nn.Module => {
    const s = newStudent();
    torch.noGrad(() => s.loadStateDict(initial));
    return s;
  };

  const candidates: TaCandidate[] = [];
  let winner: { index: number; ta: nn.Module; student: nn.Module } | null = null;
  let directReport: StageReport | undefined;
  let current: nn.Module[] = [first];
  const score = (c: TaCandidate): number => {
    const v = c.studentBest[monitor.metric];
    return v === undefined || Number.isNaN(v) ? -Infinity : monitor.mode === 'max' ? v : -v;
  };
  try {
    for (const [k, f] of fractions.entries()) {
      const ta = candidate(f);
      if (!(ta instanceof nn.Module)) throw new TorchError(`${fn}: options.candidate(${f}) must return an nn.Module`);
      const s = k === 0 ? first : freshStudent();
      current = [ta, s];
      const { stages } = await taChain({
        teacher, stages: [{ name: 'ta', model: ta }, { name: 'student', model: s }], train, valid, terms, fit: fitOptions,
        outDir: outDir === undefined ? undefined : join(outDir, `ta-${f}`),
      });
      const c: TaCandidate = { fraction: f, parameters: stages[0].parameters, best: stages[0].best, studentBest: stages[1].best, stages };
      candidates.push(c);
      if (winner === null || score(c) > score(candidates[winner.index])) {
        if (winner !== null) disposeModels([winner.ta, winner.student]);
        winner = { index: k, ta, student: s };
      } else {
        disposeModels(current);
      }
      current = [];
      onCandidate?.(c);
    }
    if (direct) {
      const s = freshStudent();
      current = [s];
      const { stages } = await taChain({
        teacher, stages: [{ name: 'student', model: s }], train, valid, terms: terms && ((i) => terms(i + 1)), fit: fitOptions,
        outDir: outDir === undefined ? undefined : join(outDir, 'direct'),
      });
      directReport = stages[0];
      disposeModels(current);
      current = [];
    }
  } catch (e) {
    disposeModels(current);
    if (winner !== null) disposeModels([winner.ta, winner.student]);
    throw e;
  } finally {
    torch.dispose(initial);
  }
  const w = winner as { index: number; ta: nn.Module; student: nn.Module };
  return {
    candidates,
    best: { ...candidates[w.index], ta: w.ta, student: w.student },
    studentParameters: w.student.numParameters(),
    direct: directReport,
  };
}

function disposeModels(models: nn.Module[]): void {
  for (const m of new Set(models)) m.dispose();
}

function checkFraction(fn: string, fraction: unknown): number {
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) throw new TorchError(`${fn}: fraction must be a number in [0, 1] (0 = student, 1 = teacher), got ${formatValue(fraction)}`);
  return fraction;
}

function checkSize(fn: string, what: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new TorchError(`${fn}: ${what} must be a positive integer, got ${formatValue(v)}`);
  return v as number;
}

/**
 * s + f·(t − s) rounded to the nearest integer, halves up. The value is first rounded to 9 decimals so
 * that floating-point error does not turn an exact half into just below it (1 + 0.58·25 computes as
 * 15.499999999999998 and must give 16).
 */
function lerpRound(s: number, t: number, f: number): number {
  return Math.round(Math.round((s + f * (t - s)) * 1e9) / 1e9);
}

/**
 * Layer widths of a model between a student (fraction 0) and a teacher (fraction 1) of the same depth:
 * w_i = round(s_i + f·(t_i − s_i)), the nearest integer with halves rounded up (after rounding to 9
 * decimals, against floating-point error). interpolateWidths([8, 4], [64, 32], 0.5) = [36, 18]. For a
 * TA between models of different depths, interpolate the depth with interpolateDepth first.
 */
export function interpolateWidths(studentWidths: number[], teacherWidths: number[], fraction: number): number[] {
  const fn = 'interpolateWidths()';
  if (!Array.isArray(studentWidths) || !Array.isArray(teacherWidths)) throw new TorchError(`${fn}: studentWidths and teacherWidths must be arrays of positive integers`);
  if (studentWidths.length !== teacherWidths.length) {
    throw new TorchError(`${fn}: studentWidths (${studentWidths.length}) and teacherWidths (${teacherWidths.length}) must have the same length (interpolate the depth with interpolateDepth)`);
  }
  const f = checkFraction(fn, fraction);
  return studentWidths.map((s, i) => lerpRound(checkSize(fn, `studentWidths[${i}]`, s), checkSize(fn, `teacherWidths[${i}]`, teacherWidths[i]), f));
}

/**
 * A depth (number of layers or blocks) between a student's (fraction 0) and a teacher's (fraction 1):
 * round(s + f·(t − s)), the nearest integer with halves rounded up (after rounding to 9 decimals, against
 * floating-point error). interpolateDepth(2, 10, 0.25) = 4; interpolateDepth(3, 8, 0.5) = 6.
 */
export function interpolateDepth(studentDepth: number, teacherDepth: number, fraction: number): number {
  const fn = 'interpolateDepth()';
  const f = checkFraction(fn, fraction);
  return lerpRound(checkSize(fn, 'studentDepth', studentDepth), checkSize(fn, 'teacherDepth', teacherDepth), f);
}
