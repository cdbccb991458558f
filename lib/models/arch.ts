// Built-in architectures by name, described by JSON (the `arch` of a run configuration, or an arch.json
// next to a safetensors file): an MLP and a CNN for images, and the two text classifiers.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as nn from '../nn';
import * as torch from '../torch';
import { argError, kindOf, objectArg, TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { loadSafetensors, saveSafetensors } from '../io';
import { checkPath } from '../io/paths';
import { atomicWrite } from '../data/idx';
import { FastText, TextTransformer } from './text';
import { Validator } from '../util/validate';

/**
 * `mlp`: Flatten, then per hidden width a block Linear → ReLU (→ Dropout) at `layers.i`, and the `head`.
 * inputSize defaults to the data's sample size, numClasses to the data's classes.
 */
export interface MlpArch {
  name: 'mlp';
  inputSize?: number;
  /** Hidden widths (default [256, 128]). */
  hidden?: number[];
  numClasses?: number;
  dropout?: number;
}

/**
 * `cnn`: per channel count a block Conv2d 3×3 (padding 1) → BatchNorm2d (optional) → ReLU → MaxPool2d 2
 * at `features.i` (BCHW features), then AdaptiveAvgPool2d to 4×4 (`pool`), Flatten, an optional hidden
 * Linear → ReLU (→ Dropout) at `hidden`, and the `head`.
 */
export interface CnnArch {
  name: 'cnn';
  /** Input channels (default: the data's; 1 for Fashion-MNIST). */
  inChannels?: number;
  /** Output channels of each block (default [32, 64]). */
  channels?: number[];
  /** Width of the hidden layer before the head (default 128; 0: none). */
  hidden?: number;
  numClasses?: number;
  dropout?: number;
  /** BatchNorm after each convolution (default true). */
  batchNorm?: boolean;
}

export type TextTransformerArch = { name: 'textTransformer' } & ConstructorParameters<typeof TextTransformer>[0];
export type FastTextArch = { name: 'fastText' } & ConstructorParameters<typeof FastText>[0];

export type ArchConfig = MlpArch | CnnArch | TextTransformerArch | FastTextArch;

export const ARCH_NAMES = ['mlp', 'cnn', 'textTransformer', 'fastText'] as const;

/** What the data tells an architecture when the config leaves sizes out. */
export interface DataShape {
  /** One sample's shape, e.g. [1, 28, 28]. */
  sampleShape: number[];
  numClasses: number;
}

class Mlp extends nn.Module {
  readonly flatten = this.registerModule('flatten', new nn.Flatten());
  readonly layers: nn.Sequential;
  readonly head: nn.Linear;
  constructor(inputSize: number, hidden: number[], numClasses: number, dropout: number) {
    super();
    const blocks: nn.Module[] = [];
    let width = inputSize;
    for (const h of hidden) {
      const parts: nn.Module[] = [new nn.Linear(width, h), new nn.ReLU()];
      if (dropout > 0) parts.push(new nn.Dropout(dropout));
      blocks.push(new nn.Sequential(...parts));
      width = h;
    }
    this.layers = this.registerModule('layers', new nn.Sequential(...blocks));
    this.head = this.registerModule('head', new nn.Linear(width, numClasses));
  }
  forward(x: Tensor): Tensor {
    return this.head.call(this.layers.call(this.flatten.call(x)) as Tensor);
  }
}

class Cnn extends nn.Module {
  readonly features: nn.Sequential;
  readonly pool: nn.AdaptiveAvgPool2d;
  readonly flatten: nn.Flatten;
  readonly hidden: nn.Sequential | null;
  readonly head: nn.Linear;
  constructor(a: Required<Omit<CnnArch, 'name'>>) {
    super();
    const blocks: nn.Module[] = [];
    let c = a.inChannels;
    for (const out of a.channels) {
      const parts: nn.Module[] = [new nn.Conv2d(c, out, 3, { padding: 1 })];
      if (a.batchNorm) parts.push(new nn.BatchNorm2d(out));
      parts.push(new nn.ReLU(), new nn.MaxPool2d(2));
      blocks.push(new nn.Sequential(...parts));
      c = out;
    }
    this.features = this.registerModule('features', new nn.Sequential(...blocks));
    this.pool = this.registerModule('pool', new nn.AdaptiveAvgPool2d([4, 4]));
    this.flatten = this.registerModule('flatten', new nn.Flatten());
    let width = c * 16;
    if (a.hidden > 0) {
      const parts: nn.Module[] = [new nn.Linear(width, a.hidden), new nn.ReLU()];
      if (a.dropout > 0) parts.push(new nn.Dropout(a.dropout));
      this.hidden = this.registerModule('hidden', new nn.Sequential(...parts));
      width = a.hidden;
    } else {
      this.hidden = this.registerModule('hidden', null);
    }
    this.head = this.registerModule('head', new nn.Linear(width, a.numClasses));
  }
  forward(x: Tensor): Tensor {
    let h = this.flatten.call(this.pool.call(this.features.call(x) as Tensor));
    if (this.hidden) h = this.hidden.call(h) as Tensor;
    return this.head.call(h);
  }
}

/** Validates an architecture description at `path`; sizes the data provides may be left out. */
export function checkArch(v: Validator, value: unknown, path: string): ArchConfig | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return v.fail(path, `must be an object like {"name": "mlp", ...}, got ${JSON.stringify(value)}`);
  const name = v.oneOf((value as { name?: unknown }).name, `${path}.name`, ARCH_NAMES);
  if (name === undefined) return undefined;
  const int = (o: Record<string, unknown>, k: string, min = 1) => v.optional(o, k, path, (x, p) => v.number(x, p, { integer: true, min }));
  const dropout = (o: Record<string, unknown>) => v.optional(o, 'dropout', path, (x, p) => v.number(x, p, { min: 0, max: 0.99 }));
  const widths = (o: Record<string, unknown>, k: string) => v.optional(o, k, path, (x, p) => {
    const a = v.array(x, p);
    if (!a) return undefined;
    a.forEach((w, i) => v.number(w, `${p}[${i}]`, { integer: true, min: 1 }));
    return a as number[];
  });
  const before = v.errors.length;
  let o: Record<string, unknown> | undefined;
  switch (name) {
    case 'mlp':
      o = v.object(value, path, ['name', 'inputSize', 'hidden', 'numClasses', 'dropout']);
      if (o) { int(o, 'inputSize'); widths(o, 'hidden'); int(o, 'numClasses'); dropout(o); }
      break;
    case 'cnn':
      o = v.object(value, path, ['name', 'inChannels', 'channels', 'hidden', 'numClasses', 'dropout', 'batchNorm']);
      if (o) {
        int(o, 'inChannels'); widths(o, 'channels'); int(o, 'hidden', 0); int(o, 'numClasses'); dropout(o);
        v.optional(o, 'batchNorm', path, (x, p) => v.boolean(x, p));
        if (Array.isArray(o.channels) && o.channels.length === 0) v.fail(`${path}.channels`, 'must list at least one block');
      }
      break;
    case 'textTransformer':
      o = v.object(value, path, ['name', 'vocabSize', 'numClasses', 'dim', 'layers', 'heads', 'ffDim', 'maxLength', 'dropout']);
      if (o) {
        v.required(o, 'vocabSize', path, 'the vocabulary size');
        for (const k of ['vocabSize', 'numClasses', 'dim', 'layers', 'heads', 'ffDim', 'maxLength']) int(o, k);
        dropout(o);
        if (typeof o.dim === 'number' && typeof o.heads === 'number' && o.dim % o.heads !== 0) v.fail(`${path}.heads`, `must divide dim (${o.dim})`);
      }
      break;
    case 'fastText':
      o = v.object(value, path, ['name', 'vocabSize', 'numClasses', 'dim', 'bigramBuckets', 'dropout']);
      if (o) {
        v.required(o, 'vocabSize', path, 'the vocabulary size');
        for (const k of ['vocabSize', 'numClasses', 'dim']) int(o, k);
        int(o, 'bigramBuckets', 0);
        dropout(o);
      }
      break;
  }
  return v.errors.length === before ? (value as ArchConfig) : undefined;
}

/** An architecture with every size filled in (from the data where the description leaves them out). */
export function resolveArch(arch: ArchConfig, data?: DataShape): ArchConfig {
  objectArg('buildModel', 'arch', arch);
  if (data !== undefined) objectArg('buildModel', 'data', data);
  const need = (k: string, value: number | undefined): number => {
    if (value === undefined) throw new TorchError(`buildModel(): architecture '${arch.name}' needs ${k} (no data to infer it from)`);
    return value;
  };
  const classes = arch.numClasses ?? need('numClasses', data?.numClasses);
  switch (arch.name) {
    case 'mlp':
      return { name: 'mlp', inputSize: arch.inputSize ?? need('inputSize', data ? data.sampleShape.reduce((a, b) => a * b, 1) : undefined),
        hidden: arch.hidden ?? [256, 128], numClasses: classes, dropout: arch.dropout ?? 0 };
    case 'cnn': {
      if (data && data.sampleShape.length !== 3) throw new TorchError(`buildModel(): 'cnn' needs image samples [C, H, W], the data's are [${data.sampleShape.join(', ')}]`);
      return { name: 'cnn', inChannels: arch.inChannels ?? need('inChannels', data?.sampleShape[0]), channels: arch.channels ?? [32, 64],
        hidden: arch.hidden ?? 128, numClasses: classes, dropout: arch.dropout ?? 0, batchNorm: arch.batchNorm ?? true };
    }
    case 'textTransformer': {
      const m = new TextTransformer({ ...arch, numClasses: classes });
      const config = m.config;
      m.dispose();
      return { name: 'textTransformer', ...config };
    }
    case 'fastText':
      return { name: 'fastText', vocabSize: arch.vocabSize, numClasses: classes, dim: arch.dim ?? 32, bigramBuckets: arch.bigramBuckets ?? 0, dropout: arch.dropout ?? 0 };
  }
}

/** Builds a model from an architecture description (sizes it leaves out come from `data`). */
export function buildModel(arch: ArchConfig, data?: DataShape): nn.Module {
  const a = resolveArch(arch, data);
  switch (a.name) {
    case 'mlp':
      return new Mlp(a.inputSize as number, a.hidden as number[], a.numClasses as number, a.dropout as number);
    case 'cnn':
      return new Cnn(a as Required<CnnArch>);
    case 'textTransformer':
      return new TextTransformer(a);
    case 'fastText':
      return new FastText(a);
  }
}

/** Reads and validates an arch.json file. */
export function readArch(path: string): ArchConfig {
  checkPath('readArch', path);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TorchError(`cannot read the architecture ${path}: ${(e as Error).message}`);
  }
  const v = new Validator();
  const arch = checkArch(v, json, 'arch');
  v.throwIfAny(`${path}: invalid architecture`);
  return arch as ArchConfig;
}

/** Writes dir/model.safetensors (the state_dict) and dir/arch.json, which readArch / loadWeights read back. */
export function saveModel(dir: string, model: nn.Module, arch: ArchConfig): void {
  checkPath('saveModel', dir);
  if (!(model instanceof nn.Module)) argError('saveModel', `model must be an nn.Module, got ${kindOf(model)}`);
  objectArg('saveModel', 'arch', arch);
  mkdirSync(dir, { recursive: true });
  torch.tidy(() => saveSafetensors(join(dir, 'model.safetensors'), model.stateDict()));
  atomicWrite(join(dir, 'arch.json'), `${JSON.stringify(arch, null, 2)}\n`);
}

/**
 * Loads safetensors weights into a model: a plain state_dict, or a torchkd training checkpoint (its
 * `student.`-prefixed tensors). Keys and shapes must match exactly.
 */
export function loadWeights(model: nn.Module, path: string): void {
  const { tensors, metadata } = loadSafetensors(path);
  try {
    const checkpoint = metadata.format?.startsWith('torchkd-checkpoint');
    const sd: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(tensors)) {
      if (!checkpoint) sd[k] = t;
      else if (k.startsWith('student.')) sd[k.slice('student.'.length)] = t;
    }
    try {
      torch.noGrad(() => model.loadStateDict(sd));
    } catch (e) {
      // loadStateDict lists every mismatch on its own line: keep the first two.
      const lines = (e as Error).message.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      const shown = lines.slice(0, 3).join(' ');
      throw new TorchError(`cannot load ${path} into the model (wrong architecture?): ${shown}${lines.length > 3 ? ` ... (${lines.length - 3} more)` : ''}`);
    }
  } finally {
    torch.dispose(tensors);
  }
}
