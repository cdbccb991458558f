// Helpers of the distributed tests: free loopback ports, `torchkd run` of a fixture, and the RESULT lines
// its ranks print.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
// @ts-expect-error plain ESM helper without types
import { torchPython } from '../scripts/python.mjs';

export const root = join(__dirname, '..');
export const fixtures = join(__dirname, 'fixtures', 'distributed');
export const cli = join(root, 'dist', 'cli.js');

/** Loopback only (architecture.md): gloo binds the interface named here. */
export const ENV = { ...process.env, GLOO_SOCKET_IFNAME: 'lo', TORCHKD_DEBUG: '' };

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export function python(): string {
  const p: string | null = torchPython();
  if (!p) throw new Error("no Python with the addon's torch (build/torchkd-libtorch.json); set TORCHKD_PYTHON");
  return p;
}

export interface RunOutput {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Each rank's RESULT line, parsed. */
  results: Record<number, unknown>;
  ms: number;
}

/** The RESULT <json> lines of a launcher's output ([rankN]:RESULT ...) or of one process (rank -1). */
export function parseResults(stdout: string): Record<number, unknown> {
  const results: Record<number, unknown> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(?:\[rank(\d+)\]:)?RESULT (.*)$/.exec(line);
    if (m) results[m[1] === undefined ? -1 : Number(m[1])] = JSON.parse(m[2]);
  }
  return results;
}

/** `torchkd run [flags] program args` (synchronously, with a timeout; `env` is added to ENV). */
export function launch(flags: string[], program: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): RunOutput {
  const started = Date.now();
  const r = spawnSync(process.execPath, [cli, 'run', ...flags, ...program], { cwd: fixtures, env: { ...ENV, ...env }, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, results: parseResults(r.stdout), ms: Date.now() - started };
}

/** Processes started together (each with its own environment), awaited; for groups that mix runtimes. */
export function together(procs: { cmd: string; args: string[]; env?: NodeJS.ProcessEnv }[], timeoutMs = 120_000): Promise<RunOutput[]> {
  return Promise.all(procs.map(({ cmd, args, env }) => new Promise<RunOutput>((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd: fixtures, env: { ...ENV, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, results: parseResults(stdout), ms: Date.now() - started });
    });
  })));
}
