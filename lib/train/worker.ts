// Runs a training job in a worker thread (Electron and UI use): the main thread's event loop stays free,
// progress arrives as events, and the run can be cancelled. The job is a function exported by a module:
//   export async function train(args, { onEvent, signal }) { ... return result; }
// It typically calls train.fit({ ..., onEvent, signal }) so that trainer events reach the main thread.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { join, resolve } from 'node:path';
import { TorchError } from '../torch/errors';
import type { TrainerEvent } from './trainer';
import type { RunConfig, RunResult } from './config';

export interface WorkerJob {
  /** Path of a CommonJS or ES module (resolved against the current directory when relative). */
  module: string;
  /** The exported function to call (default 'default', then 'run'). */
  export?: string;
  /** Structured-cloneable argument passed to the function. */
  args?: unknown;
}

/** What the job's function receives besides its argument. */
export interface WorkerContext {
  onEvent: (event: TrainerEvent | { type: string; [k: string]: unknown }) => void;
  signal: AbortSignal;
}

export interface WorkerRun<R> {
  /** Settles with the job's return value, or rejects with its error (or if the worker dies). */
  result: Promise<R>;
  /** Asks the job to stop (its signal aborts; a trainer finishes the current step and checkpoints). */
  cancel(): void;
  /** Stops the worker at once (no checkpoint); the result rejects. */
  terminate(): Promise<void>;
}

type Message =
  | { type: 'event'; event: TrainerEvent }
  | { type: 'result'; value: unknown }
  | { type: 'error'; message: string; stack?: string };

/** Starts `job` in a new worker thread; events are passed to onEvent on the main thread. */
export function runInWorker<R = unknown>(job: WorkerJob, options: { onEvent?: (event: TrainerEvent) => void } = {}): WorkerRun<R> {
  if (!job || typeof job.module !== 'string') throw new TorchError('runInWorker(): job.module must be a module path');
  const worker = new Worker(__filename, { workerData: { torchkdJob: { ...job, module: resolve(job.module) } } });
  let settled = false;
  const result = new Promise<R>((resolveResult, reject) => {
    worker.on('message', (m: Message) => {
      if (m.type === 'event') options.onEvent?.(m.event);
      else if (m.type === 'result') {
        settled = true;
        resolveResult(m.value as R);
      } else if (m.type === 'error') {
        settled = true;
        const e = new TorchError(m.message);
        if (m.stack) e.stack = m.stack;
        reject(e);
      }
    });
    worker.on('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new TorchError(`runInWorker(): the worker exited with code ${code} before finishing`));
    });
  });
  result.catch(() => undefined);
  return {
    result,
    cancel: () => worker.postMessage({ type: 'cancel' }),
    terminate: async () => {
      await worker.terminate();
    },
  };
}

/** runConfig (a `torchkd distill --config` run) in a worker thread; relative paths resolve against the cwd. */
export function runConfigInWorker(config: RunConfig, options: { onEvent?: (event: TrainerEvent) => void } = {}): WorkerRun<RunResult> {
  return runInWorker<RunResult>({ module: join(__dirname, 'config.js'), export: 'runConfig', args: config }, options);
}

// tsc turns import() into require() under CommonJS; this keeps a real dynamic import for ES modules.
const importModule = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<Record<string, unknown>>;

async function workerMain(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const job = (workerData as { torchkdJob: WorkerJob }).torchkdJob;
  const controller = new AbortController();
  port.on('message', (m: { type: string }) => {
    if (m?.type === 'cancel') controller.abort();
  });
  try {
    const mod = job.module.endsWith('.mjs') ? await importModule(`file://${job.module}`) : (require(job.module) as Record<string, unknown>);
    const name = job.export ?? ('default' in mod ? 'default' : 'run');
    const fn = mod[name];
    if (typeof fn !== 'function') throw new TorchError(`runInWorker(): ${job.module} exports no function '${name}'`);
    const context: WorkerContext = { onEvent: (event) => port.postMessage({ type: 'event', event }), signal: controller.signal };
    const value = await (fn as (args: unknown, ctx: WorkerContext) => unknown)(job.args, context);
    port.postMessage({ type: 'result', value });
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    port.postMessage({ type: 'error', message: err.message, stack: err.stack });
  }
  port.close();
}

if (!isMainThread && (workerData as { torchkdJob?: WorkerJob } | undefined)?.torchkdJob !== undefined) void workerMain();
