// Training checkpoints: one safetensors file (written atomically: temporary file + rename) holding the
// modules' state_dicts, the optimizer's state tensors and the RNG states, with everything else (optimizer
// hyperparameters, scheduler, grad scaler, trainer position) as JSON in the file's metadata. A write that
// was killed midway leaves its temporary file (up to the checkpoint's size): the next save or load of the
// same path removes it.
import type * as nn from '../nn';
import * as torch from '../torch';
import { formatValue, TorchError } from '../torch/errors';
import type { Tensor } from '../torch/tensor';
import { loadSafetensors, removeStaleTemps, saveSafetensors } from '../io';
import { checkPath } from '../io/paths';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer';
import type { SchedulerStateDict } from '../optim/lrScheduler';

const FORMAT = 'torchkd-checkpoint/1';

export interface CheckpointParts {
  /** Modules by prefix (e.g. 'student', 'term.hidden.proj0'). */
  modules: Record<string, nn.Module>;
  optimizer?: Optimizer;
  scheduler?: { stateDict(): SchedulerStateDict; loadStateDict(s: SchedulerStateDict): void };
  scaler?: { stateDict(): object; loadStateDict(s: never): void };
  /** Also save / restore the generator of this CUDA device. */
  cudaDevice?: number;
}

function checkParts(op: string, path: unknown, parts: unknown): void {
  checkPath(op, path);
  const p = parts as CheckpointParts | null;
  if (p === null || typeof p !== 'object' || p.modules === null || typeof p.modules !== 'object') {
    throw new TorchError(`${op}(): parts must be { modules: { prefix: nn.Module, ... }, optimizer?, scheduler?, scaler? }, got ${formatValue(parts)}`);
  }
}

/** A metadata field of a checkpoint as JSON; a damaged one is a TorchError (ERR_IO). */
function parseJson(path: string, key: string, text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TorchError(`loadCheckpoint(): ${path}: the ${key} metadata is not valid JSON (${(e as Error).message})`, { op: 'loadCheckpoint', code: 'ERR_IO' });
  }
}

type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** Writes a checkpoint; `state` is the caller's JSON (trainer position, metrics). */
export function saveCheckpoint(path: string, parts: CheckpointParts, state: JsonValue): void {
  checkParts('saveCheckpoint', path, parts);
  removeStaleTemps(path);
  const tensors: Record<string, Tensor> = {};
  const owned: Tensor[] = [];
  try {
    for (const [prefix, m] of Object.entries(parts.modules)) {
      for (const [k, t] of Object.entries(m.stateDict())) {
        owned.push(t);
        tensors[`${prefix}.${k}`] = t;
      }
    }
    let optimizer: JsonValue = null;
    if (parts.optimizer) {
      const sd = parts.optimizer.stateDict();
      const scalars: Record<string, Record<string, JsonValue>> = {};
      for (const [idx, s] of sd.state) {
        scalars[idx] = {};
        for (const [name, v] of Object.entries(s)) {
          if (v !== null && typeof v === 'object') {
            owned.push(v);
            tensors[`optimizer.${idx}.${name}`] = v;
          } else scalars[idx][name] = v;
        }
      }
      optimizer = { scalars, paramGroups: sd.param_groups as unknown as JsonValue };
    }
    const cpuRng = torch.getRngState();
    owned.push(cpuRng);
    tensors['rng.cpu'] = cpuRng;
    if (parts.cudaDevice !== undefined) {
      const cudaRng = torch.cuda.getRngState(parts.cudaDevice);
      owned.push(cudaRng);
      tensors['rng.cuda'] = cudaRng;
    }
    saveSafetensors(path, tensors, {
      metadata: {
        format: FORMAT,
        optimizer: JSON.stringify(optimizer),
        scheduler: JSON.stringify(parts.scheduler?.stateDict() ?? null),
        scaler: JSON.stringify(parts.scaler?.stateDict() ?? null),
        state: JSON.stringify(state),
      },
    });
  } finally {
    owned.forEach((t) => t.dispose());
  }
}

/** Restores a checkpoint into the parts (modules, optimizer, scheduler, scaler, RNG) and returns its state. */
export function loadCheckpoint(path: string, parts: CheckpointParts): JsonValue {
  checkParts('loadCheckpoint', path, parts);
  removeStaleTemps(path);
  const { tensors, metadata } = loadSafetensors(path);
  try {
    if (metadata.format !== FORMAT) throw new TorchError(`loadCheckpoint(): ${path} is not a torchkd checkpoint (format ${formatValue(metadata.format ?? null)})`);
    for (const [prefix, m] of Object.entries(parts.modules)) {
      const sd: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(tensors)) if (k.startsWith(`${prefix}.`)) sd[k.slice(prefix.length + 1)] = t;
      torch.noGrad(() => m.loadStateDict(sd));
    }
    const optimizer = parseJson(path, 'optimizer', metadata.optimizer) as { scalars: Record<string, Record<string, number | null>>; paramGroups: OptimizerStateDict['param_groups'] } | null;
    if (parts.optimizer && optimizer) {
      const state: OptimizerStateDict['state'] = new Map();
      for (const [idx, scalars] of Object.entries(optimizer.scalars)) state.set(Number(idx), { ...scalars });
      for (const [k, t] of Object.entries(tensors)) {
        const m = /^optimizer\.(\d+)\.(.+)$/.exec(k);
        if (m) {
          if (!state.has(Number(m[1]))) state.set(Number(m[1]), {});
          (state.get(Number(m[1])) as Record<string, Tensor>)[m[2]] = t;
        }
      }
      parts.optimizer.loadStateDict({ state, param_groups: optimizer.paramGroups });
    }
    const scheduler = parseJson(path, 'scheduler', metadata.scheduler) as SchedulerStateDict | null;
    if (parts.scheduler && scheduler) parts.scheduler.loadStateDict(scheduler);
    const scaler = parseJson(path, 'scaler', metadata.scaler) as never;
    if (parts.scaler && scaler) parts.scaler.loadStateDict(scaler);
    torch.setRngState(tensors['rng.cpu']);
    if (parts.cudaDevice !== undefined && tensors['rng.cuda']) torch.cuda.setRngState(tensors['rng.cuda'], parts.cudaDevice);
    return parseJson(path, 'state', metadata.state) as JsonValue;
  } finally {
    torch.dispose(tensors);
  }
}
