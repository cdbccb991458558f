// The `demo`, `distill` and `spectral` commands (`text` is in text.ts): flags in, a summary on stdout.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as nn from '../nn';
import * as torch from '../torch';
import { TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { Generator, fashionMnist } from '../data';
import { atomicWrite } from '../data/idx';
import { ScriptModule, loadSafetensors, loadTorchScript } from '../io';
import { captureLayers } from '../distill/distiller';
import { selectLayers, spectralIntensity, type FeatureLayout, type SelectOptions } from '../distill/spectral';
import { readConfig, runConfig, type RunConfig } from '../train/config';
import { buildModel, loadWeights, readArch } from '../models/arch';
import type { ProgressMode } from '../train/progress';
import { UsageError, type Values } from './args';
import { formatTable, percent } from './table';
import { curvesFromLog, report } from './reporting';

// ---------------------------------------------------------------------------------------------- demo

/** Runs the demo; it prints its own table and paths unless --progress none, where only the paths are printed. */
export async function demoCommand(values: Values): Promise<number> {
  const { runDemo } = require('../demo') as typeof import('../demo');
  const v = values as { out: string; device: string; quick?: boolean; seeds?: number; labelled?: number; transfer?: number; test?: number;
    teacherEpochs?: number; teacherSamples?: number; studentEpochs?: number; studentWidth?: number; cacheDir?: string; seed: number; progress: ProgressMode };
  const result = await runDemo({
    out: v.out, device: v.device, quick: v.quick, seeds: v.seeds, labelled: v.labelled, transfer: v.transfer, test: v.test, teacherEpochs: v.teacherEpochs,
    teacherSamples: v.teacherSamples, studentEpochs: v.studentEpochs, studentWidth: v.studentWidth, cacheDir: v.cacheDir, seed: v.seed,
    progress: v.progress,
  });
  if (v.progress === 'none') console.log(`report:  ${result.reportPath}\nmetrics: ${result.metricsPath}`);
  return 0;
}

// ------------------------------------------------------------------------------------------- distill

/** The configuration file with the command line's overrides applied (--out is relative to the working directory). */
function configWithOverrides(values: Values): RunConfig {
  const config = readConfig(values.config as string);
  const v = values as { out?: string; epochs?: number; maxSteps?: number; seed?: number; device?: string; progress?: ProgressMode; resume?: boolean; distributed?: boolean };
  const c: RunConfig = { ...config };
  if (v.out !== undefined) c.outDir = resolve(v.out);
  if (v.epochs !== undefined) {
    c.epochs = v.epochs;
    delete c.maxSteps;
  }
  if (v.maxSteps !== undefined) {
    c.maxSteps = v.maxSteps;
    delete c.epochs;
  }
  if (v.seed !== undefined) c.seed = v.seed;
  if (v.device !== undefined) c.device = v.device;
  if (v.progress !== undefined) c.progress = v.progress;
  if (v.resume !== undefined) c.resume = v.resume;
  if (v.distributed !== undefined) c.distributed = v.distributed;
  return c;
}

export async function distillCommand(values: Values, signal: AbortSignal): Promise<number> {
  const path = values.config as string;
  const config = configWithOverrides(values);
  const baseDir = dirname(resolve(path));
  if (values.check) {
    const { validateConfig } = require('../train/config') as typeof import('../train/config');
    validateConfig(config, { baseDir });
    console.log(`${path}: valid configuration\n${JSON.stringify(config, null, 2)}`);
    return 0;
  }
  const r = await runConfig(config, { signal, baseDir });
  // Distributed: every rank has the same results; rank 0 reports them.
  if (r.rank !== 0) return r.fit.stopReason === 'cancelled' ? 130 : 0;
  const runName = config.name ?? 'student';
  const models = [...r.teachers.map((t, i) => ({ name: `teacher-${i}`, ...t })), { name: runName, ...r.student }];
  console.log(formatTable([['model', 'test accuracy', 'parameters', 'source'],
    ...models.map((m) => [m.name, percent(m.accuracy), String(m.parameters), m.source])]));
  if (r.spectral) console.log(`\nspectral selection: ${r.spectral.pairs.map(([s, t]) => `${s} <- ${t}`).join(', ')}`);
  const best = r.fit.best ? `best ${r.data.validation} accuracy ${percent(r.fit.best.metrics.accuracy)} at step ${r.fit.best.step}; ` : '';
  console.log(`\n${best}${r.fit.steps} steps (${r.fit.stopReason}), ${r.seconds.toFixed(1)} s${r.outDir ? `; files in ${r.outDir}` : ''}`);
  if (r.outDir) {
    const sel = config.spectralSelection;
    const page = await report.writeReport(r.outDir, {
      title: `torchkd distill: ${runName}`,
      subtitle: `${path}; ${r.data.labelled} labelled + ${r.data.transfer} transfer samples, test accuracy on ${r.data.test} samples`,
      table: { columns: ['model', 'test accuracy', 'parameters'], rows: models.map((m) => [m.name, m.accuracy, m.parameters]) },
      curves: [
        ...r.teacherFits.flatMap((f, i) => (f ? curvesFromLog(join(r.outDir as string, `teacher-${i}`, 'metrics.jsonl'), `teacher-${i}`) : [])),
        ...curvesFromLog(join(r.outDir, 'metrics.jsonl'), runName),
      ],
      spectral: r.spectral && sel ? [
        { model: 'teacher-0', layers: sel.teacherLayers, intensity: r.spectral.teacherProfile, selected: r.spectral.selected },
        { model: runName, layers: sel.studentLayers, intensity: r.spectral.studentProfile },
      ] : undefined,
    });
    console.log(`report: ${page}`);
  }
  if (r.fit.stopReason === 'cancelled') {
    console.log('cancelled: run again with --resume to continue from the last checkpoint');
    return 130;
  }
  return 0;
}

// ------------------------------------------------------------------------------------------ spectral

export interface SpectralOptions {
  model?: string;
  weights?: string;
  arch?: string;
  data: string;
  key?: string;
  layers: string[];
  samples?: number;
  layout?: 'auto' | FeatureLayout;
  select?: SelectOptions['strategy'];
  k?: number;
  out?: string;
  seed?: number;
  device?: string;
}

export interface SpectralReport {
  model: string;
  data: string;
  samples: number;
  layers: { name: string; shape: number[]; layout: FeatureLayout; intensity: number; selected: boolean }[];
  /** The intensity of each layer, in the order given. */
  profile: number[];
  /** Indices of the selected layers. */
  selected: number[];
  select: Required<SelectOptions>;
}

/** Inputs of the profile: Fashion-MNIST's test images, or a tensor of a safetensors file (uint8 scaled to [0, 1]). */
function loadInputs(data: string, key: string): Tensor {
  if (data === 'fashion-mnist') {
    const { images, labels } = fashionMnist({ split: 'test' });
    labels.dispose();
    try {
      return torch.tidy(() => images.to('float32').div(255).unsqueeze(1));
    } finally {
      images.dispose();
    }
  }
  if (!existsSync(data)) throw new UsageError(`--data: file not found: ${data} (give fashion-mnist or a safetensors file)`);
  const { tensors } = loadSafetensors(data);
  const x = tensors[key];
  try {
    if (!x) throw new TorchError(`${data} has no tensor '${key}' (it has ${Object.keys(tensors).join(', ') || 'none'}; see --key)`);
    if (x.ndim < 2) throw new TorchError(`${data}: '${key}' must have a batch axis, got shape [${x.shape.join(', ')}]`);
    return torch.tidy(() => {
      if (x.dtype !== 'uint8') return x.clone();
      const f = x.to('float32').div(255);
      return f.ndim === 3 ? f.unsqueeze(1) : f;
    });
  } finally {
    torch.dispose(tensors);
  }
}

function layoutOf(f: Tensor, layout: SpectralOptions['layout'], layer: string): { x: Tensor; layout: FeatureLayout } {
  const want = layout ?? 'auto';
  if (want !== 'auto') return { x: f, layout: want };
  if (f.ndim === 4) return { x: f, layout: 'BCHW' };
  if (f.ndim === 3) return { x: f, layout: 'NLH' };
  if (f.ndim === 2) return { x: f.unsqueeze(1), layout: 'NLH' };
  throw new TorchError(`layer '${layer}' gives a ${f.ndim}-D output [${f.shape.join(', ')}]; spectral profiles need [B, C], [B, L, H] or [B, C, H, W]`);
}

/**
 * The spectral profile of a model's layers on a seeded sample of the data (distill.spectralIntensity per
 * layer, distill.selectLayers over the profile); with `out`, also written to out/spectral.json and plotted
 * in out/spectral.svg.
 */
export async function spectralReport(o: SpectralOptions): Promise<SpectralReport> {
  const device = o.device ?? 'cpu';
  if (device.startsWith('cuda') && !torch.cuda.isAvailable()) throw new TorchError(`--device ${device}: CUDA is not available (run torchkd doctor)`);
  let model: nn.Module | ScriptModule;
  if (o.model) {
    model = loadTorchScript(o.model, { device }).eval();
  } else {
    const m = buildModel(readArch(o.arch as string));
    try {
      loadWeights(m, o.weights as string);
    } catch (e) {
      m.dispose();
      throw e;
    }
    model = m.to(device);
    for (const layer of o.layers) {
      try {
        m.getSubmodule(layer);
      } catch {
        const known = m.namedModules().map(([p]) => p).filter((p) => p !== '');
        m.dispose();
        throw new TorchError(`--layers: the model has no module '${layer}' (its modules: ${known.join(', ')})`);
      }
    }
  }
  try {
    const inputs = loadInputs(o.data, o.key ?? 'x');
    const n = Math.min(o.samples ?? 256, inputs.shape[0]);
    const rows = new Generator(o.seed ?? 0).permutation(inputs.shape[0]).slice(0, n);
    const sample = torch.tidy(() => inputs.indexSelect(0, torch.tensor(Int32Array.from(rows), { dtype: 'int64' })).to(device));
    inputs.dispose();
    let features: Tensor[];
    try {
      // tidy: a TorchScript model's other outputs are freed, the captured layers returned.
      features = torch.tidy(() => captureLayers(model, o.layers, sample));
    } finally {
      sample.dispose();
    }
    const layers = torch.tidy(() => features.map((f, i) => {
      const { x, layout } = layoutOf(f, o.layout, o.layers[i]);
      return { name: o.layers[i], shape: f.shape, layout, intensity: spectralIntensity(x, { layout }).intensity, selected: false };
    }));
    torch.dispose(features);
    const profile = layers.map((l) => l.intensity);
    const select = { strategy: o.select ?? 'top', k: o.k ?? 2 };
    const selected = selectLayers(profile, select);
    for (const i of selected) layers[i].selected = true;
    const result: SpectralReport = {
      model: o.model ?? `${o.weights} (${o.arch})`, data: o.data, samples: n, layers, profile, selected, select,
    };
    if (o.out) {
      mkdirSync(o.out, { recursive: true });
      atomicWrite(join(o.out, 'spectral.json'), `${JSON.stringify(result, null, 2)}\n`);
      atomicWrite(join(o.out, 'spectral.svg'), await report.spectralPlotSvg([{ model: result.model, layers: o.layers, intensity: profile, selected }]));
    }
    return result;
  } finally {
    model.dispose();
  }
}

export async function spectralCommand(values: Values): Promise<number> {
  const o = values as unknown as SpectralOptions;
  if ((o.model === undefined) === (o.weights === undefined)) throw new UsageError('give --model FILE (TorchScript), or --weights FILE with --arch FILE');
  if (o.weights !== undefined && o.arch === undefined) throw new UsageError('--weights needs --arch FILE (the architecture, arch.json)');
  if (o.model !== undefined && o.arch !== undefined) throw new UsageError('--arch goes with --weights, not with --model (a TorchScript file carries its architecture)');
  const r = await spectralReport(o);
  console.log(formatTable([['layer', 'shape', 'intensity', 'selected'],
    ...r.layers.map((l) => [l.name, `[${l.shape.join(', ')}]`, l.intensity.toPrecision(5), l.selected ? 'yes' : ''])]));
  console.log(`\n${r.samples} samples of ${r.data}; selection: ${r.select.strategy}, k = ${r.select.k}${o.out ? `; wrote ${join(o.out, 'spectral.json')} and spectral.svg` : ''}`);
  return 0;
}
