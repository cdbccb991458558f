// `torchkd text`: a text-classification teacher (TextTransformer), a student distilled from it
// (FastText, Hinton KD + cross entropy), and the same student trained from the labels only, each with
// the Trainer; test accuracy and parameter counts in OUT/metrics.json.
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
import { saveModel } from '../models/arch';
import type { Values } from './args';
import { TEXT_DEFAULTS as DEFAULTS } from './specs';
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
  /** Epochs of every run; teacherEpochs / studentEpochs override it (defaults 8 and 15). */
  epochs?: number;
  teacherEpochs?: number;
  studentEpochs?: number;
  batchSize?: number;
  /** Tokens kept per text (default 32). */
  maxLength?: number;
  /** Words seen fewer times in train become <unk> (default 1). */
  minFreq?: number;
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
  data: { train: number; valid: number; test: number; classes: number; vocabulary: number; validSource: string };
  config: Required<Omit<TextOptions, 'valid' | 'format' | 'epochs'>> & { valid: string | null; format: string | null };
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

/**
 * Trains the teacher, the distilled student and the scratch student on `options.train`, selects each
 * one's best epoch on the validation set, and writes OUT/metrics.json, OUT/vocab.json, OUT/labels.json and
 * per run OUT/<run>/{checkpoint-last,checkpoint-best,model}.safetensors, arch.json and metrics.jsonl.
 */
export async function runText(options: TextOptions, hooks: { onEvent?: (event: TrainerEvent) => void; signal?: AbortSignal } = {}): Promise<TextMetrics> {
  const started = Date.now();
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TextOptions;
  const o = { ...DEFAULTS, ...given };
  const teacherEpochs = given.teacherEpochs ?? given.epochs ?? DEFAULTS.teacherEpochs;
  const studentEpochs = given.studentEpochs ?? given.epochs ?? DEFAULTS.studentEpochs;
  if (o.device.startsWith('cuda') && !torch.cuda.isAvailable()) throw new TorchError(`device ${o.device}: CUDA is not available (run torchkd doctor)`);
  if (!(o.alpha >= 0 && o.alpha <= 1)) throw new TorchError(`alpha must be in [0, 1], got ${o.alpha}`);

  const trainAll = readExamples(o.train, o);
  const test = readExamples(o.test, o);
  const labels = LabelVocab.build(trainAll.map((e) => e.label));
  checkLabels(test, labels, o.test, o.train);
  let train = trainAll;
  let valid: TextExample[];
  if (o.valid !== undefined) {
    valid = readExamples(o.valid, o);
    checkLabels(valid, labels, o.valid, o.train);
  } else {
    if (trainAll.length < 2) throw new TorchError(`${o.train}: at least 2 examples are needed to hold out a validation set (or pass --valid)`);
    const order = new Generator(o.seed).permutation(trainAll.length);
    const held = Math.max(1, Math.round(0.1 * trainAll.length));
    valid = order.slice(0, held).map((i) => trainAll[i]);
    train = order.slice(held).map((i) => trainAll[i]);
  }
  const vocab = Vocab.build(train.map((e) => e.text), { minFreq: o.minFreq });

  mkdirSync(o.out, { recursive: true });
  vocab.save(join(o.out, 'vocab.json'));
  labels.save(join(o.out, 'labels.json'));

  const sets = { train: encode(train, vocab, labels, o.maxLength), valid: encode(valid, vocab, labels, o.maxLength), test: encode(test, vocab, labels, o.maxLength) };
  const trainLoader = new DataLoader(sets.train, { batchSize: o.batchSize, shuffle: true, seed: o.seed }) as Loader;
  const evalLoader = (d: TensorDataset) => new DataLoader(d, { batchSize: 512 }) as Loader;
  const validLoader = evalLoader(sets.valid);
  const testLoader = evalLoader(sets.test);
  const numClasses = labels.length;
  const teacherArch = { name: 'textTransformer' as const, vocabSize: vocab.length, numClasses, dim: o.teacherDim, layers: o.teacherLayers, heads: o.teacherHeads, maxLength: o.maxLength };
  const studentArch = { name: 'fastText' as const, vocabSize: vocab.length, numClasses, dim: o.studentDim, bigramBuckets: o.studentBigrams };

  const modules: nn.Module[] = [];
  try {
    const train1 = async (run: string, distiller: Distiller, epochs: number, lr: number) => {
      const dir = join(o.out, run);
      try {
        const result = await fit({
          distiller, train: trainLoader, valid: validLoader, epochs, seed: o.seed, device: o.device, outDir: dir, restoreBest: true,
          optimizer: (params: Tensor[]) => new optim.AdamW(params, { lr, weightDecay: 0.01 }),
          scheduler: (opt, total) => new optim.lrScheduler.OneCycleLR(opt, lr, { totalSteps: total, pctStart: 0.1, cycleMomentum: false }),
          progress: o.progress, name: run, signal: hooks.signal,
          onEvent: hooks.onEvent,
        });
        if (result.stopReason === 'cancelled') throw new TorchError(`${run}: cancelled (the last checkpoint is in ${dir})`);
        return result;
      } finally {
        distiller.dispose();
      }
    };

    torch.manualSeed(o.seed);
    const teacher = new TextTransformer(teacherArch);
    modules.push(teacher);
    const teacherFit = await train1('teacher', new Distiller({ student: teacher, terms: [crossEntropy()] }), teacherEpochs, o.teacherLr);
    saveModel(join(o.out, 'teacher'), teacher, teacherArch);
    const teacherMetrics = summary(teacher, teacherFit, testLoader, o.device, teacherEpochs);

    // Both students start from the same initial weights.
    torch.manualSeed(o.seed + 1);
    const student = new FastText(studentArch);
    modules.push(student);
    const studentFit = await train1('student', new Distiller({
      student, teachers: [teacher],
      terms: [crossEntropy({ weight: 1 - o.alpha }), kd({ temperature: o.temperature, weight: o.alpha })],
    }), studentEpochs, o.studentLr);
    saveModel(join(o.out, 'student'), student, studentArch);
    const studentMetrics = summary(student, studentFit, testLoader, o.device, studentEpochs);

    torch.manualSeed(o.seed + 1);
    const scratch = new FastText(studentArch);
    modules.push(scratch);
    const scratchFit = await train1('scratch', new Distiller({ student: scratch, terms: [crossEntropy()] }), studentEpochs, o.studentLr);
    saveModel(join(o.out, 'scratch'), scratch, studentArch);
    const scratchMetrics = summary(scratch, scratchFit, testLoader, o.device, studentEpochs);

    const metrics: TextMetrics = {
      teacher: teacherMetrics, student: studentMetrics, scratch: scratchMetrics,
      data: {
        train: train.length, valid: valid.length, test: test.length, classes: numClasses, vocabulary: vocab.length,
        validSource: o.valid ?? `10% of ${o.train} (seed ${o.seed})`,
      },
      config: {
        train: o.train, test: o.test, valid: o.valid ?? null, format: o.format ?? null, out: o.out, textField: o.textField, labelField: o.labelField,
        teacherEpochs, studentEpochs, batchSize: o.batchSize, maxLength: o.maxLength, minFreq: o.minFreq,
        teacherDim: o.teacherDim, teacherLayers: o.teacherLayers, teacherHeads: o.teacherHeads, teacherLr: o.teacherLr,
        studentDim: o.studentDim, studentBigrams: o.studentBigrams, studentLr: o.studentLr,
        temperature: o.temperature, alpha: o.alpha, seed: o.seed, device: o.device, progress: o.progress,
      },
      seconds: (Date.now() - started) / 1000,
    };
    atomicWrite(join(o.out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
    return metrics;
  } finally {
    for (const m of modules) m.dispose();
    for (const d of Object.values(sets)) torch.dispose(d.tensors);
  }
}


/** The CLI entry: runs, then prints the three accuracies and where the files are. */
export async function textCommand(values: Values, signal: AbortSignal): Promise<number> {
  const m = await runText(values as unknown as TextOptions, { signal });
  const runs = ['teacher', 'student', 'scratch'] as const;
  const rows = runs.map((k) => [k, percent(m[k].accuracy), String(m[k].parameters), `${m[k].trainSeconds.toFixed(1)} s`]);
  console.log(formatTable([['model', 'test accuracy', 'parameters', 'training'], ...rows]));
  const page = await report.writeReport(m.config.out, {
    title: 'torchkd text: teacher, distilled student, scratch student',
    subtitle: `${m.data.train} training texts, ${m.data.classes} classes; test accuracy on ${m.config.test}`,
    table: { columns: ['model', 'test accuracy', 'parameters', 'training seconds'], rows: runs.map((k) => [k, m[k].accuracy, m[k].parameters, m[k].trainSeconds]) },
    curves: runs.flatMap((k) => curvesFromLog(join(m.config.out, k, 'metrics.jsonl'), k)),
  });
  console.log(`\nmetrics: ${join(m.config.out, 'metrics.json')}\nreport:  ${page}\n(${m.seconds.toFixed(1)} s in all)`);
  return 0;
}
