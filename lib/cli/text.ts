// `torchkd text`: a text-classification teacher, a student distilled from it, and the same student trained
// from the labels only, each with the Trainer; test accuracy and parameter counts in OUT/metrics.json.
// Without --teacher: a TextTransformer teacher and a FastText student (Hinton KD + cross entropy). With
// --teacher DIR: a Hugging Face classifier and a transformer student cut from it or built smaller, with
// hidden-state distillation over a layer map (textHf.ts), both written as Hugging Face folders.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as nn from '../nn';
import * as torch from '../torch';
import * as optim from '../optim';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { DataLoader, Generator, LabelVocab, TensorDataset, Vocab, readTextClassification, type TextExample } from '../data';
import { atomicWrite } from '../data/idx';
import { Distiller } from '../distill/distiller';
import { crossEntropy, kd } from '../distill/terms';
import { evaluate, fit, type FitResult, type Loader, type TrainerEvent } from '../train/trainer';
import type { ProgressMode } from '../train/progress';
import { FastText, TextTransformer } from '../models/text';
import { Ensemble } from '../models/ensemble';
import { saveModel } from '../models/arch';
import * as hf from '../models/hf';
import {
  distillerFor, encodeHf, hfLoader, hiddenStateProfile, parseLayerMap, parseStudentConfig, profileSeries, runLayerMap, studentTerms,
  teacherLabels, type HfTextOptions,
} from './textHf';
import type { Values } from './args';
import { HF_TEXT_DEFAULTS as HF_DEFAULTS, TEXT_DEFAULTS as DEFAULTS } from './specs';
import { formatTable, percent } from './table';
import { curvesFromLog, report } from './reporting';

export interface TextOptions {
  train: string;
  test: string;
  /** Validation examples for model selection; without it, 10% of train is held out (seeded). */
  valid?: string;
  /** Output directory (default 'text-output'). */
  out?: string;
  format?: 'jsonl' | 'csv';
  textField?: string;
  labelField?: string;
  /** Epochs of every run; teacherEpochs / studentEpochs override it (defaults 8 and 15; with a HF teacher 3 and 5). */
  epochs?: number;
  teacherEpochs?: number;
  studentEpochs?: number;
  batchSize?: number;
  /** Tokens kept per text (default 32). */
  maxLength?: number;
  /** Words seen fewer times in train become <unk> (default 1). */
  minFreq?: number;
  /** Without --teacher: 'ensemble' (default: the TextTransformer and a wide FastText, probabilities averaged) or 'transformer'. */
  teacherKind?: 'ensemble' | 'transformer';
  teacherDim?: number;
  teacherLayers?: number;
  teacherHeads?: number;
  teacherLr?: number;
  studentDim?: number;
  studentBigrams?: number;
  studentLr?: number;
  /** KD temperature (default 2) and weight α of the KD term; the CE term gets 1 − α (default 0.5). */
  temperature?: number;
  alpha?: number;
  seed?: number;
  device?: string;
  progress?: ProgressMode;
  /** A Hugging Face classifier folder as the teacher (config.json, weights, tokenizer.json). */
  teacher?: string;
  /** Fine-tune the HF teacher on the training set first (needed when its head is not for these labels). */
  finetuneTeacher?: boolean;
  /** HF: a student cut from the teacher with this many layers (default: half the teacher's). */
  studentLayers?: number;
  /** HF: a fresh student configuration, LAYERSxHIDDEN[xHEADS] or a JSON file of config fields. */
  studentConfig?: string;
  /** HF: the layer map (skip, average, uniform, last, weighted:0.3,0.7, spectral[:top=K|threshold=X|edges]); default skip. */
  layerMap?: string;
  /** HF: 'mse' (default) or 'cosine' hidden-state loss, its weight (default 1), the attention-map weight (default 0). */
  hiddenLoss?: 'mse' | 'cosine';
  hiddenWeight?: number;
  attentionWeight?: number;
  /** HF: TinyBERT's two stages: intermediate layers for the first half of the student epochs, then the prediction layer. */
  twoStage?: boolean;
  /** HF: training texts sampled (seeded) for the spectral profiles (default 256). */
  spectralSamples?: number;
}

export interface TextRunMetrics {
  /** Test accuracy in [0, 1] of the weights with the best validation accuracy. */
  accuracy: number;
  parameters: number;
  validAccuracy: number;
  trainSeconds: number;
  epochs: number;
  steps: number;
}

export interface TextMetrics {
  teacher: TextRunMetrics;
  student: TextRunMetrics;
  scratch: TextRunMetrics;
  /** The default teacher's members, each on its own (teacher is their ensemble). */
  members?: { transformer: TextRunMetrics; fastText: TextRunMetrics };
  data: { train: number; valid: number; test: number; classes: number; vocabulary: number; validSource: string };
  /** Every option of the run with the defaults filled in (null where unset). */
  config: Record<string, string | number | boolean | null> & { out: string; test: string };
  /** With a HF teacher: the student's kind, the layer map (hidden-state indices, embeddings at 0) and the spectral profiles. */
  hf?: {
    student: 'cut' | 'fresh';
    studentLayers: number;
    initialLayers: number[] | null;
    layerMap: { student: number; teacher: number[]; weights: number[] }[];
    spectral: { teacher: number[]; student: number[]; selected: number[] };
    labels: string[];
  };
  seconds: number;
}

function readExamples(path: string, options: TextOptions): TextExample[] {
  if (options.format === undefined && !/\.(csv|jsonl|ndjson|json)$/i.test(path)) {
    throw new TorchError(`cannot tell the format of ${path} from its extension (.jsonl or .csv); pass --format jsonl or --format csv`);
  }
  const examples = readTextClassification(path, { format: options.format, textField: options.textField, labelField: options.labelField });
  if (examples.length === 0) throw new TorchError(`${path}: no examples (the file is empty)`);
  return examples;
}

/** Every label of `examples` must be a training label; the first one that is not is an error with its line. */
function checkLabels(examples: TextExample[], labels: LabelVocab, path: string, trainPath: string): void {
  const known = new Set(labels.labels);
  const unknown = examples.filter((e) => !known.has(e.label));
  if (unknown.length === 0) return;
  const first = unknown[0];
  const more = new Set(unknown.map((e) => e.label)).size - 1;
  throw new TorchError(`${path}: line ${first.line}: label ${JSON.stringify(first.label)} does not occur in the training data (${trainPath})` +
    `${more > 0 ? `, nor do ${more} other label${more > 1 ? 's' : ''} of this file` : ''}; known labels: ${labels.labels.slice(0, 10).map((l) => JSON.stringify(l)).join(', ')}${labels.length > 10 ? ', ...' : ''}`);
}

/** Token ids [N, maxLength] (padded with 0; a text without tokens becomes one <unk>) and labels [N]. */
function encode(examples: TextExample[], vocab: Vocab, labels: LabelVocab, maxLength: number): TensorDataset {
  const ids = new Int32Array(examples.length * maxLength);
  examples.forEach((e, i) => {
    const row = vocab.encode(e.text, { maxLength });
    ids.set(row.length > 0 ? row : [vocab.oovIndex], i * maxLength);
  });
  return new TensorDataset(torch.tensor(ids, { shape: [examples.length, maxLength], dtype: 'int64' }), labels.encode(examples.map((e) => e.label)));
}

function summary(model: nn.Module, result: FitResult, test: Loader, device: string, epochs: number): TextRunMetrics {
  return {
    accuracy: evaluate(model, test, { device }).accuracy,
    parameters: model.numParameters(),
    validAccuracy: result.best?.metrics.accuracy ?? NaN,
    trainSeconds: result.seconds,
    epochs,
    steps: result.steps,
  };
}

/** The training, validation and test examples and the labels (validation: --valid, else 10% of train held out, seeded). */
function readData(o: TextOptions & { seed: number }): { train: TextExample[]; valid: TextExample[]; test: TextExample[]; labels: LabelVocab } {
  const trainAll = readExamples(o.train, o);
  const test = readExamples(o.test, o);
  const labels = LabelVocab.build(trainAll.map((e) => e.label));
  checkLabels(test, labels, o.test, o.train);
  if (o.valid !== undefined) {
    const valid = readExamples(o.valid, o);
    checkLabels(valid, labels, o.valid, o.train);
    return { train: trainAll, valid, test, labels };
  }
  if (trainAll.length < 2) throw new TorchError(`${o.train}: at least 2 examples are needed to hold out a validation set (or pass --valid)`);
  const order = new Generator(o.seed).permutation(trainAll.length);
  const held = Math.max(1, Math.round(0.1 * trainAll.length));
  return { train: order.slice(held).map((i) => trainAll[i]), valid: order.slice(0, held).map((i) => trainAll[i]), test, labels };
}

type TrainRun = (run: string, distiller: Distiller, epochs: number, lr: number) => Promise<FitResult>;

/** One Trainer run into OUT/<run> (AdamW with weight decay 0.01, one-cycle schedule with 10% warm-up, the best epoch restored). */
function trainer(o: { out: string; seed: number; device: string; progress: ProgressMode }, trainLoader: Loader, validLoader: Loader,
  hooks: { onEvent?: (event: TrainerEvent) => void; signal?: AbortSignal }): TrainRun {
  return async (run, distiller, epochs, lr) => {
    const dir = join(o.out, run);
    try {
      const result = await fit({
        distiller, train: trainLoader, valid: validLoader, epochs, seed: o.seed, device: o.device, outDir: dir, restoreBest: true,
        optimizer: (params: Tensor[]) => new optim.AdamW(params, { lr, weightDecay: 0.01 }),
        // At least two warm-up steps: PyTorch's OneCycleLR divides by pctStart·total − 1 (0 for 10 steps).
        scheduler: (opt, total) => new optim.lrScheduler.OneCycleLR(opt, lr, { totalSteps: total, pctStart: Math.max(0.1, Math.min(0.5, 2 / total)), cycleMomentum: false }),
        progress: o.progress, name: run, signal: hooks.signal,
        onEvent: hooks.onEvent,
      });
      if (result.stopReason === 'cancelled') throw new TorchError(`${run}: cancelled (the last checkpoint is in ${dir})`);
      return result;
    } finally {
      distiller.dispose();
    }
  };
}

/** The run's options with the defaults filled in, for metrics.json. */
function configRecord(o: Record<string, unknown>): TextMetrics['config'] {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === undefined ? null : (v as string | number | boolean)])) as TextMetrics['config'];
}

/**
 * Trains the teacher, the distilled student and the scratch student on `options.train`, selects each
 * one's best epoch on the validation set, and writes OUT/metrics.json, OUT/labels.json and per run
 * OUT/<run>/ (checkpoints, metrics.jsonl and the model: model.safetensors + arch.json, or a Hugging Face
 * folder with a HF teacher).
 */
export async function runText(options: TextOptions, hooks: { onEvent?: (event: TrainerEvent) => void; signal?: AbortSignal } = {}): Promise<TextMetrics> {
  const started = Date.now();
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TextOptions;
  const withHf = given.teacher !== undefined;
  const o = { ...DEFAULTS, ...(withHf ? HF_DEFAULTS : {}), ...given };
  const teacherEpochs = given.teacherEpochs ?? given.epochs ?? (withHf ? HF_DEFAULTS.teacherEpochs : DEFAULTS.teacherEpochs);
  const studentEpochs = given.studentEpochs ?? given.epochs ?? (withHf ? HF_DEFAULTS.studentEpochs : DEFAULTS.studentEpochs);
  if (o.device.startsWith('cuda') && !torch.cuda.isAvailable()) throw new TorchError(`device ${o.device}: CUDA is not available (run torchkd doctor)`);
  if (!(o.alpha >= 0 && o.alpha <= 1)) throw new TorchError(`alpha must be in [0, 1], got ${o.alpha}`);
  if (!withHf) {
    for (const k of ['finetuneTeacher', 'studentLayers', 'studentConfig', 'layerMap', 'hiddenLoss', 'hiddenWeight', 'attentionWeight', 'twoStage', 'spectralSamples'] as const) {
      if (given[k] !== undefined && given[k] !== false) throw new TorchError(`${k} applies to a Hugging Face teacher (--teacher DIR) only`);
    }
  }
  const data = readData(o);
  mkdirSync(o.out, { recursive: true });
  const runOptions = { ...o, teacherEpochs, studentEpochs };
  return withHf
    ? runHf(runOptions as typeof runOptions & { teacher: string }, data, started, hooks)
    : runFastText(runOptions, data, started, hooks);
}

type RunOptions = typeof DEFAULTS & TextOptions & { teacherEpochs: number; studentEpochs: number };
type Data = ReturnType<typeof readData>;

async function runFastText(o: RunOptions, d: Data, started: number, hooks: { onEvent?: (event: TrainerEvent) => void; signal?: AbortSignal }): Promise<TextMetrics> {
  const { train, valid, test, labels } = d;
  const vocab = Vocab.build(train.map((e) => e.text), { minFreq: o.minFreq });
  vocab.save(join(o.out, 'vocab.json'));
  labels.save(join(o.out, 'labels.json'));

  const sets = { train: encode(train, vocab, labels, o.maxLength), valid: encode(valid, vocab, labels, o.maxLength), test: encode(test, vocab, labels, o.maxLength) };
  const trainLoader = new DataLoader(sets.train, { batchSize: o.batchSize, shuffle: true, seed: o.seed }) as Loader;
  const evalLoader = (ds: TensorDataset) => new DataLoader(ds, { batchSize: 512 }) as Loader;
  const validLoader = evalLoader(sets.valid);
  const testLoader = evalLoader(sets.test);
  const numClasses = labels.length;
  const teacherArch = { name: 'textTransformer' as const, vocabSize: vocab.length, numClasses, dim: o.teacherDim, layers: o.teacherLayers, heads: o.teacherHeads, maxLength: o.maxLength };
  const studentArch = { name: 'fastText' as const, vocabSize: vocab.length, numClasses, dim: o.studentDim, bigramBuckets: o.studentBigrams };

  const modules: nn.Module[] = [];
  try {
    const train1 = trainer(o, trainLoader, validLoader, hooks);
    torch.manualSeed(o.seed);
    const transformer = new TextTransformer(teacherArch);
    modules.push(transformer);
    const transformerFit = await train1('teacher', new Distiller({ student: transformer, terms: [crossEntropy()] }), o.teacherEpochs, o.teacherLr);
    saveModel(join(o.out, 'teacher'), transformer, teacherArch);
    let teacher: nn.Module = transformer;
    let teacherMetrics = summary(transformer, transformerFit, testLoader, o.device, o.teacherEpochs);
    let members: TextMetrics['members'];
    if (o.teacherKind === 'ensemble') {
      // A second, different learner: a wide fastText (4× the student's width, 4× its bigram buckets, dropout).
      const wideArch = { name: 'fastText' as const, vocabSize: vocab.length, numClasses, dim: 4 * o.studentDim, bigramBuckets: 4 * o.studentBigrams, dropout: 0.2 };
      torch.manualSeed(o.seed + 2);
      const wide = new FastText(wideArch);
      modules.push(wide);
      const wideFit = await train1('teacher-fasttext', new Distiller({ student: wide, terms: [crossEntropy()] }), o.studentEpochs, o.studentLr);
      saveModel(join(o.out, 'teacher-fasttext'), wide, wideArch);
      const wideMetrics = summary(wide, wideFit, testLoader, o.device, o.studentEpochs);
      const ensemble = new Ensemble([transformer, wide]);
      teacher = ensemble;
      members = { transformer: teacherMetrics, fastText: wideMetrics };
      teacherMetrics = {
        accuracy: evaluate(ensemble, testLoader, { device: o.device }).accuracy, parameters: ensemble.numParameters(),
        validAccuracy: evaluate(ensemble, validLoader, { device: o.device }).accuracy,
        trainSeconds: transformerFit.seconds + wideFit.seconds, epochs: o.teacherEpochs, steps: transformerFit.steps + wideFit.steps,
      };
    }

    // Both students start from the same initial weights.
    torch.manualSeed(o.seed + 1);
    const student = new FastText(studentArch);
    modules.push(student);
    const studentFit = await train1('student', new Distiller({
      student, teachers: [teacher],
      terms: [crossEntropy({ weight: 1 - o.alpha }), kd({ temperature: o.temperature, weight: o.alpha })],
    }), o.studentEpochs, o.studentLr);
    saveModel(join(o.out, 'student'), student, studentArch);
    const studentMetrics = summary(student, studentFit, testLoader, o.device, o.studentEpochs);

    torch.manualSeed(o.seed + 1);
    const scratch = new FastText(studentArch);
    modules.push(scratch);
    const scratchFit = await train1('scratch', new Distiller({ student: scratch, terms: [crossEntropy()] }), o.studentEpochs, o.studentLr);
    saveModel(join(o.out, 'scratch'), scratch, studentArch);
    const scratchMetrics = summary(scratch, scratchFit, testLoader, o.device, o.studentEpochs);

    const metrics: TextMetrics = {
      teacher: teacherMetrics, student: studentMetrics, scratch: scratchMetrics, ...(members ? { members } : {}),
      data: {
        train: train.length, valid: valid.length, test: test.length, classes: numClasses, vocabulary: vocab.length,
        validSource: o.valid ?? `10% of ${o.train} (seed ${o.seed})`,
      },
      config: configRecord({
        train: o.train, test: o.test, valid: o.valid, format: o.format, out: o.out, textField: o.textField, labelField: o.labelField,
        teacherEpochs: o.teacherEpochs, studentEpochs: o.studentEpochs, batchSize: o.batchSize, maxLength: o.maxLength, minFreq: o.minFreq,
        teacherKind: o.teacherKind, teacherDim: o.teacherDim, teacherLayers: o.teacherLayers, teacherHeads: o.teacherHeads, teacherLr: o.teacherLr,
        studentDim: o.studentDim, studentBigrams: o.studentBigrams, studentLr: o.studentLr,
        temperature: o.temperature, alpha: o.alpha, seed: o.seed, device: o.device, progress: o.progress,
      }),
      seconds: (Date.now() - started) / 1000,
    };
    atomicWrite(join(o.out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
    return metrics;
  } finally {
    for (const m of modules) m.dispose();
    for (const ds of Object.values(sets)) torch.dispose(ds.tensors);
  }
}

/** A HF folder for a run: the classifier (savePretrained) and the teacher's tokenizer files. */
function saveHf(dir: string, model: hf.HfSequenceClassifier, tok: hf.PreTrainedTokenizer): void {
  model.savePretrained(dir);
  tok.savePretrained(dir);
}

async function runHf(o: RunOptions & { teacher: string }, d: Data, started: number, hooks: { onEvent?: (event: TrainerEvent) => void; signal?: AbortSignal }): Promise<TextMetrics> {
  const h = o as unknown as HfTextOptions & RunOptions;
  if (h.studentLayers !== undefined && h.studentConfig !== undefined) throw new TorchError('give --student-layers (a student cut from the teacher) or --student-config (a fresh student), not both');
  const spec = parseLayerMap(h.layerMap);
  const tok = hf.AutoTokenizer.fromPretrained(o.teacher);
  const teacherConfig = hf.AutoConfig.fromPretrained(o.teacher);
  // The teacher's label order when its head is for these labels; else a new head (fine-tuning needed).
  const known = teacherLabels(teacherConfig, d.labels);
  if (!known && !h.finetuneTeacher) {
    throw new TorchError(`${o.teacher}: the teacher's labels (${Object.values(teacherConfig.id2label).slice(0, 5).map((l) => JSON.stringify(l)).join(', ')}${teacherConfig.numLabels > 5 ? ', ...' : ''}) ` +
      `are not the ${d.labels.length} labels of ${o.train}; pass --finetune-teacher to train a head for them`);
  }
  const labels = known ?? d.labels;
  labels.save(join(o.out, 'labels.json'));
  const id2label = Object.fromEntries(labels.labels.map((l, i) => [i, l]));
  const sets = { train: encodeHf(tok, d.train, labels, o.maxLength), valid: encodeHf(tok, d.valid, labels, o.maxLength), test: encodeHf(tok, d.test, labels, o.maxLength) };
  const trainLoader = hfLoader(sets.train, o.batchSize, true, o.seed);
  const validLoader = hfLoader(sets.valid, 128);
  const testLoader = hfLoader(sets.test, 128);
  const pad = sets.train.pad;
  const modules: nn.Module[] = [];
  try {
    const train1 = trainer(o, trainLoader, validLoader, hooks);
    torch.manualSeed(o.seed);
    const teacherModel = hf.AutoModelForSequenceClassification.fromPretrained(o.teacher, { id2label, device: o.device });
    const teacher = new hf.TokenIdsClassifier(teacherModel, { padTokenId: pad, outputAttentions: h.attentionWeight > 0 });
    modules.push(teacher);
    let teacherMetrics: TextRunMetrics;
    if (h.finetuneTeacher) {
      teacherModel.train();
      const fitted = await train1('teacher', new Distiller({ student: teacher, terms: [crossEntropy()] }), o.teacherEpochs, o.teacherLr);
      teacherMetrics = summary(teacher, fitted, testLoader, o.device, o.teacherEpochs);
    } else {
      teacherMetrics = {
        accuracy: evaluate(teacher, testLoader, { device: o.device }).accuracy, parameters: teacher.numParameters(),
        validAccuracy: evaluate(teacher, validLoader, { device: o.device }).accuracy, trainSeconds: 0, epochs: 0, steps: 0,
      };
    }
    saveHf(join(o.out, 'teacher'), teacherModel, tok);

    // The teacher's spectral profile on a seeded sample of the training texts (real tokens only).
    const sampleRows = new Generator(o.seed).permutation(sets.train.length).slice(0, Math.min(h.spectralSamples, sets.train.length));
    const sample = torch.tidy(() => {
      const [ids, y] = sets.train.getBatch(sampleRows);
      y.dispose();
      return ids;
    });
    const teacherProfile = hiddenStateProfile(teacher, sample, o.device);
    const N = teacherModel.config.numHiddenLayers;
    const fresh = h.studentConfig !== undefined ? parseStudentConfig(h.studentConfig, teacherModel.config) : null;
    const M = fresh?.numHiddenLayers ?? h.studentLayers ?? Math.max(1, Math.round(N / 2));
    const { map, init } = runLayerMap(spec, N, M, teacherProfile);

    // The student and the scratch student start from the same weights: cut from the teacher, or fresh (seeded).
    const makeStudent = () => {
      torch.manualSeed(o.seed + 1);
      const model = fresh ? hf.freshStudent(teacherModel, fresh) : hf.studentFromTeacher(teacherModel, init);
      model.train();
      return new hf.TokenIdsClassifier(model, { padTokenId: pad, outputAttentions: h.attentionWeight > 0 });
    };
    const student = makeStudent();
    modules.push(student);
    let studentFit: FitResult;
    if (h.twoStage) {
      // TinyBERT: intermediate-layer distillation, then prediction-layer distillation, in the same epoch budget.
      const first = Math.max(1, Math.ceil(o.studentEpochs / 2));
      const second = Math.max(1, o.studentEpochs - first);
      await train1('student-intermediate', distillerFor(student, teacher, studentTerms({ ...h, alpha: o.alpha, temperature: o.temperature }, map, student, teacher, 'intermediate')), first, o.studentLr);
      studentFit = await train1('student', distillerFor(student, teacher, studentTerms({ ...h, alpha: o.alpha, temperature: o.temperature }, map, student, teacher, 'prediction')), second, o.studentLr);
    } else {
      studentFit = await train1('student', distillerFor(student, teacher, studentTerms({ ...h, alpha: o.alpha, temperature: o.temperature }, map, student, teacher, 'all')), o.studentEpochs, o.studentLr);
    }
    const studentMetrics = summary(student, studentFit, testLoader, o.device, o.studentEpochs);
    saveHf(join(o.out, 'student'), student.model, tok);
    const studentProfile = hiddenStateProfile(student, sample, o.device);
    sample.dispose();

    const scratch = makeStudent();
    modules.push(scratch);
    const scratchFit = await train1('scratch', distillerFor(scratch, null, [crossEntropy()]), o.studentEpochs, o.studentLr);
    const scratchMetrics = summary(scratch, scratchFit, testLoader, o.device, o.studentEpochs);
    saveHf(join(o.out, 'scratch'), scratch.model, tok);

    const metrics: TextMetrics = {
      teacher: teacherMetrics, student: studentMetrics, scratch: scratchMetrics,
      data: {
        train: d.train.length, valid: d.valid.length, test: d.test.length, classes: labels.length, vocabulary: tok.vocabSize,
        validSource: o.valid ?? `10% of ${o.train} (seed ${o.seed})`,
      },
      config: configRecord({
        train: o.train, test: o.test, valid: o.valid, format: o.format, out: o.out, textField: o.textField, labelField: o.labelField,
        teacher: o.teacher, finetuneTeacher: h.finetuneTeacher, studentLayers: fresh ? null : M, studentConfig: h.studentConfig,
        layerMap: h.layerMap, hiddenLoss: h.hiddenLoss, hiddenWeight: h.hiddenWeight, attentionWeight: h.attentionWeight, twoStage: h.twoStage,
        spectralSamples: h.spectralSamples, teacherEpochs: o.teacherEpochs, studentEpochs: o.studentEpochs, batchSize: o.batchSize,
        maxLength: o.maxLength, teacherLr: o.teacherLr, studentLr: o.studentLr, temperature: o.temperature, alpha: o.alpha,
        seed: o.seed, device: o.device, progress: o.progress,
      }),
      hf: {
        student: fresh ? 'fresh' : 'cut', studentLayers: M, initialLayers: fresh ? null : init, layerMap: map,
        spectral: { teacher: teacherProfile, student: studentProfile, selected: [...new Set(map.flatMap((p) => p.teacher))].sort((a, b) => a - b) },
        labels: [...labels.labels],
      },
      seconds: (Date.now() - started) / 1000,
    };
    atomicWrite(join(o.out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
    return metrics;
  } finally {
    for (const m of modules) m.dispose();
    for (const ds of Object.values(sets)) torch.dispose(ds.tensors);
  }
}

/** The CLI entry: runs, then prints the three accuracies and where the files are. */
export async function textCommand(values: Values, signal: AbortSignal): Promise<number> {
  const m = await runText(values as unknown as TextOptions, { signal });
  const runs = ['teacher', 'student', 'scratch'] as const;
  const rows = runs.map((k) => [k, percent(m[k].accuracy), String(m[k].parameters), `${m[k].trainSeconds.toFixed(1)} s`]);
  console.log(formatTable([['model', 'test accuracy', 'parameters', 'training'], ...rows]));
  const page = await report.writeReport(m.config.out, {
    title: `torchkd text: ${m.hf ? 'Hugging Face ' : ''}teacher, distilled student, scratch student`,
    subtitle: `${m.data.train} training texts, ${m.data.classes} classes; test accuracy on ${m.config.test}`,
    table: { columns: ['model', 'test accuracy', 'parameters', 'training seconds'], rows: runs.map((k) => [k, m[k].accuracy, m[k].parameters, m[k].trainSeconds]) },
    curves: runs.flatMap((k) => curvesFromLog(join(m.config.out, k, 'metrics.jsonl'), k)),
    ...(m.hf ? {
      spectral: [profileSeries('teacher', m.hf.spectral.teacher, m.hf.spectral.selected), profileSeries('student', m.hf.spectral.student)],
      notes: [`Student ${m.hf.student === 'cut' ? `cut from the teacher (teacher layers ${m.hf.initialLayers?.map((l) => l + 1).join(', ')})` : 'built fresh from --student-config'}, ` +
        `${m.hf.studentLayers} layers; layer map ${m.config.layerMap}: ${m.hf.layerMap.map((p) => `${p.student} ← ${p.teacher.map((t, i) => (p.teacher.length > 1 ? `${p.weights[i]}·${t}` : t)).join(' + ')}`).join(', ')} (hidden-state indices, 0 = embeddings).`],
    } : {}),
  });
  console.log(`\nmetrics: ${join(m.config.out, 'metrics.json')}\nreport:  ${page}\n(${m.seconds.toFixed(1)} s in all)`);
  return 0;
}
