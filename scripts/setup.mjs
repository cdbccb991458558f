// Installs what a fresh Debian 12 machine lacks, then the npm dependencies. Idempotent and quick when
// everything is in place. Run by `npm test` (with --dev), `npm run bench` and `npm run demo`.
//   - libtorch: the one the user configured (LIBTORCH, or a python3 that imports torch) is used as is.
//     Otherwise torchkd sets up its own venv with torch==2.13.0+cpu (scripts/venv.mjs; --dev adds the
//     Python packages the tests compare against). When pip cannot install it, or with --system-libtorch,
//     Debian's libtorch-dev is used, with libopenblas0-openmp (a fast BLAS for it) and python3-torch (the
//     same build in Python: the parity reference).
//   - apt packages: cmake, g++, ninja, dataset-fashion-mnist (the IDX files data.fashionMnist reads); with
//     --dev also chromium (the headless browser the report tests open their HTML in, via playwright-core);
//   - npm dependencies (npm ci) when node_modules is missing or older than package-lock.json.
// Not root: prints the exact apt-get command instead and stops.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userLibtorch } from './libtorch.mjs';
import { ensureManagedVenv } from './venv.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const dev = args.has('--dev');
const log = (m) => quiet || console.log(`[setup] ${m}`);

const SYSTEM_LIBTORCH = ['libtorch-dev', 'libopenblas0-openmp', 'python3-torch'];

/** Installs the Debian packages of `wanted` that are missing (checked by dpkg, or by a file it provides). */
function installDebianPackages(wanted) {
  if (!existsSync('/usr/bin/dpkg-query')) return;
  const byFile = { chromium: '/usr/bin/chromium' };
  const missing = wanted.filter((pkg) => {
    if (byFile[pkg]) return !existsSync(byFile[pkg]);
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`[setup] missing Debian packages: ${missing.join(', ')}. Run as root:\n  ${command}`);
    process.exit(1);
  }
  log(`installing ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const stdio = quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit';
  execFileSync('apt-get', ['update', '-qq'], { stdio, env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio, env });
}

/** The Debian packages the libtorch in use needs: none for a user's or torchkd's own PyTorch. */
function libtorchPackages() {
  if (args.has('--system-libtorch')) return SYSTEM_LIBTORCH;
  const user = userLibtorch();
  if (user) {
    log(`libtorch: ${user.source} (${user.version ?? 'unknown version'})`);
    return [];
  }
  try {
    ensureManagedVenv({ dev, quiet, log, python: venvCapablePython() });
    return [];
  } catch (e) {
    console.warn(`[setup] torchkd's PyTorch venv could not be set up (${e.message.split('\n')[0]}); ` +
      "falling back to Debian's libtorch-dev");
    return SYSTEM_LIBTORCH;
  }
}

/** A python3 that can create venvs (Debian's needs python3-venv for that). */
function venvCapablePython() {
  for (const py of [process.env.TORCHKD_VENV_PYTHON, 'python3'].filter(Boolean)) {
    if (spawnSync(py, ['-c', 'import venv, ensurepip'], { stdio: 'ignore' }).status === 0) return py;
  }
  installDebianPackages(['python3-venv']);
  return '/usr/bin/python3';
}

function installNpmDependencies() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.torchkd-deps');
  const digest = createHash('sha256').update(readFileSync(lock)).update(readFileSync(join(root, 'package.json'))).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return;
  log('installing npm dependencies (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
  writeFileSync(stamp, digest);
}

try {
  installDebianPackages(['cmake', 'g++', 'ninja-build', 'dataset-fashion-mnist', ...(dev ? ['chromium'] : [])]);
  installDebianPackages(libtorchPackages());
  installNpmDependencies();
} catch (e) {
  console.error(`[setup] ${e.message}`);
  process.exit(1);
}
