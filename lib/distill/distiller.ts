// The Distiller: a student, frozen teachers, feature capture by module path (forward hooks, as torchdistill),
// and named loss terms. step() returns the dictionary of named losses; the Trainer runs the loop around it.
import * as nn from '../nn';
import * as torch from '../torch';
import { argError, kindOf, objectArg, stringsArg, TorchError } from '../torch/errors';
import { checkTensors, isTensor, type Tensor } from '../torch/tensor';
import type { Device } from '../torch/dtype';
import { ScriptModule, type ScriptValue } from '../io';
import { bssAttack, bssWeights, sampleTargetClasses, selectBaseSamples } from './bss';
import { kdLoss, type KdDivergence } from './hinton';
import { adaptiveAlpha, xDivergence, type IntraReduction } from './intra';
import { selectLayers, spectralProfile, type FeatureLayout, type SelectOptions } from './spectral';
import {
  checkEpochConvention, combineTerms, scheduleEpoch, spectral as spectralTerm,
  type EpochConvention, type LossTerm, type ModelOutputs, type StepContext,
} from './terms';

/** A teacher: a torchkd module (features by module path) or a TorchScript module (features by output key). */
export type Teacher = nn.Module | ScriptModule;

type CallableModule = nn.Module & { call(x: Tensor): unknown };

/** Teacher outputs stored ahead of time, by dataset index (a distill.TeacherCache). */
export interface TeacherOutputSource {
  get(indices: readonly number[]): { logits: Tensor; features?: Record<string, Tensor> };
}

export interface BssOptions {
  /** At most this many base samples attacked per step (default 64, the paper's). */
  maxBase?: number;
  /** Attack step size η and steps (defaults 0.3 and 10). */
  stepSize?: number;
  maxSteps?: number;
  /** KD temperature on the boundary samples (default 3, the paper's). */
  temperature?: number;
  /**
   * Bounds of the attacked inputs, applied at every attack step (default none; the official script clamps to
   * [−2.5, 2.5], the range of its normalised CIFAR-10 images, as recipes.bss does).
   */
  clampMin?: number;
  clampMax?: number;
  /** 'kl' (default) or 'crossEntropy' (the official script's −Σ p log q): same gradient, see kdLoss. */
  divergence?: KdDivergence;
  /** The epoch r_a(e) reads (default 'fractional'; the official script's is 'oneBased'). */
  epochConvention?: EpochConvention;
}

export interface IntraOptions {
  /** K student passes with different dropout masks (default 3). */
  passes?: number;
  /** α of the intra term; > 1 follows the paper's adaptive schedule with p and q (defaults 5, 10). */
  alpha?: number;
  p?: number;
  q?: number;
  /** false: a constant α even when α > 1 (fairseq's `--adaptive-alpha 0`, its default); default true. */
  adaptive?: boolean;
  /** X-divergence over the rows (samples, or tokens of [B, L, V] logits): 'mean' (default) or 'sum' (the official GLUE script). */
  reduction?: IntraReduction;
  /** Rows whose target equals this are padding, left out of the X-divergence (fairseq's pad index is 1). */
  ignoreIndex?: number;
}

export interface DistillerOptions {
  student: nn.Module;
  teachers?: Teacher[];
  /** Offline distillation: teacher outputs read from a TeacherCache by sample index instead of teachers. */
  teacherCache?: TeacherOutputSource;
  terms: LossTerm[];
  /** Extra student / teacher feature paths to capture (the terms' own paths are added). */
  studentFeatures?: string[];
  teacherFeatures?: string[];
  /**
   * Adversarial boundary samples (Heo et al. 2019): each step attacks the selected base samples (both
   * models right; on unlabelled rows, the student agreeing with the teacher) towards a
   * sampled class and adds 'bss' = r_a(e) · KL(softmax(t(x̂)/T) ‖ softmax(s(x̂)/T)) (batch mean over the
   * attacked samples, no T², as the paper's code; −Σ p log q with `divergence: 'crossEntropy'`), with
   * r_a(e) = max(2(1 − 4e/(3E)), 0).
   */
  bss?: BssOptions;
  /**
   * Intra-distillation (Xu et al. 2022): the student runs K times with dropout; every term is averaged
   * over the passes and 'intra' = α_t · X-divergence of the passes' softmax outputs (over the last dim) is
   * added.
   */
  intra?: IntraOptions;
}

/** Step position information for the loss terms and schedules. */
export interface StepInfo {
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
}

export interface DistillBatch {
  input: Tensor;
  target?: Tensor;
  mix?: { targetB: Tensor; lam: number };
  /** Dataset indices of the rows (needed with a teacherCache). */
  indices?: readonly number[];
}

/** Reads logits and features from a TorchScript output: a tensor, a tuple [logits, ...], or a dict. */
function scriptOutputs(out: ScriptValue, paths: string[]): ModelOutputs {
  if (isTensor(out)) return { logits: out, features: {} };
  const pick = (key: string): ScriptValue | undefined =>
    Array.isArray(out) ? out[Number(key)] : out !== null && typeof out === 'object' ? (out as Record<string, ScriptValue>)[key] : undefined;
  const logits = Array.isArray(out) ? out[0] : pick('logits');
  if (!isTensor(logits)) throw new TorchError("Distiller: a TorchScript teacher must return a tensor, a tuple starting with the logits, or a dict with 'logits'");
  const features: Record<string, Tensor> = {};
  for (const p of paths) {
    const f = pick(p);
    if (!isTensor(f)) throw new TorchError(`Distiller: the TorchScript teacher's output has no tensor at '${p}' (features of TorchScript teachers are output keys or tuple indices)`);
    features[p] = f;
  }
  return { logits, features };
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

export class Distiller {
  readonly student: nn.Module;
  readonly teachers: Teacher[];
  readonly teacherCache?: TeacherOutputSource;
  readonly terms: LossTerm[];
  readonly bss?: BssOptions;
  readonly intra?: IntraOptions;
  private studentPaths: string[];
  private teacherPaths: string[];
  private captured: Record<string, Tensor> | null = null;
  private hooks: { remove(): void }[] = [];
  /** The teacher feature captures of the current forward, per teacher. */
  private teacherCaptured: (Record<string, Tensor> | null)[] = [];

  constructor(options: DistillerOptions) {
    const { student, teachers = [], terms } = options;
    if (!(student instanceof nn.Module)) throw new TorchError('Distiller: student must be an nn.Module');
    if (!Array.isArray(terms) || terms.length === 0) throw new TorchError('Distiller: terms must be a non-empty list of loss terms');
    if (options.teacherCache && teachers.length > 0) throw new TorchError('Distiller: give teachers or a teacherCache, not both');
    for (const t of teachers) {
      if (!(t instanceof nn.Module) && !(t instanceof ScriptModule)) throw new TorchError('Distiller: each teacher must be an nn.Module or an io.ScriptModule');
    }
    this.student = student;
    this.teachers = teachers;
    this.teacherCache = options.teacherCache;
    this.terms = terms;
    this.bss = options.bss;
    this.intra = options.intra;
    if (options.intra?.passes !== undefined && !(options.intra.passes >= 2)) {
      throw new TorchError(`Distiller: intra.passes must be at least 2, got ${options.intra.passes}`);
    }
    if (this.bss && teachers.length === 0) throw new TorchError('Distiller: bss needs a live teacher (the attack differentiates through it)');
    if (this.bss?.epochConvention !== undefined) checkEpochConvention(this.bss.epochConvention, 'Distiller: bss');
    if (this.intra?.reduction !== undefined && this.intra.reduction !== 'mean' && this.intra.reduction !== 'sum') {
      throw new TorchError(`Distiller: intra.reduction must be 'mean' or 'sum', got ${JSON.stringify(this.intra.reduction)}`);
    }
    this.studentPaths = uniq([...(options.studentFeatures ?? []), ...terms.flatMap((t) => t.studentFeatures ?? [])]);
    this.teacherPaths = uniq([...(options.teacherFeatures ?? []), ...terms.flatMap((t) => t.teacherFeatures ?? [])]);
    for (const p of this.studentPaths) this.hook(student, p, () => this.captured);
    teachers.forEach((t, k) => {
      t.eval();
      if (t instanceof nn.Module) {
        t.requiresGrad_(false);
        for (const p of this.teacherPaths) this.hook(t, p, () => this.teacherCaptured[k]);
      } else {
        for (const p of t.parameters()) p.requiresGrad_(false);
      }
    });
  }

  private hook(model: nn.Module, path: string, sink: () => Record<string, Tensor> | null): void {
    let target: nn.Module;
    try {
      target = model.getSubmodule(path);
    } catch (e) {
      throw new TorchError(`Distiller: no submodule '${path}' in the model (${(e as Error).message})`);
    }
    this.hooks.push(target.registerForwardHook((_m, _inputs, output) => {
      const store = sink();
      if (store === null) return undefined;
      if (!isTensor(output)) throw new TorchError(`Distiller: the output of '${path}' is not a tensor`);
      store[path] = output;
      return undefined;
    }));
  }

  /** Student forward with feature capture. */
  forwardStudent(input: Tensor): ModelOutputs {
    this.captured = {};
    try {
      const logits = (this.student as CallableModule).call(input);
      if (!isTensor(logits)) throw new TorchError('Distiller: the student must return its logits as a tensor');
      return { logits, features: this.captured };
    } finally {
      this.captured = null;
    }
  }

  /** All teachers' outputs, without grad (or the cached ones for these sample indices). */
  forwardTeachers(input: Tensor, indices?: readonly number[]): ModelOutputs[] {
    if (this.teacherCache) {
      if (!indices) throw new TorchError('Distiller: offline distillation needs the batch indices');
      const cached = this.teacherCache.get(indices);
      const device = input.device;
      const move = (t: Tensor) => (t.device === device ? t : t.to(device));
      return [{ logits: move(cached.logits), features: Object.fromEntries(Object.entries(cached.features ?? {}).map(([k, v]) => [k, move(v)])) }];
    }
    return torch.noGrad(() => this.teachers.map((t, k) => {
      if (t instanceof ScriptModule) return scriptOutputs(t.forward(input), this.teacherPaths);
      this.teacherCaptured[k] = {};
      try {
        const logits = (t as CallableModule).call(input);
        if (!isTensor(logits)) throw new TorchError('Distiller: a teacher must return its logits as a tensor');
        return { logits, features: this.teacherCaptured[k] as Record<string, Tensor> };
      } finally {
        this.teacherCaptured[k] = null;
      }
    }));
  }

  /** The teacher's logits as a differentiable function of the input (for the BSS attack). */
  private teacherFn(x: Tensor): Tensor {
    const t = this.teachers[0];
    if (t instanceof ScriptModule) return scriptOutputs(t.forward(x), []).logits;
    return (t as CallableModule).call(x) as Tensor;
  }

  /**
   * One training step's losses (student in the caller's mode, usually train()): { loss, ...named terms },
   * where loss = Σ w_k · term_k (+ 'bss' and 'intra' when enabled). Tensors are the caller's to free.
   */
  step(batch: DistillBatch, info: StepInfo): Record<string, Tensor> {
    return torch.tidy(() => {
      const teachers = this.teachers.length > 0 || this.teacherCache ? this.forwardTeachers(batch.input, batch.indices) : [];
      const passes = this.intra ? (this.intra.passes ?? 3) : 1;
      const perPass: Record<string, Tensor>[] = [];
      const passLogits: Tensor[] = [];
      for (let k = 0; k < passes; k++) {
        const student = this.forwardStudent(batch.input);
        passLogits.push(student.logits);
        const ctx: StepContext = { ...batch, student, teachers, ...info };
        perPass.push(combineTerms(this.terms, ctx));
      }
      const losses: Record<string, Tensor> = {};
      for (const key of Object.keys(perPass[0])) {
        losses[key] = passes === 1 ? perPass[0][key] : perPass.map((p) => p[key]).reduce((a, b) => a.add(b)).div(passes);
      }
      if (this.intra) {
        const { alpha = 1, p = 5, q = 10, adaptive = true, reduction, ignoreIndex } = this.intra;
        const a = adaptive ? adaptiveAlpha(info.step, info.totalSteps, { alpha, p, q }) : alpha;
        const mask = ignoreIndex !== undefined && batch.target ? batch.target.ne(ignoreIndex) : undefined;
        losses.intra = xDivergence(passLogits.map((l) => l.softmax(-1)), { mask, reduction });
        losses.loss = losses.loss.add(losses.intra.mul(a));
      }
      if (this.bss && batch.target) {
        const bss = this.bssTerm(batch, passLogits[0], teachers[0].logits, info);
        if (bss !== null) {
          losses.bss = bss.loss;
          losses.loss = losses.loss.add(bss.loss.mul(bss.weight));
        }
      }
      return losses;
    });
  }

  private bssTerm(batch: DistillBatch, studentLogits: Tensor, teacherLogits: Tensor, info: StepInfo): { loss: Tensor; weight: number } | null {
    const { maxBase = 64, stepSize = 0.3, maxSteps = 10, temperature = 3, clampMin, clampMax, divergence = 'kl', epochConvention } = this.bss as BssOptions;
    const { ra } = bssWeights(scheduleEpoch(info, epochConvention), info.epochs);
    if (ra <= 0) return null;
    // Unlabelled rows (label < 0) count as correct where the student agrees with the teacher.
    const target = batch.target as Tensor;
    const labels = torch.where(target.ge(0), target, teacherLogits.argmax(1));
    const base = selectBaseSamples(teacherLogits, studentLogits.detach(), labels, { max: maxBase });
    if (base.size(0) === 0) return null;
    const x = batch.input.indexSelect(0, base);
    const targetClasses = sampleTargetClasses(teacherLogits.indexSelect(0, base));
    const attack = bssAttack((v) => this.teacherFn(v), x, { targetClasses, stepSize, maxSteps, clampMin, clampMax });
    const tAdv = torch.noGrad(() => this.teacherFn(attack.x));
    const sAdv = this.forwardStudent(attack.x).logits;
    // The paper's boundary term has no T².
    const loss = kdLoss(sAdv, tAdv, { temperature, squareTemperature: false, divergence });
    return { loss, weight: ra };
  }

  /** The student's and the terms' trainable modules, by checkpoint prefix. */
  trainableModules(): Record<string, nn.Module> {
    const out: Record<string, nn.Module> = { student: this.student };
    for (const term of this.terms) {
      for (const [k, m] of Object.entries(term.modules ?? {})) out[`term.${term.name}.${k}`] = m;
    }
    return out;
  }

  trainableParameters(): Tensor[] {
    return Object.values(this.trainableModules()).flatMap((m) => m.parameters().filter((p) => p.requiresGrad));
  }

  /** Moves the student, the teachers and the terms' modules. */
  to(device: Device | string): this {
    this.student.to(device);
    for (const t of this.teachers) t.to(device);
    for (const m of Object.values(this.trainableModules())) m.to(device);
    return this;
  }

  /** Removes the forward hooks and frees the terms' own modules (projections); student and teachers stay. */
  dispose(): void {
    for (const h of this.hooks) h.remove();
    this.hooks = [];
    for (const term of this.terms) for (const m of Object.values(term.modules ?? {})) m.dispose();
  }
}

export interface SpectralSelectionOptions {
  /** Candidate teacher and student layers (module paths), in depth order. */
  teacherLayers: string[];
  studentLayers: string[];
  /** Feature layout of those layers (default 'BCHW'). */
  layout?: FeatureLayout;
  /** How many teacher layers to align and how to choose them (selectLayers; default the 2 most intense). */
  select?: SelectOptions;
  /** Weight of the spectral term (default 1). */
  weight?: number;
}

export interface SpectralSelection {
  teacherProfile: number[];
  studentProfile: number[];
  /** Indices into teacherLayers. */
  selected: number[];
  /** [student path, teacher path] aligned by the spectral term. */
  pairs: [string, string][];
}

function checkTeacher(op: string, name: string, model: unknown): void {
  if (!(model instanceof nn.Module) && !(model instanceof ScriptModule)) argError(op, `${name} must be an nn.Module or a ScriptModule, got ${kindOf(model)}`);
}

/** Captures each listed layer's output of `model` on `input` (no grad), in order. */
export function captureLayers(model: Teacher, layers: string[], input: Tensor): Tensor[] {
  checkTeacher('captureLayers', 'model', model);
  stringsArg('captureLayers', 'layers', layers);
  checkTensors('captureLayers', { input });
  if (model instanceof ScriptModule) {
    return torch.noGrad(() => {
      const out = scriptOutputs(model.forward(input), layers);
      return layers.map((l) => out.features[l]);
    });
  }
  const got: Record<string, Tensor> = {};
  const handles = layers.map((path) => model.getSubmodule(path).registerForwardHook((_m, _i, o) => {
    if (isTensor(o)) got[path] = o;
    return undefined;
  }));
  const wasTraining = model.training;
  try {
    model.eval();
    return torch.tidy(() => {
      torch.noGrad(() => (model as CallableModule).call(input));
      return layers.map((l) => {
        if (!got[l]) throw new TorchError(`captureLayers(): layer '${l}' produced no tensor output`);
        return got[l];
      });
    });
  } finally {
    model.train(wasTraining);
    handles.forEach((h) => h.remove());
  }
}

/**
 * Spectral layer selection (SpectralKD): profiles the teacher's candidate layers on a sample, selects the
 * most informative ones, and pairs each with the student layer at the same relative depth. Returns the
 * profiles, the selection, and the loss term that aligns the pairs.
 */
export function spectralSelection(teacher: Teacher, student: nn.Module, sample: Tensor,
  options: SpectralSelectionOptions): SpectralSelection & { term: LossTerm } {
  checkTeacher('spectralSelection', 'teacher', teacher);
  checkTeacher('spectralSelection', 'student', student);
  checkTensors('spectralSelection', { sample });
  const { teacherLayers, studentLayers, layout = 'BCHW', select = {}, weight = 1 } = objectArg('spectralSelection', 'options', options);
  stringsArg('spectralSelection', 'options.teacherLayers', teacherLayers);
  stringsArg('spectralSelection', 'options.studentLayers', studentLayers);
  if (teacherLayers.length === 0 || studentLayers.length === 0) throw new TorchError('spectralSelection(): needs candidate teacher and student layers');
  const profileOf = (model: Teacher, layers: string[]) => {
    const feats = captureLayers(model, layers, sample);
    try {
      return spectralProfile(feats, { layout });
    } finally {
      torch.dispose(feats);
    }
  };
  const teacherProfile = profileOf(teacher, teacherLayers);
  const studentProfile = profileOf(student, studentLayers);
  const selected = selectLayers(teacherProfile, select);
  // Each selected teacher layer ↔ the student layer at the same relative depth.
  const pairs = selected.map((t): [string, string] => {
    const rel = teacherLayers.length === 1 ? 1 : t / (teacherLayers.length - 1);
    const s = Math.round(rel * (studentLayers.length - 1));
    return [studentLayers[s], teacherLayers[t]];
  });
  return { teacherProfile, studentProfile, selected, pairs, term: spectralTerm({ pairs, layout, weight }) };
}
