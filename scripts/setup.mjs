// Installs what a fresh Debian 12 machine lacks, then the npm dependencies. Idempotent and quick when
// everything is in place. Run by `npm test`, `npm run bench` and `npm run demo`.
//   - apt packages: libtorch-dev (unless LIBTORCH points elsewhere), libopenblas0-openmp (a fast BLAS for
//     Debian's libtorch), python3-torch (the parity reference and speed baseline), cmake, g++, ninja,
//     dataset-fashion-mnist (the IDX files data.fashionMnist reads and its tests check), chromium (the
//     headless browser the report test opens its HTML in, through playwright-core);
//   - npm dependencies (npm ci) when node_modules is missing or older than package-lock.json.
// Not root: prints the exact apt-get command instead and stops.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const quiet = process.argv.includes('--quiet');
const log = (m) => quiet || console.log(`[setup] ${m}`);

// Packages checked by the file the tests use rather than by dpkg.
const wantedFiles = { chromium: '/usr/bin/chromium' };

function missingDebianPackages() {
  if (!existsSync('/usr/bin/dpkg-query')) return [];
  const wanted = ['libopenblas0-openmp', 'python3-torch', 'cmake', 'g++', 'ninja-build', 'dataset-fashion-mnist'];
  if (!process.env.LIBTORCH) wanted.unshift('libtorch-dev');
  const missing = wanted.filter((pkg) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
  return [...missing, ...Object.keys(wantedFiles).filter((pkg) => !existsSync(wantedFiles[pkg]))];
}

function installDebianPackages() {
  const missing = missingDebianPackages();
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
  installDebianPackages();
  installNpmDependencies();
} catch (e) {
  console.error(`[setup] ${e.message}`);
  process.exit(1);
}
