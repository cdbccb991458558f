// torchkd's own PyTorch: a Python venv outside the clone with torch==2.13.0+cpu (3.5× faster than Debian's
// libtorch 1.13 on a KD training step), used when nothing else is configured: no LIBTORCH and no python3
// that imports torch. `npm test` and `npm run demo` set it up through scripts/setup.mjs; by hand:
//   node scripts/venv.mjs [--dev]      creates or updates it, prints its python
// --dev adds what the tests compare against (transformers, tokenizers, safetensors).
// The venv lives in $TORCHKD_HOME (default ~/.cache/torchkd). pip's own configuration (index-url,
// extra-index-url, find-links) is respected; PyTorch's CPU index is added for the +cpu build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const MANAGED_TORCH = '2.13.0+cpu';
const CPU_INDEX = 'https://download.pytorch.org/whl/cpu';
const RUNTIME = [`torch==${MANAGED_TORCH}`, 'numpy'];
const DEV = ['transformers==5.18.0', 'tokenizers', 'safetensors'];

export function torchkdHome() {
  return process.env.TORCHKD_HOME || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'torchkd');
}

export function managedVenvDir() {
  return join(torchkdHome(), `venv-torch-${MANAGED_TORCH}`);
}

export function managedVenvPython() {
  return join(managedVenvDir(), 'bin', 'python');
}

/** What the venv was installed with, so that a second call only checks. */
function stampOf(dev) {
  return JSON.stringify({ packages: [...RUNTIME, ...(dev ? DEV : [])] });
}

/**
 * Creates (or completes) the venv. Returns its python, or throws with pip's own message when pip cannot
 * install torch (no network and no local index, an unsupported Python...).
 */
export function ensureManagedVenv({ dev = false, log = console.log, quiet = false, python: basePython = 'python3' } = {}) {
  const dir = managedVenvDir();
  const python = managedVenvPython();
  const stampPath = join(dir, '.torchkd-packages');
  const want = stampOf(dev);
  if (existsSync(stampPath)) {
    const have = readFileSync(stampPath, 'utf8');
    if (have === want || (!dev && have === stampOf(true))) return python;
  }
  const stdio = quiet ? ['ignore', 'ignore', 'pipe'] : ['ignore', 'inherit', 'pipe'];
  if (!existsSync(python)) {
    log(`creating torchkd's PyTorch venv in ${dir}`);
    mkdirSync(torchkdHome(), { recursive: true });
    // Built beside its final place and renamed, so that an interrupted run leaves no half venv behind.
    const tmp = `${dir}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    run(basePython, ['-m', 'venv', tmp], stdio);
    renameSync(tmp, dir);
  }
  const packages = [...RUNTIME, ...(dev ? DEV : [])];
  log(`pip install ${packages.join(' ')}`);
  const args = ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--extra-index-url', CPU_INDEX, ...packages];
  // A machine without internet but with local indexes would otherwise retry the unreachable index for
  // every package (minutes); PIP_RETRIES set by the user wins.
  if (!process.env.PIP_RETRIES) args.splice(4, 0, '--retries', '1');
  run(python, args, stdio);
  writeFileSync(stampPath, want);
  return python;
}

function run(cmd, args, stdio) {
  const r = spawnSync(cmd, args, { stdio, encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const err = (r.stderr || '').split('\n').filter((l) => /error/i.test(l)).slice(-3).join('\n');
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} ... failed (exit ${r.status})${err ? `:\n${err}` : ''}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const python = process.env.TORCHKD_VENV_PYTHON || 'python3';
    console.log(ensureManagedVenv({ dev: process.argv.includes('--dev'), python, log: (m) => console.error(`[venv] ${m}`) }));
  } catch (e) {
    console.error(`[venv] ${e.message}`);
    process.exit(1);
  }
}
