// Recipes: each method configured as its authors ran it. A recipe is a function returning the loss terms
// (with their weights and epoch schedules), the Distiller options (BSS, intra-distillation), and the
// trainer options (epochs, optimizer, learning-rate schedule) of one official configuration, plus the
// settings as the source states them and what the recipe cannot reproduce. Use:
//   const r = distill.recipes.mdistillerDkd({ dataset: 'cifar100' });
//   const distiller = new Distiller({ student, teachers: [teacher], ...r.distiller });
//   await train.fit({ distiller, train: new data.DataLoader(ds, { batchSize: r.batchSize, shuffle: true }), ...r.fit });
import * as nn from '../nn';
import * as optim from '../optim';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import type { Optimizer } from '../optim/optimizer';
import type { LRScheduler } from '../optim/lrScheduler';
import type { TrainerOptions } from '../train/trainer';
import { bssWeights } from './bss';
import type { DistillerOptions } from './distiller';
import { hiddenStateLoss } from './hidden';
import * as terms from './terms';
import type { LossTerm } from './terms';

export interface Recipe {
  /** The recipe's name (as in docs/distillation.md). */
  readonly name: string;
  /** The official code it reproduces: the repository and the files its settings come from. */
  readonly source: { repository: string; files: string[] };
  /** Spread into the Distiller: `new Distiller({ student, teachers, ...recipe.distiller })`. */
  readonly distiller: Pick<DistillerOptions, 'terms' | 'bss' | 'intra'>;
  /**
   * Spread into train.fit: the run's length and, where torchkd has the official optimizer, the optimizer and
   * the learning-rate schedule (a per-step LambdaLR that follows the official per-epoch or per-update rule;
   * it assumes the run's length given here).
   */
  readonly fit: Pick<TrainerOptions, 'epochs' | 'maxSteps' | 'optimizer' | 'scheduler' | 'clipGradNorm'>;
  /** The official training batch size (per process, for your DataLoader). */
  readonly batchSize: number;
  /** The settings as the source states them. */
  readonly settings: Record<string, number | string | boolean | number[]>;
  /** What the recipe does not reproduce (data pipeline, architectures, optimizer differences). */
  readonly notes: string[];
}

type SchedulerFactory = (optimizer: Optimizer, totalSteps: number) => LRScheduler;

/** A per-step LambdaLR whose factor is lrOfEpoch(epoch) / baseLr, epoch = floor(step / steps per epoch) (0-based). */
function perEpoch(epochs: number, baseLr: number, lrOfEpoch: (epoch: number) => number, onEpochStart?: (epoch: number, optimizer: Optimizer) => void): SchedulerFactory {
  return (optimizer, totalSteps) => {
    const stepsPerEpoch = totalSteps / epochs;
    const epochOf = (step: number) => Math.floor(step / stepsPerEpoch);
    const scheduler = new optim.lrScheduler.LambdaLR(optimizer, (step) => lrOfEpoch(epochOf(step)) / baseLr);
    if (onEpochStart) {
      const step = scheduler.step.bind(scheduler);
      scheduler.step = (epoch?: number) => {
        step(epoch);
        const k = scheduler.lastEpoch;
        if (k > 0 && epochOf(k) !== epochOf(k - 1)) onEpochStart(epochOf(k), optimizer);
      };
    }
    return scheduler;
  };
}

/** A per-step LambdaLR with factor(step, totalSteps). */
function perStep(factor: (step: number, totalSteps: number) => number): SchedulerFactory {
  return (optimizer, totalSteps) => new optim.lrScheduler.LambdaLR(optimizer, (step) => factor(step, totalSteps));
}

/** Parameter groups with weight decay on matrices and none on 1-D tensors (biases, norm weights). */
function decayGroups(params: Tensor[], weightDecay: number): optim.Params<{ weightDecay: number }> {
  const decay = params.filter((p) => p.dim() > 1);
  const noDecay = params.filter((p) => p.dim() <= 1);
  return [{ params: decay, weightDecay }, { params: noDecay, weightDecay: 0 }].filter((g) => g.params.length > 0);
}

function requireNumber(value: unknown, name: string, recipe: string, check: (v: number) => boolean, what: string): number {
  if (typeof value !== 'number' || !check(value)) throw new TorchError(`recipes.${recipe}(): ${name} must be ${what}, got ${String(value)}`);
  return value;
}

const positiveInt = (v: number) => Number.isInteger(v) && v > 0;

// ------------------------------------------------------------------------------------------ mdistiller

/** mdistiller's adjust_learning_rate at the 1-based epoch e: lr · rate^#(stages < e). */
function mdistillerLr(lr: number, stages: number[], rate: number): (epoch0: number) => number {
  return (epoch0) => lr * rate ** stages.filter((s) => epoch0 + 1 > s).length;
}

const MDISTILLER = 'megvii-research/mdistiller';

interface MdistillerSolver { epochs: number; batchSize: number; lr: number; stages: number[]; weightDecay: number }

const MDISTILLER_SOLVERS: Record<'cifar100' | 'imagenet', MdistillerSolver> = {
  cifar100: { epochs: 240, batchSize: 64, lr: 0.05, stages: [150, 180, 210], weightDecay: 5e-4 },
  imagenet: { epochs: 100, batchSize: 512, lr: 0.2, stages: [30, 60, 90], weightDecay: 1e-4 },
};

function mdistillerFit(solver: MdistillerSolver): Recipe['fit'] {
  return {
    epochs: solver.epochs,
    optimizer: (params) => new optim.SGD(params, { lr: solver.lr, momentum: 0.9, weightDecay: solver.weightDecay }),
    scheduler: perEpoch(solver.epochs, solver.lr, mdistillerLr(solver.lr, solver.stages, 0.1)),
  };
}

function checkDataset(dataset: unknown, recipe: string): 'cifar100' | 'imagenet' {
  if (dataset !== 'cifar100' && dataset !== 'imagenet') throw new TorchError(`recipes.${recipe}(): dataset must be 'cifar100' or 'imagenet', got ${String(dataset)}`);
  return dataset;
}

/**
 * mdistiller's KD (Hinton et al. 2015): CE_WEIGHT · CE + KD_WEIGHT · T²·KL (batchmean). CIFAR-100
 * (configs/cifar100/kd.yaml): T = 4, weights 0.1 / 0.9, SGD lr 0.05, momentum 0.9, weight decay 5e-4, 240
 * epochs, batch 64, lr × 0.1 after epochs 150, 180, 210. ImageNet (configs/imagenet/r34_r18/kd.yaml): T = 1,
 * weights 0.5 / 0.5, lr 0.2, weight decay 1e-4, 100 epochs, batch 512, stages 30, 60, 90.
 */
export function mdistillerKd(options: { dataset?: 'cifar100' | 'imagenet' } = {}): Recipe {
  const dataset = checkDataset(options.dataset ?? 'cifar100', 'mdistillerKd');
  const solver = MDISTILLER_SOLVERS[dataset];
  const [temperature, ceWeight, kdWeight] = dataset === 'cifar100' ? [4, 0.1, 0.9] : [1, 0.5, 0.5];
  return {
    name: `mdistiller-kd-${dataset}`,
    source: {
      repository: MDISTILLER,
      files: ['mdistiller/distillers/KD.py', 'mdistiller/engine/cfg.py', 'mdistiller/engine/utils.py',
        dataset === 'cifar100' ? 'configs/cifar100/kd.yaml' : 'configs/imagenet/r34_r18/kd.yaml'],
    },
    distiller: { terms: [terms.crossEntropy({ weight: ceWeight }), terms.kd({ temperature, weight: kdWeight })] },
    fit: mdistillerFit(solver),
    batchSize: solver.batchSize,
    settings: { temperature, ceWeight, kdWeight, lr: solver.lr, momentum: 0.9, weightDecay: solver.weightDecay, epochs: solver.epochs, lrDecayStages: solver.stages, lrDecayRate: 0.1 },
    notes: ['Data augmentation and the architectures are not part of the recipe (mdistiller: random crop and flip on CIFAR-100, random resized crop on ImageNet).'],
  };
}

/** The CIFAR-100 DKD configurations of mdistiller (configs/cifar100/dkd/*.yaml): β and the learning rate. */
const DKD_CIFAR100: Record<string, { beta: number; lr: number }> = {
  res110_res32: { beta: 2, lr: 0.05 }, res32x4_res8x4: { beta: 8, lr: 0.05 }, res32x4_shuv1: { beta: 8, lr: 0.01 },
  res32x4_shuv2: { beta: 8, lr: 0.01 }, res50_mv2: { beta: 8, lr: 0.01 }, res56_res20: { beta: 2, lr: 0.05 },
  vgg13_mv2: { beta: 6, lr: 0.01 }, vgg13_vgg8: { beta: 6, lr: 0.05 }, wrn40_2_shuv1: { beta: 8, lr: 0.01 },
  wrn40_2_wrn_16_2: { beta: 6, lr: 0.05 }, wrn40_2_wrn_40_1: { beta: 6, lr: 0.05 },
};

/** The ImageNet DKD configurations (configs/imagenet/<pair>/dkd.yaml): β (T = 1, warm-up 1). */
const DKD_IMAGENET: Record<string, { beta: number }> = { r34_r18: { beta: 0.5 }, r50_mv1: { beta: 2 } };

/**
 * mdistiller's DKD (Zhao et al. 2022): CE + min(e / WARMUP, 1) · (α·TCKD + β·NCKD) with e the 1-based
 * epoch. CIFAR-100: α = 1, T = 4, warm-up 20, β and lr per teacher–student pair (`config`, the file name
 * under configs/cifar100/dkd/, default 'res32x4_res8x4'), solver as mdistillerKd's. ImageNet (`config`
 * 'r34_r18' or 'r50_mv1'): T = 1, warm-up 1 (full weight from the first step), β 0.5 or 2.
 */
export function mdistillerDkd(options: { dataset?: 'cifar100' | 'imagenet'; config?: string } = {}): Recipe {
  const dataset = checkDataset(options.dataset ?? 'cifar100', 'mdistillerDkd');
  const table: Record<string, { beta: number; lr?: number }> = dataset === 'cifar100' ? DKD_CIFAR100 : DKD_IMAGENET;
  const config = options.config ?? (dataset === 'cifar100' ? 'res32x4_res8x4' : 'r34_r18');
  const entry = table[config];
  if (!entry) throw new TorchError(`recipes.mdistillerDkd(): unknown ${dataset} config ${JSON.stringify(config)} (${Object.keys(table).join(' | ')})`);
  const solver = { ...MDISTILLER_SOLVERS[dataset], lr: entry.lr ?? MDISTILLER_SOLVERS[dataset].lr };
  const [temperature, warmup] = dataset === 'cifar100' ? [4, 20] : [1, 1];
  const dkd = { alpha: 1, beta: entry.beta, temperature, warmup };
  return {
    name: `mdistiller-dkd-${dataset}`,
    source: {
      repository: MDISTILLER,
      files: ['mdistiller/distillers/DKD.py', 'mdistiller/engine/cfg.py', 'mdistiller/engine/trainer.py', 'mdistiller/engine/utils.py',
        dataset === 'cifar100' ? `configs/cifar100/dkd/${config}.yaml` : `configs/imagenet/${config}/dkd.yaml`],
    },
    distiller: { terms: [terms.crossEntropy(), terms.dkd({ ...dkd, epochConvention: 'oneBased' })] },
    fit: mdistillerFit(solver),
    batchSize: solver.batchSize,
    settings: { config, ceWeight: 1, ...dkd, epochConvention: 'oneBased', lr: solver.lr, momentum: 0.9, weightDecay: solver.weightDecay, epochs: solver.epochs, lrDecayStages: solver.stages, lrDecayRate: 0.1 },
    notes: ['Data augmentation and the architectures are not part of the recipe.'],
  };
}

// ------------------------------------------------------------------------------------------------ TAKD

/**
 * TAKD (Mirzadeh et al. 2020), train.py: (1 − λ)·CE + λ·T²·KLDivLoss() with PyTorch's default 'mean'
 * reduction (the KL summed over classes and samples, divided by B·C). λ and T are the experiment's
 * (search_space.json searches λ ∈ {0.05, …, 1}, T ∈ {1, 2, 5, 10, 15, 20}). SGD momentum 0.9, weight decay
 * 1e-4, 160 epochs (config.yml), batch 128. The learning rate is what adjust_learning_rate sets at the start
 * of each 0-based epoch e: 0.01 for e < ⌊3E/4⌋ and 0.001 after for ResNets (its first branch,
 * `epoch < int(epoch / 2.0)`, never holds, so 0.1 is never used), 0.01 throughout for plain CNNs.
 * Use for each stage of distill.taChain: `terms: () => recipes.takd({...}).distiller.terms`.
 */
export function takd(options: { temperature: number; lambda: number; epochs?: number; student?: 'resnet' | 'plain' }): Recipe {
  const temperature = requireNumber(options?.temperature, 'temperature', 'takd', (v) => v > 0, 'a positive number (the experiment\'s T)');
  const lambda = requireNumber(options?.lambda, 'lambda', 'takd', (v) => v >= 0 && v <= 1, 'in [0, 1] (the experiment\'s λ)');
  const epochs = requireNumber(options.epochs ?? 160, 'epochs', 'takd', positiveInt, 'a positive integer');
  const student = options.student ?? 'resnet';
  if (student !== 'resnet' && student !== 'plain') throw new TorchError(`recipes.takd(): student must be 'resnet' or 'plain', got ${String(student)}`);
  const lrOfEpoch = (e: number) => (student === 'plain' ? 0.01 : e < Math.floor((epochs * 3) / 4) ? 0.01 : 0.001);
  return {
    name: 'takd',
    source: { repository: 'imirzadeh/Teacher-Assistant-Knowledge-Distillation', files: ['train.py', 'config.yml', 'search_space.json', 'data_loader.py'] },
    distiller: {
      terms: [terms.crossEntropy({ weight: 1 - lambda }), terms.kd({ temperature, reduction: 'mean', weight: lambda })],
    },
    fit: {
      epochs,
      optimizer: (params) => new optim.SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }),
      scheduler: perEpoch(epochs, 0.1, lrOfEpoch),
    },
    batchSize: 128,
    settings: { temperature, lambda, kdReduction: 'mean', epochs, momentum: 0.9, weightDecay: 1e-4, lr: student === 'plain' ? '0.01' : '0.01, 0.001 from epoch ⌊3E/4⌋' },
    notes: ['The official data loader uses no augmentation by default (crop=False).'],
  };
}

// ------------------------------------------------------------------------------------------------- BSS

/**
 * BSS (Heo et al. 2019), train_BSS_distillation.py at the 1-based epoch e of E = 80: CE + r(e)·(−Σ p log q)/B
 * at T = 3 without T², plus the boundary term r_a(e)·(−Σ p log q)/B' over the attacked samples (at most 64
 * per batch; 10 steps of 0.3, inputs clamped to [−2.5, 2.5]), with r(e) = max(3(1 − e/E), 0) + 1 and
 * r_a(e) = max(2(1 − 4e/(3E)), 0). SGD momentum 0.9, weight decay 1e-4, lr 0.1, a new optimizer with lr
 * 0.01 at epoch E/2 and 0.001 at 3E/4 (the momentum restarts there; the schedule does the same), batch 256.
 */
export function bss(options: { epochs?: number } = {}): Recipe {
  const epochs = requireNumber(options.epochs ?? 80, 'epochs', 'bss', positiveInt, 'a positive integer');
  // The script switches optimizers where `epoch == max_epoch / 2` and `epoch == max_epoch / 4 * 3` hold.
  const switches = [[epochs / 2, 0.01], [(epochs / 4) * 3, 0.001]].filter(([e]) => Number.isInteger(e) && e > 1 && e <= epochs);
  const lrOfEpoch = (epoch0: number) => switches.reduce((lr, [e, value]) => (epoch0 + 1 >= e ? value : lr), 0.1);
  const restartAt = new Set(switches.map(([e]) => e - 1));
  const r = terms.epochSchedule((e, E) => bssWeights(e, E).r, { epochConvention: 'oneBased' });
  return {
    name: 'bss',
    source: { repository: 'bhheo/BSS_distillation', files: ['train_BSS_distillation.py', 'attacks/attack_BSS.py'] },
    distiller: {
      terms: [terms.crossEntropy(), terms.kd({ temperature: 3, squareTemperature: false, divergence: 'crossEntropy', weight: r })],
      bss: { maxBase: 64, stepSize: 0.3, maxSteps: 10, temperature: 3, clampMin: -2.5, clampMax: 2.5, divergence: 'crossEntropy', epochConvention: 'oneBased' },
    },
    fit: {
      epochs,
      optimizer: (params) => new optim.SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }),
      scheduler: perEpoch(epochs, 0.1, lrOfEpoch, (epoch0, optimizer) => {
        if (restartAt.has(epoch0)) optimizer.disposeState();
      }),
    },
    batchSize: 256,
    settings: {
      temperature: 3, attackSize: 64, attackSteps: 10, stepAlpha: 0.3, clamp: [-2.5, 2.5], epochs, lr: [0.1, ...switches.map(([, v]) => v)],
      lrSwitchEpochs: switches.map(([e]) => e), momentum: 0.9, weightDecay: 1e-4, epochConvention: 'oneBased',
    },
    notes: [
      'The clamp range [−2.5, 2.5] is that of CIFAR-10 normalised with mean (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994, 0.2010); set bss.clampMin/clampMax for other inputs.',
      "The target class of each attacked sample is drawn with probability ∝ the teacher's softmax over the non-top-1 classes, as the script's, from torchkd's own random stream.",
    ],
  };
}

// ------------------------------------------------------------------------------------------- SpectralKD

/**
 * SpectralKD's DeiT recipe (README, losses.py, main.py): a DeiT student (timm's deit_tiny / deit_small,
 * one class token) and a CaiT-S24 teacher (no prefix tokens in its blocks), student blocks 0, 1, 6–11 aligned
 * with teacher blocks 0, 1, 18–23: (1 − α)·CE (label smoothing 0.1) + α·T²·KL (batchmean, T = 1) +
 * β·w_fft · mean over the 8 pairs of the spectral loss on the patch grids, α = 0.9, β = 1, w_fft = 0.2.
 * AdamW lr 5e-4 · 512 / 512 (2 processes × 256), weight decay 0.05 (none on 1-D tensors), eps 1e-8; timm's
 * per-epoch cosine schedule (5 warm-up epochs from 1e-6, minimum 1e-5), stepped after each epoch, so epoch
 * e trains at the value for e − 1; 400 epochs for DeiT-Tiny, 500 for DeiT-Small.
 * Feature paths default to timm's names: `blocks.<i>` on both sides.
 */
export function spectralKdDeit(options: {
  student?: 'deit_tiny' | 'deit_small'; studentPath?: (block: number) => string; teacherPath?: (block: number) => string;
} = {}): Recipe {
  const student = options.student ?? 'deit_tiny';
  if (student !== 'deit_tiny' && student !== 'deit_small') throw new TorchError(`recipes.spectralKdDeit(): student must be 'deit_tiny' or 'deit_small', got ${String(student)}`);
  const studentPath = options.studentPath ?? ((i: number) => `blocks.${i}`);
  const teacherPath = options.teacherPath ?? ((i: number) => `blocks.${i}`);
  const sIds = [0, 1, 6, 7, 8, 9, 10, 11];
  const tIds = [0, 1, 18, 19, 20, 21, 22, 23];
  const epochs = student === 'deit_tiny' ? 400 : 500;
  const [alpha, beta, wFft, tau] = [0.9, 1, 0.2, 1];
  const lr = (5e-4 * 256 * 2) / 512;
  const [warmupEpochs, warmupLr, minLr] = [5, 1e-6, 1e-5];
  const timmCosine = (t: number) => (t < warmupEpochs
    ? warmupLr + (t * (lr - warmupLr)) / warmupEpochs
    : minLr + 0.5 * (lr - minLr) * (1 + Math.cos((Math.PI * t) / epochs)));
  return {
    name: 'spectralkd-deit',
    source: { repository: 'thy960112/SpectralKD', files: ['README.md', 'losses.py', 'main.py', 'engine.py', 'customized_forward.py'] },
    distiller: {
      terms: [
        terms.crossEntropy({ labelSmoothing: 0.1, weight: 1 - alpha }),
        terms.kd({ temperature: tau, weight: alpha }),
        terms.spectral({
          pairs: sIds.map((s, k) => [studentPath(s), teacherPath(tIds[k])]), layout: 'vit', prefixTokens: [1, 0],
          reduction: 'mean', weight: beta * wFft,
        }),
      ],
    },
    fit: {
      epochs,
      optimizer: (params) => new optim.AdamW(decayGroups(params, 0.05), { lr, eps: 1e-8, weightDecay: 0.05 }),
      scheduler: perEpoch(epochs, lr, (e) => timmCosine(Math.max(e - 1, 0))),
    },
    batchSize: 256,
    settings: {
      student, teacher: 'cait_s24_224', studentBlocks: sIds, teacherBlocks: tIds, alpha, beta, wFft, tau, labelSmoothing: 0.1,
      lr, weightDecay: 0.05, warmupEpochs, warmupLr, minLr, epochs, processes: 2, dropPath: 0,
    },
    notes: [
      "timm also exempts pos_embed and cls_token (3-D) from weight decay; the recipe's optimizer decays every tensor of two or more dims.",
      'DeiT augmentation (RandAugment, random erasing, repeated augmentation) and automatic mixed precision are not part of the recipe; the official run has no mixup and no model EMA.',
    ],
  };
}

// ---------------------------------------------------------------------------------------------- TinyBERT

export interface TinyBertOptions {
  /** 'intermediate' (step 1: hidden states and attention scores) or 'prediction' (step 2: soft cross entropy). */
  stage: 'intermediate' | 'prediction';
  /** Intermediate stage: module paths of the student's M + 1 hidden states (embeddings first) and the teacher's N + 1. */
  studentHidden?: string[];
  teacherHidden?: string[];
  /** Intermediate stage: module paths of the M student and N teacher attention scores [B, heads, L, L] (before the softmax, mask added). */
  studentAttention?: string[];
  teacherAttention?: string[];
  /** Prediction stage: the temperature (default 1, task_distill.py's). */
  temperature?: number;
  /** Default 10 (intermediate, the README's command) or 3 (prediction). */
  epochs?: number;
}

/**
 * TinyBERT's task distillation (Jiao et al. 2020), TinyBERT/task_distill.py with the README's commands.
 * Intermediate stage: Σ_j MSE(A_s^j, A_t^{(j+1)k−1}) over raw attention scores with entries ≤ −100 zeroed
 * (attentionLoss 'tinybert') + Σ_{i=0..M} MSE(W·h_s^i, h_t^{i·k}) with one shared projection W (fit_dense,
 * created at the first step when the widths differ), k = N/M; lr 5e-5 constant, 10 epochs. Prediction
 * stage: soft cross entropy of softmax(t/T) and softmax(s/T) averaged over B·C, no T², no hard-label term;
 * lr 3e-5, linear warm-up over the first 10% of the steps then linear decay, 3 epochs. Batch 32.
 */
export function tinybert(options: TinyBertOptions): Recipe {
  const stage = options?.stage;
  if (stage !== 'intermediate' && stage !== 'prediction') throw new TorchError(`recipes.tinybert(): stage must be 'intermediate' or 'prediction', got ${String(stage)}`);
  const epochs = requireNumber(options.epochs ?? (stage === 'intermediate' ? 10 : 3), 'epochs', 'tinybert', positiveInt, 'a positive integer');
  const source = { repository: 'huawei-noah/Pretrained-Language-Model', files: ['TinyBERT/task_distill.py', 'TinyBERT/README.md', 'TinyBERT/transformer/optimization.py'] };
  const notes = [
    'The official optimizer is BertAdam (Adam without bias correction, weight decay 0.01 except biases and LayerNorm, gradients clipped to norm 1 per group), which torchkd does not have: pass an optimizer to fit.',
    'The official loop skips the last incomplete batch (use dropLast: true).',
  ];
  if (stage === 'prediction') {
    const temperature = requireNumber(options.temperature ?? 1, 'temperature', 'tinybert', (v) => v > 0, 'positive');
    const warmup = 0.1;
    // BertAdam's warmup_linear at progress x = step / t_total.
    const factor = (step: number, total: number) => {
      const x = step / total;
      return x < warmup ? x / warmup : Math.max((x - 1) / (warmup - 1), 0);
    };
    return {
      name: 'tinybert-prediction', source,
      distiller: { terms: [terms.kd({ temperature, squareTemperature: false, divergence: 'crossEntropy', reduction: 'mean' })] },
      fit: { epochs, scheduler: perStep(factor), clipGradNorm: 1 },
      batchSize: 32,
      settings: { stage, temperature, lr: 3e-5, warmupProportion: warmup, schedule: 'warmup_linear', epochs, maxSeqLength: 128 },
      notes: [...notes, 'Regression tasks (STS-B) use MSE to the labels in this stage; the recipe covers classification.'],
    };
  }
  const { studentHidden, teacherHidden, studentAttention, teacherAttention } = options;
  for (const [name, list] of Object.entries({ studentHidden, teacherHidden, studentAttention, teacherAttention })) {
    if (!Array.isArray(list) || list.length === 0) throw new TorchError(`recipes.tinybert(): the intermediate stage needs ${name} (module paths)`);
  }
  const [sh, th, sa, ta] = [studentHidden, teacherHidden, studentAttention, teacherAttention] as string[][];
  const M = sa.length;
  const N = ta.length;
  if (N % M !== 0) throw new TorchError(`recipes.tinybert(): the teacher's ${N} layers must be a multiple of the student's ${M}`);
  if (sh.length !== M + 1 || th.length !== N + 1) {
    throw new TorchError(`recipes.tinybert(): expected ${M + 1} student and ${N + 1} teacher hidden states (embeddings included), got ${sh.length} and ${th.length}`);
  }
  const k = N / M;
  return {
    name: 'tinybert-intermediate', source,
    distiller: {
      terms: [
        terms.attention({ pairs: sa.map((p, j) => [p, ta[(j + 1) * k - 1]]), mode: 'tinybert', name: 'att' }),
        tinybertRepresentations(sh, th.filter((_, i) => i % k === 0), 'rep'),
      ],
    },
    fit: { epochs, clipGradNorm: 1 },
    batchSize: 32,
    settings: { stage, studentLayers: M, teacherLayers: N, attentionMap: '(j + 1)·k − 1', hiddenMap: 'i·k', scoreThreshold: -100, lr: 5e-5, schedule: 'none', epochs, maxSeqLength: 128 },
    notes: [...notes, 'The README trains this stage on the augmented data set (--aug_train).'],
  };
}

/** Σ_i MSE(W·s_i, t_i) over paired hidden states with one shared projection W (TinyBERT's fit_dense). */
function tinybertRepresentations(studentPaths: string[], teacherPaths: string[], name: string): LossTerm {
  const modules: Record<string, nn.Module> = {};
  const map = studentPaths.map((_, i) => ({ student: i, teacher: [i], weights: [1] }));
  const read = (features: Record<string, Tensor>, path: string, who: string) => {
    const f = features[path];
    if (!f) throw new TorchError(`${name}: no ${who} feature was captured at '${path}'`);
    return f;
  };
  return {
    name, modules, studentFeatures: studentPaths, teacherFeatures: teacherPaths,
    compute(ctx) {
      const s = studentPaths.map((p) => read(ctx.student.features, p, 'student'));
      const t = teacherPaths.map((p) => read(ctx.teachers[0].features, p, 'teacher'));
      const [sw, tw] = [s[0].size(-1), t[0].size(-1)];
      if (sw !== tw) modules.fitDense ??= new nn.Linear(sw, tw).to({ device: s[0].device, dtype: s[0].dtype });
      return hiddenStateLoss(s, t, { map, projection: modules.fitDense });
    },
  };
}

// ------------------------------------------------------------------------------------ Intra-Distillation

const INTRA = 'fe1ixxu/Intra-Distillation';

/**
 * Intra-Distillation on GLUE (Natural_Language_Understanding/run.sh and run_glue_no_trainer.py): K = 3
 * passes, the task cross entropy averaged over them + α · X-divergence summed over the batch (not averaged)
 * and divided by K, α = 0.5 (constant: the adaptive schedule only applies when α > 1; p = 6.67, q = 10).
 * Adamax lr 2e-4, no weight decay, linear decay to 0 over the run, 20 epochs, batch 32, sequences of 128.
 */
export function intraDistillationNlu(options: { alpha?: number; passes?: number; epochs?: number } = {}): Recipe {
  const alpha = requireNumber(options.alpha ?? 0.5, 'alpha', 'intraDistillationNlu', (v) => v >= 0, 'non-negative');
  const passes = requireNumber(options.passes ?? 3, 'passes', 'intraDistillationNlu', (v) => Number.isInteger(v) && v >= 2, 'an integer ≥ 2');
  const epochs = requireNumber(options.epochs ?? 20, 'epochs', 'intraDistillationNlu', positiveInt, 'a positive integer');
  const [p, q] = [6.67, 10];
  return {
    name: 'intra-distillation-nlu',
    source: { repository: INTRA, files: ['Natural_Language_Understanding/run.sh', 'Natural_Language_Understanding/run_glue_no_trainer.py'] },
    distiller: { terms: [terms.crossEntropy()], intra: { passes, alpha, p, q, adaptive: true, reduction: 'sum' } },
    fit: { epochs, scheduler: perStep((step, total) => Math.max(0, (total - step) / Math.max(1, total))) },
    batchSize: 32,
    settings: { passes, alpha, p, q, intraReduction: 'sum', optimizer: 'Adamax', lr: 2e-4, weightDecay: 0, schedule: 'linear, no warm-up', epochs, maxLength: 128 },
    notes: [
      'The official optimizer is torch.optim.Adamax (lr 2e-4), which torchkd does not have: pass an optimizer to fit.',
      'STS-B (regression) uses intraMse of the raw outputs instead of the X-divergence.',
    ],
  };
}

/**
 * Intra-Distillation on IWSLT'14 translation (Machine_Translation/scripts/train.sh with
 * fairseq/tasks/intra_distillation.py): K = 3 passes, fairseq's label-smoothed cross entropy (ε = 0.1)
 * averaged over the passes + α_t · X-divergence over the non-padding target tokens, α = 5 with the adaptive
 * schedule (p = 5, q = 10, 0 at update 0) over 50,000 updates. fairseq sums both over tokens and divides the
 * gradient by the number of target tokens, so both terms here are means over the real tokens. Adam betas
 * (0.9, 0.98), eps 1e-6, weight decay 1e-4, lr 5e-4 with inverse-square-root decay after 8,000 warm-up
 * updates from 0. The student returns logits [B, L, V] and the batches' targets are [B, L] with padding
 * `padIndex` (fairseq's 1).
 */
export function intraDistillationMt(options: { alpha?: number; passes?: number; maxSteps?: number; padIndex?: number; labelSmoothing?: number } = {}): Recipe {
  const alpha = requireNumber(options.alpha ?? 5, 'alpha', 'intraDistillationMt', (v) => v >= 0, 'non-negative');
  const passes = requireNumber(options.passes ?? 3, 'passes', 'intraDistillationMt', (v) => Number.isInteger(v) && v >= 2, 'an integer ≥ 2');
  const maxSteps = requireNumber(options.maxSteps ?? 50000, 'maxSteps', 'intraDistillationMt', positiveInt, 'a positive integer');
  const padIndex = requireNumber(options.padIndex ?? 1, 'padIndex', 'intraDistillationMt', Number.isInteger, 'an integer');
  const epsilon = requireNumber(options.labelSmoothing ?? 0.1, 'labelSmoothing', 'intraDistillationMt', (v) => v >= 0 && v < 1, 'in [0, 1)');
  const [p, q, warmup, lr] = [5, 10, 8000, 5e-4];
  return {
    name: 'intra-distillation-mt',
    source: { repository: INTRA, files: ['Machine_Translation/scripts/train.sh', 'Machine_Translation/fairseq/tasks/intra_distillation.py', 'Machine_Translation/fairseq/criterions/label_smoothed_cross_entropy.py'] },
    distiller: {
      terms: [fairseqLabelSmoothedCe(epsilon, padIndex)],
      intra: { passes, alpha, p, q, adaptive: true, reduction: 'mean', ignoreIndex: padIndex },
    },
    fit: {
      maxSteps,
      optimizer: (params) => new optim.AdamW(params, { lr, betas: [0.9, 0.98], eps: 1e-6, weightDecay: 1e-4 }),
      scheduler: perStep((step) => (step < warmup ? step / warmup : Math.sqrt(warmup / step))),
    },
    batchSize: 4096,
    settings: { passes, alpha, adaptiveAlpha: true, p, q, maxUpdates: maxSteps, labelSmoothing: epsilon, padIndex, lr, betas: [0.9, 0.98], eps: 1e-6, weightDecay: 1e-4, warmupUpdates: warmup, maxTokens: 4096, dropout: 0.3, attentionDropout: 0.1 },
    notes: [
      'batchSize is fairseq\'s --max-tokens 4096 (tokens per batch, not sentences).',
      "fairseq's Adam adds eps to √v before the bias correction (PyTorch's AdamW after it): the two differ only through eps = 1e-6.",
      'The architecture (transformer_iwslt_de_en), fp16 and the BLEU validation are not part of the recipe.',
    ],
  };
}

/**
 * fairseq's label_smoothed_nll_loss per real token: (1 − ε − ε/(V−1))·nll + ε/(V−1)·Σ_v −log p_v, which is
 * PyTorch's cross entropy with label smoothing ε·V/(V−1); averaged over the tokens whose target is not
 * padIndex. Logits [B, L, V], targets [B, L].
 */
function fairseqLabelSmoothedCe(epsilon: number, padIndex: number): LossTerm {
  return terms.custom('ce', (ctx) => {
    if (!ctx.target) throw new TorchError('ce: the translation recipe needs target tokens');
    const logits = ctx.student.logits;
    const V = logits.size(-1);
    return nn.functional.crossEntropy(logits.reshape([-1, V]), ctx.target.reshape([-1]), { ignoreIndex: padIndex, labelSmoothing: (epsilon * V) / (V - 1) });
  });
}

// ----------------------------------------------------------------------------------------- torchdistill

/**
 * torchdistill's KDLoss (torchdistill/losses/mid_level.py) in its official ImageNet configuration
 * (configs/official/ilsvrc2012/yoshitomo-matsubara/rrpr2020/kd-resnet18_from_resnet34.yaml):
 * α·CE + (1 − α)·T²·KL (batchmean), α = 0.5, T = 1 — torchdistill's α weights the cross entropy. With
 * α = 0 it returns the soft loss alone, KL (batchmean) without T². SGD lr 0.1, momentum 0.9, weight decay
 * 1e-4, MultiStepLR at epochs 30, 60, 90 (γ 0.1, stepped per epoch), 100 epochs, batch 256.
 */
export function torchdistillKd(options: { temperature?: number; alpha?: number } = {}): Recipe {
  const temperature = requireNumber(options.temperature ?? 1, 'temperature', 'torchdistillKd', (v) => v > 0, 'positive');
  const alpha = requireNumber(options.alpha ?? 0.5, 'alpha', 'torchdistillKd', (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const epochs = 100;
  const milestones = [30, 60, 90];
  const lossTerms = alpha === 0
    ? [terms.kd({ temperature, squareTemperature: false })]
    : [terms.crossEntropy({ weight: alpha }), terms.kd({ temperature, weight: 1 - alpha })];
  return {
    name: 'torchdistill-kd',
    source: { repository: 'yoshitomo-matsubara/torchdistill', files: ['torchdistill/losses/mid_level.py', 'configs/official/ilsvrc2012/yoshitomo-matsubara/rrpr2020/kd-resnet18_from_resnet34.yaml'] },
    distiller: { terms: lossTerms },
    fit: {
      epochs,
      optimizer: (params) => new optim.SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }),
      scheduler: perEpoch(epochs, 0.1, (e) => 0.1 * 0.1 ** milestones.filter((m) => e >= m).length),
    },
    batchSize: 256,
    settings: { temperature, alpha, reduction: 'batchmean', lr: 0.1, momentum: 0.9, weightDecay: 1e-4, milestones, gamma: 0.1, epochs },
    notes: ['Data augmentation (random resized crop, flip) and the architectures are not part of the recipe.'],
  };
}
