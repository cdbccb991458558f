// Builds the native addon (cmake-js against the libtorch scripts/libtorch.mjs finds) and the TypeScript
// (tsc into dist/, plus the ESM entry). Skips work that is already up to date.
//   node scripts/build.mjs [--native-only | --ts-only] [--force] [--quiet] [--bundle-libtorch]
// --bundle-libtorch (or TORCHKD_BUNDLE_LIBTORCH=1, e.g. for npm install / npm rebuild) links
// build/Release/torchkd.node with RUNPATH $ORIGIN and puts the libtorch libraries it loads next to it: a
// folder that can be moved or packaged (docs/electron.md).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { findLibtorch } from './libtorch.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const bundle = args.has('--bundle-libtorch') || /^(1|true|on|yes)$/i.test(process.env.TORCHKD_BUNDLE_LIBTORCH ?? '');
const log = (m) => quiet || console.log(`[build] ${m}`);
// Tools are resolved as modules, so that they are found when npm hoists them above this package.
const requireHere = createRequire(import.meta.url);
const tool = (pkg, path) => [process.execPath, requireHere.resolve(`${pkg}/${path}`)];
const run = ([cmd, ...pre], argv) =>
  execFileSync(cmd, [...pre, ...argv], { cwd: root, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });

function newestMtime(paths) {
  let newest = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) newest = Math.max(newest, newestMtime(readdirSync(p).map((f) => join(p, f))));
    else newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

function buildNative() {
  const libtorch = findLibtorch();
  const addon = join(root, 'build', 'Release', 'torchkd.node');
  const recordPath = join(root, 'build', 'torchkd-libtorch.json');
  // What the compiled addon depends on; the rest of the record (python, others) is for doctor and tests.
  const buildKey = (lt) => JSON.stringify([lt.cmakePrefix, lt.libDir, lt.version, lt.cuda, lt.cmakeDefines]);
  const recorded = existsSync(recordPath) ? JSON.parse(readFileSync(recordPath, 'utf8')) : null;
  const sameLibtorch = recorded !== null && buildKey(recorded) === buildKey(libtorch);
  // Bundling only relinks: it is not part of the build key (a changed key rebuilds from scratch).
  const record = JSON.stringify({ ...libtorch, bundled: bundle }, null, 2);
  const sources = ['native', 'CMakeLists.txt'].map((p) => join(root, p));
  if (!args.has('--force') && sameLibtorch && (recorded.bundled ?? false) === bundle && existsSync(addon) && statSync(addon).mtimeMs >= newestMtime(sources)) {
    log(`native addon up to date (libtorch ${libtorch.version}: ${libtorch.source}, ${libtorch.root})`);
    writeFileSync(recordPath, record);
    return;
  }
  log(`building native addon against libtorch ${libtorch.version} from ${libtorch.source} (${libtorch.cmakePrefix})${bundle ? ', with its libraries bundled next to it' : ''}`);
  const jobs = String(Math.max(1, Math.min(4, cpuCount())));
  const cmakeArgs = [
    '--parallel', jobs,
    `--CDCMAKE_PREFIX_PATH=${libtorch.cmakePrefix}`,
    `--CDTORCHKD_LIBTORCH_LIBDIR=${libtorch.libDir}`,
    ...Object.entries(libtorch.cmakeDefines).map(([k, v]) => `--CD${k}=${v}`),
    `--CDTORCHKD_BUNDLE_LIBTORCH=${bundle ? 'ON' : 'OFF'}`,
    ...(quiet ? ['--log-level', 'error'] : []),
  ];
  // `build` does not configure an existing build folder again: a changed bundling needs `configure` first
  // (then only the link step runs).
  if (sameLibtorch && (recorded.bundled ?? false) !== bundle) run(tool('cmake-js', 'bin/cmake-js'), ['configure', ...cmakeArgs]);
  run(tool('cmake-js', 'bin/cmake-js'), [sameLibtorch ? 'build' : 'rebuild', ...cmakeArgs]);
  // Libraries an earlier --bundle-libtorch build put next to the addon are not its any more.
  if (!bundle && recorded?.bundled) {
    for (const f of readdirSync(dirname(addon))) if (/^lib.*\.so/.test(f)) rmSync(join(dirname(addon), f));
  }
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(recordPath, record);
}

function cpuCount() {
  return Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || 2;
}

// The ESM entry re-exports the CommonJS build, so both module systems share one instance of the state
// (tensor scopes, the native addon).
const ESM_ENTRY = `import cjs from './index.js';
export const { torch, nn, optim, data, io, distill, train, models, report, hf, TorchError, Tensor } = cjs;
export default cjs;
`;
const ESM_TYPES = `export * from './index.js';
import * as all from './index.js';
export default all;
`;

function buildTs() {
  log('compiling TypeScript');
  run(tool('typescript', 'bin/tsc'), ['-p', join(root, 'tsconfig.json')]);
  writeFileSync(join(root, 'dist', 'index.mjs'), ESM_ENTRY);
  writeFileSync(join(root, 'dist', 'index.d.mts'), ESM_TYPES);
}

try {
  // The op table drives native/ops.cc and lib/torch/ops.generated.ts (both committed).
  run([process.execPath, join(root, 'scripts', 'gen-ops.mjs')], ['--quiet']);
  if (!args.has('--ts-only')) buildNative();
  if (!args.has('--native-only')) buildTs();
} catch (e) {
  console.error(`[build] ${e.message}`);
  process.exit(1);
}
