// Finds the libtorch to build against, in this order:
//   1. LIBTORCH: a libtorch folder (an unpacked libtorch download, a Python torch package folder such as
//      .../site-packages/torch, or a system prefix such as /usr);
//   2. the PyTorch that `python3` imports (TORCHKD_PYTHON overrides the interpreter), through
//      torch.utils.cmake_prefix_path, so Node code uses the very libtorch its Python uses;
//   3. torchkd's own venv (scripts/venv.mjs: torch==2.13.0+cpu, set up by `npm test` / `npm run demo` when
//      neither of the above is configured);
//   4. the system's (Debian's libtorch-dev, 1.13.1).
// Each result also names the Python whose torch is the same build (the parity reference and speed
// baseline), the libtorch version, and the other installations seen, for `torchkd doctor`.
// Used by scripts/build.mjs (cmake-js) and binding.gyp (node-gyp): `node scripts/libtorch.mjs <field>`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { managedVenvPython } from './venv.mjs';

const HOW_TO = [
  'torchkd needs libtorch and found none. Any one of these works:',
  '  1. LIBTORCH=/path/to/libtorch (a folder with share/cmake/Torch/TorchConfig.cmake and lib/, or a',
  '     Python torch package folder such as .../site-packages/torch);',
  "  2. a Python PyTorch that `python3 -c 'import torch'` finds (its libtorch is used), e.g. in a venv:",
  '     python3 -m venv .venv && .venv/bin/pip install torch && PATH=$PWD/.venv/bin:$PATH npm rebuild torchkd;',
  '  3. torchkd\'s own venv: node scripts/venv.mjs (pip install torch==2.13.0+cpu), run by npm test;',
  '  4. the system libtorch: apt-get install libtorch-dev libopenblas0-openmp (Debian 12).',
].join('\n');

/** The libtorch version from its headers (torch/version.h), e.g. '2.13.0'. */
function headerVersion(includeDir) {
  for (const rel of ['torch/headeronly/version.h', 'torch/csrc/api/include/torch/version.h']) {
    const path = join(includeDir, rel);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    const part = (name) => (new RegExp(`#define TORCH_VERSION_${name} (\\d+)`).exec(text) || [])[1];
    if (part('MAJOR') !== undefined) return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  }
  return null;
}

/** torch.__version__ of a Python interpreter, or null when it cannot import torch. */
function pythonTorchVersion(python) {
  try {
    return execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** '2.13.0+cpu' and '2.13.0' are the same release; Debian's python3-torch says '1.13.0a0' for 1.13.1. */
function sameRelease(pythonVersion, version) {
  if (!pythonVersion || !version) return false;
  const [a, b] = [pythonVersion, version].map((v) => v.split(/[+a-z]/)[0].split('.').slice(0, 2).join('.'));
  return a === b;
}

/** The CUDA toolkit a CUDA libtorch's cmake config needs (nvcc and the runtime headers): CUDA_HOME when set. */
function cudaToolkit() {
  const isToolkit = (d) => existsSync(join(d, 'bin', 'nvcc')) && existsSync(join(d, 'include', 'cuda_runtime_api.h'));
  if (process.env.CUDA_HOME) return isToolkit(process.env.CUDA_HOME) ? process.env.CUDA_HOME : null;
  const candidates = [process.env.CUDA_PATH, '/usr/local/cuda'];
  try {
    const nvcc = execFileSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (nvcc) candidates.push(dirname(dirname(nvcc)));
  } catch {
    // no nvcc on PATH
  }
  return candidates.find((d) => d && isToolkit(d)) ?? null;
}

/** libnvrtc from the nvidia-* wheels next to a torch package, for toolkits that do not ship it. */
function wheelNvrtc(root) {
  const nvidia = join(root, '..', 'nvidia');
  if (!existsSync(nvidia)) return null;
  for (const pkg of readdirSync(nvidia)) {
    const lib = join(nvidia, pkg, 'lib');
    if (!existsSync(lib)) continue;
    const so = readdirSync(lib).find((f) => /^libnvrtc\.so\.\d+$/.test(f));
    if (so) return join(lib, so);
  }
  return null;
}

/**
 * Where a CUDA libtorch's build finds NCCL's header and the CUDA math libraries' headers that c10d's
 * ProcessGroupNCCL.hpp includes (pip keeps both in the nvidia-* wheels next to torch; the toolkit may lack
 * them), for torch.distributed's nccl backend; null when either is missing (the addon is built without it).
 */
function ncclIncludeDirs(root, cudaHome) {
  const dirs = [];
  const nvidia = join(root, '..', 'nvidia');
  if (existsSync(nvidia)) {
    for (const pkg of readdirSync(nvidia)) if (existsSync(join(nvidia, pkg, 'include'))) dirs.push(join(nvidia, pkg, 'include'));
  }
  if (process.env.NCCL_INCLUDE_DIR) dirs.push(process.env.NCCL_INCLUDE_DIR);
  if (cudaHome) dirs.push(join(cudaHome, 'include'));
  dirs.push('/usr/include');
  const nccl = dirs.find((d) => existsSync(join(d, 'nccl.h')));
  const cublas = dirs.find((d) => existsSync(join(d, 'cublas_v2.h')));
  return nccl && cublas ? [...new Set([nccl, cublas])] : null;
}

/** A libtorch installation: where its cmake config, headers and libraries are, and how it was found. */
function describe(source, reason, cmakePrefix, root, libDir, pythonCandidates) {
  const config = join(cmakePrefix, 'Torch', 'TorchConfig.cmake');
  const text = readFileSync(config, 'utf8');
  const abi = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(text);
  const cuda = existsSync(join(libDir, 'libtorch_cuda.so'));
  const includeDir = join(root, 'include');
  const version = headerVersion(includeDir);
  const lt = {
    source,
    reason,
    version,
    cmakePrefix,
    root,
    libDir,
    includeDirs: [includeDir, join(includeDir, 'torch', 'csrc', 'api', 'include')],
    cxxAbi: abi ? Number(abi[1]) : 1,
    cuda,
    libraries: ['torch', 'torch_cpu', 'c10', ...(cuda ? ['torch_cuda', 'c10_cuda'] : [])],
    cmakeDefines: {},
    python: null,
    pythonCandidates,
  };
  if (cuda) {
    const home = cudaToolkit();
    lt.cudaHome = home;
    if (home) {
      lt.includeDirs.push(join(home, 'include'));
      lt.cmakeDefines.CUDA_TOOLKIT_ROOT_DIR = home;
      lt.cmakeDefines.CMAKE_CUDA_COMPILER = join(home, 'bin', 'nvcc');
      const toolkitHasNvrtc = ['lib64', 'lib'].some((d) => existsSync(join(home, d, 'libnvrtc.so')));
      const nvrtc = toolkitHasNvrtc ? null : wheelNvrtc(root);
      if (nvrtc) lt.cmakeDefines.CUDA_nvrtc_LIBRARY = nvrtc;
    }
    lt.ncclIncludeDirs = ncclIncludeDirs(root, home);
    if (lt.ncclIncludeDirs) lt.cmakeDefines.TORCHKD_NCCL_INCLUDE_DIRS = lt.ncclIncludeDirs.join(';');
  }
  return lt;
}

/** The Python interpreters that may hold the same torch build as a libtorch folder. */
function pythonsNear(root) {
  // .../<prefix>/lib/pythonX.Y/site-packages/torch → <prefix>/bin/python3 (venv, conda, system pip)
  const prefix = resolve(root, '..', '..', '..', '..');
  const out = [join(prefix, 'bin', 'python3'), join(prefix, 'bin', 'python')];
  if (root === '/usr' || root === '/usr/local') out.push('/usr/bin/python3');
  return out.filter((p) => existsSync(p));
}

function fromFolder(folder, source, reason) {
  const root = resolve(folder);
  const prefix = join(root, 'share', 'cmake');
  if (existsSync(join(prefix, 'Torch', 'TorchConfig.cmake'))) {
    return describe(source, reason, prefix, root, join(root, 'lib'), pythonsNear(root));
  }
  // A system prefix (/usr): Debian keeps the cmake files and libraries under lib/<triplet>.
  const lib = join(root, 'lib');
  if (existsSync(lib)) {
    for (const d of readdirSync(lib)) {
      const libDir = join(lib, d);
      if (d.endsWith('-linux-gnu') && existsSync(join(libDir, 'cmake', 'Torch', 'TorchConfig.cmake'))) {
        return describe(source, reason, join(libDir, 'cmake'), root, libDir, pythonsNear(root));
      }
    }
  }
  return null;
}

function fromPython(python, source, reason) {
  let out;
  try {
    out = execFileSync(
      python,
      ['-c', 'import os, torch; print(torch.utils.cmake_prefix_path); print(os.path.dirname(torch.__file__))'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
  } catch {
    return null;
  }
  const [prefix, root] = out.trim().split('\n');
  // Some distributions (Debian's python3-torch among them) ship no cmake config with their PyTorch.
  if (!prefix || !existsSync(join(prefix, 'Torch', 'TorchConfig.cmake'))) return null;
  return describe(source, reason, prefix, root, join(root, 'lib'), [python]);
}

function fromSystem() {
  for (const base of ['/usr', '/usr/local']) {
    const found = fromFolder(base, 'system', 'the system libtorch (nothing else is configured)');
    if (found) return found;
  }
  return null;
}

/** The libtorch the user configured (LIBTORCH, or a python3 that imports torch), or null. */
export function userLibtorch() {
  for (const find of candidates().slice(0, 2)) {
    const lt = find();
    if (lt) return lt;
  }
  return null;
}

/** Every installation that discovery can see, in its order (LIBTORCH, python3, torchkd's venv, system). */
function candidates() {
  const python = process.env.TORCHKD_PYTHON || 'python3';
  const venvPython = managedVenvPython();
  return [
    () => (process.env.LIBTORCH ? fromFolder(process.env.LIBTORCH, 'LIBTORCH', 'LIBTORCH is set') : null),
    () => fromPython(python, `python (${python})`, `${python} imports torch`),
    () => (existsSync(venvPython)
      ? fromPython(venvPython, 'torchkd venv', "torchkd's own venv (no LIBTORCH, no python3 that imports torch)")
      : null),
    fromSystem,
  ];
}

/**
 * Returns the libtorch to use, with `python` (the interpreter whose torch is this same release, or null)
 * and `others` (the installations it passed over), or throws an error naming the ways to provide one.
 */
export function findLibtorch() {
  if (process.env.LIBTORCH && !fromFolder(process.env.LIBTORCH, 'LIBTORCH', '')) {
    throw new Error(
      `LIBTORCH=${process.env.LIBTORCH} is not a libtorch folder (no share/cmake/Torch/TorchConfig.cmake).\n${HOW_TO}`,
    );
  }
  const found = [];
  for (const find of candidates()) {
    const lt = find();
    if (lt && !found.some((f) => f.cmakePrefix === lt.cmakePrefix)) found.push(lt);
  }
  if (found.length === 0) throw new Error(HOW_TO);
  const [chosen, ...others] = found;
  if (chosen.cuda && !chosen.cudaHome) {
    throw new Error(
      `libtorch at ${chosen.root} is a CUDA build; building against it needs the CUDA toolkit (bin/nvcc and ` +
        `include/cuda_runtime_api.h)${process.env.CUDA_HOME ? `, which CUDA_HOME=${process.env.CUDA_HOME} is not` : ''}: ` +
        'set CUDA_HOME, or put nvcc on PATH.',
    );
  }
  chosen.python = chosen.pythonCandidates.find((py) => sameRelease(pythonTorchVersion(py), chosen.version)) ?? null;
  delete chosen.pythonCandidates;
  chosen.others = others.map((o) => ({ source: o.source, version: o.version, root: o.root }));
  return chosen;
}

// CLI for binding.gyp: prints one field, space-separated when it is a list.
if (import.meta.url === `file://${process.argv[1]}`) {
  const field = process.argv[2];
  try {
    const lt = findLibtorch();
    const libDirs = [lt.libDir, ...(lt.cuda ? [join(lt.cudaHome, 'lib64')] : [])];
    const value = {
      include: [...lt.includeDirs, ...(lt.ncclIncludeDirs ?? [])].join(' '),
      ldflags: libDirs.flatMap((d) => [`-L${d}`, `-Wl,-rpath,${d}`]).join(' '),
      libs: [...lt.libraries, ...(lt.cuda ? ['cudart'] : [])].map((l) => `-l${l}`).join(' '),
      defines: [`_GLIBCXX_USE_CXX11_ABI=${lt.cxxAbi}`, ...(lt.cuda ? ['TORCHKD_CUDA'] : []), ...(lt.ncclIncludeDirs ? ['TORCHKD_NCCL'] : [])].join(' '),
      json: JSON.stringify(lt, null, 2),
    }[field];
    if (value === undefined) throw new Error(`unknown field ${field}: include | ldflags | libs | defines | json`);
    process.stdout.write(value + '\n');
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
