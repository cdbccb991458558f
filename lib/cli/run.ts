// `torchkd run`: torchrun's launcher for Node scripts. It starts --nproc-per-node processes of the script on
// this node with torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK,
// MASTER_ADDR, MASTER_PORT, TORCHELASTIC_*), prefixes each line they print with `[rankN]:`, and when one
// fails stops the others (SIGTERM, then SIGKILL after a grace period) and exits with the failure's code,
// restarting the whole group first when --max-restarts allows. Its own SIGINT / SIGTERM is forwarded to
// the ranks (a distributed `torchkd distill` then stops after the same step on every rank and writes its
// last checkpoint). No native code is loaded here.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';
import { UsageError, type Values } from './args';

/** Milliseconds a rank stopped after another's failure gets between SIGTERM and SIGKILL. */
const FAILURE_GRACE_MS = 5000;
/** ... and a rank that the launcher's own SIGINT / SIGTERM was forwarded to (time to write a checkpoint). */
const SIGNAL_GRACE_MS = 30_000;

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  maxRestarts: number;
  /** Run `program` itself instead of `node program`. */
  noNode: boolean;
  program: string;
  args: string[];
  /** Where the ranks' prefixed lines go (default process.stdout / process.stderr). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface RankFailure {
  rank: number;
  localRank: number;
  pid: number | undefined;
  /** Exit code; for a signal, 128 + its number (as a shell reports it). */
  code: number;
  signal: NodeJS.Signals | null;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/** Splits a child's stream into lines, each written with the prefix (a last partial line at the end). */
function prefixLines(stream: NodeJS.ReadableStream, prefix: string, out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() as string;
      if (lines.length > 0) out.write(lines.map((l) => `${prefix}${l}\n`).join(''));
    });
    stream.on('end', () => {
      if (pending !== '') out.write(`${prefix}${pending}\n`);
      resolve();
    });
  });
}

/** The environment of one rank, as torchrun's agent sets it. */
export function rankEnv(o: LaunchOptions, localRank: number, restartCount: number, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const worldSize = o.nnodes * o.nprocPerNode;
  const rank = o.nodeRank * o.nprocPerNode + localRank;
  const env: NodeJS.ProcessEnv = {
    ...base,
    RANK: String(rank), LOCAL_RANK: String(localRank), GROUP_RANK: String(o.nodeRank), ROLE_RANK: String(rank),
    ROLE_NAME: 'default', LOCAL_WORLD_SIZE: String(o.nprocPerNode), WORLD_SIZE: String(worldSize),
    ROLE_WORLD_SIZE: String(worldSize), GROUP_WORLD_SIZE: String(o.nnodes), MASTER_ADDR: o.masterAddr,
    MASTER_PORT: String(o.masterPort), TORCHELASTIC_RESTART_COUNT: String(restartCount),
    TORCHELASTIC_MAX_RESTARTS: String(o.maxRestarts), TORCHELASTIC_RUN_ID: base.TORCHELASTIC_RUN_ID ?? 'none',
    TORCHELASTIC_USE_AGENT_STORE: 'False',
  };
  if (o.nprocPerNode > 1 && base.OMP_NUM_THREADS === undefined) env.OMP_NUM_THREADS = '1';
  return env;
}

/** Ranks still running, killed if the launcher exits first. */
const running = new Set<ChildProcess>();

/** Signals a rank's process group (each rank has its own, so that what it started gets the signal too). */
function signalGroup(c: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(-c.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * One attempt: every local rank, until all exit 0 (null) or one fails (the first failure). `stop`'s
 * reason is the signal to forward to the ranks (the launcher got it).
 */
async function attempt(o: LaunchOptions, restartCount: number, stop: AbortSignal): Promise<RankFailure | null> {
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  const base = o.env ?? process.env;
  const children: ChildProcess[] = [];
  const drained: Promise<void>[] = [];
  let failure: RankFailure | null = null;
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stopAll = (signal: NodeJS.Signals = 'SIGTERM', grace = FAILURE_GRACE_MS) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) signalGroup(c, signal);
    killTimer = setTimeout(() => {
      for (const c of children) signalGroup(c, 'SIGKILL');
    }, grace);
    killTimer.unref();
  };
  const onStop = () => stopAll(stop.reason as NodeJS.Signals, SIGNAL_GRACE_MS);
  stop.addEventListener('abort', onStop);
  const exits = Array.from({ length: o.nprocPerNode }, (_, localRank) => {
    const rank = o.nodeRank * o.nprocPerNode + localRank;
    const [cmd, args] = o.noNode ? [o.program, o.args] : [process.execPath, [o.program, ...o.args]];
    const child = spawn(cmd, args, { env: rankEnv(o, localRank, restartCount, base), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.push(child);
    running.add(child);
    const prefix = `[rank${rank}]:`;
    drained.push(prefixLines(child.stdout as NodeJS.ReadableStream, prefix, stdout), prefixLines(child.stderr as NodeJS.ReadableStream, prefix, stderr));
    return new Promise<void>((resolve) => {
      child.on('error', (e) => {
        stderr.write(`${prefix} could not start ${cmd}: ${e.message}\n`);
        if (failure === null) failure = { rank, localRank, pid: child.pid, code: 1, signal: null };
        stopAll();
        resolve();
      });
      child.on('exit', (code, signal) => {
        running.delete(child);
        const status = code ?? 128 + (signal ? SIGNAL_NUMBERS[signal] ?? 0 : 0);
        if (status !== 0 && failure === null && !stopping) {
          failure = { rank, localRank, pid: child.pid, code: status, signal };
          stopAll();
        }
        resolve();
      });
    });
  });
  await Promise.all(exits);
  await Promise.all(drained);
  if (killTimer) clearTimeout(killTimer);
  stop.removeEventListener('abort', onStop);
  return failure;
}

/** Runs the group (restarting it up to maxRestarts times after a failure); returns the exit code. */
export async function launch(o: LaunchOptions): Promise<number> {
  const stderr = o.stderr ?? process.stderr;
  if (o.nprocPerNode > 1 && (o.env ?? process.env).OMP_NUM_THREADS === undefined) {
    stderr.write(`torchkd run: setting OMP_NUM_THREADS=1 for each of the ${o.nprocPerNode} processes (as torchrun does) to avoid overloading the system; set it yourself to tune\n`);
  }
  // The launcher's SIGINT (through o.signal) and SIGTERM go to the ranks, which get time to stop cleanly;
  // should the launcher exit anyway, the ranks are killed.
  const stop = new AbortController();
  const onSignal = () => stop.abort('SIGINT');
  const onTerm = () => stop.abort('SIGTERM');
  const onExit = () => {
    for (const c of running) signalGroup(c, 'SIGKILL');
  };
  o.signal?.addEventListener('abort', onSignal);
  process.on('SIGTERM', onTerm);
  process.on('exit', onExit);
  try {
    for (let restart = 0; ; restart++) {
      const failure = await attempt(o, restart, stop.signal);
      if (stop.signal.aborted) return stop.signal.reason === 'SIGTERM' ? 143 : 130;
      if (failure === null) return 0;
      const how = failure.signal ? `was killed by ${failure.signal}` : `exited with code ${failure.code}`;
      stderr.write(`torchkd run: rank ${failure.rank} (local rank ${failure.localRank}, pid ${failure.pid ?? '?'}) ${how}; the other ranks were stopped\n`);
      if (restart >= o.maxRestarts) return failure.code;
      stderr.write(`torchkd run: restarting the group (restart ${restart + 1} of ${o.maxRestarts})\n`);
    }
  } finally {
    o.signal?.removeEventListener('abort', onSignal);
    process.off('SIGTERM', onTerm);
    process.off('exit', onExit);
  }
}

/** A free TCP port on the master address (--standalone). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** --nproc-per-node: a count, or torchrun's cpu / gpu / auto (gpu needs CUDA; auto: GPUs if any, else CPUs). */
function nprocOf(value: string): number {
  if (/^\d+$/.test(value) && Number(value) > 0) return Number(value);
  if (value === 'cpu') return availableParallelism();
  if (value === 'gpu' || value === 'auto') {
    const torch = require('../torch') as typeof import('../torch');
    const gpus = torch.cuda.isAvailable() ? torch.cuda.deviceCount() : 0;
    if (value === 'gpu' && gpus === 0) throw new UsageError('--nproc-per-node gpu: CUDA is not available');
    return gpus > 0 ? gpus : availableParallelism();
  }
  throw new UsageError(`--nproc-per-node expects a positive integer, cpu, gpu or auto; got '${value}'`);
}

export async function runCommand(values: Values, signal: AbortSignal): Promise<number> {
  const v = values as { nprocPerNode: string; nnodes: number; nodeRank: number; masterAddr: string; masterPort: number;
    standalone?: boolean; maxRestarts: number; noNode?: boolean; rest: string[] };
  if (v.nodeRank >= v.nnodes) throw new UsageError(`--node-rank must be below --nnodes (${v.nnodes}), got ${v.nodeRank}`);
  if (v.standalone && v.nnodes !== 1) throw new UsageError('--standalone runs one node: drop --nnodes');
  const [program, ...args] = v.rest;
  return launch({
    nprocPerNode: nprocOf(v.nprocPerNode), nnodes: v.nnodes, nodeRank: v.nodeRank, masterAddr: v.masterAddr,
    masterPort: v.standalone ? await freePort(v.masterAddr) : v.masterPort, maxRestarts: v.maxRestarts,
    noNode: v.noNode ?? false, program, args, signal,
  });
}
