// Finds the libtorch to build against, in this order:
//   1. LIBTORCH: a libtorch folder (an unpacked libtorch download, or a Python torch package folder);
//   2. the PyTorch that `python3` imports (TORCHKD_PYTHON overrides the interpreter), through
//      torch.utils.cmake_prefix_path, so Node code uses the very libtorch its Python uses;
//   3. the system's (Debian's libtorch-dev).
// Used by scripts/build.mjs (cmake-js) and binding.gyp (node-gyp): `node scripts/libtorch.mjs <field>`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const HOW_TO = [
  'torchkd needs libtorch and found none. Any one of these works:',
  '  1. LIBTORCH=/path/to/libtorch (a folder with share/cmake/Torch/TorchConfig.cmake and lib/);',
  "  2. a Python PyTorch that `python3 -c 'import torch'` finds (its libtorch is used);",
  '  3. the system libtorch: apt-get install libtorch-dev libopenblas0-openmp (Debian 12).',
].join('\n');

/** A libtorch installation: where its cmake config, headers and libraries are, and how it was found. */
function describe(source, cmakePrefix, root, libDir) {
  const config = join(cmakePrefix, 'Torch', 'TorchConfig.cmake');
  const text = readFileSync(config, 'utf8');
  const abi = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(text);
  const cuda = existsSync(join(libDir, 'libtorch_cuda.so'));
  // CUDA's own headers, needed (besides libtorch's) by the allocator statistics in native/cuda.cc.
  const cudaInclude = join(process.env.CUDA_HOME || '/usr/local/cuda', 'include');
  return {
    source,
    cmakePrefix,
    root,
    libDir,
    includeDirs: [
      join(root, 'include'),
      join(root, 'include', 'torch', 'csrc', 'api', 'include'),
      ...(cuda && existsSync(join(cudaInclude, 'cuda_runtime_api.h')) ? [cudaInclude] : []),
    ],
    cxxAbi: abi ? Number(abi[1]) : 1,
    cuda,
    libraries: ['torch', 'torch_cpu', 'c10', ...(cuda ? ['torch_cuda', 'c10_cuda'] : [])],
  };
}

function fromFolder(folder, source) {
  const root = resolve(folder);
  const prefix = join(root, 'share', 'cmake');
  if (!existsSync(join(prefix, 'Torch', 'TorchConfig.cmake'))) return null;
  return describe(source, prefix, root, join(root, 'lib'));
}

function fromPython() {
  const python = process.env.TORCHKD_PYTHON || 'python3';
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
  return describe(`python (${python})`, prefix, root, join(root, 'lib'));
}

function fromSystem() {
  const candidates = [];
  for (const base of ['/usr/lib', '/usr/local/lib', '/usr/lib64']) {
    candidates.push({ prefix: join(base, 'cmake'), libDir: base });
    if (existsSync(base)) {
      for (const d of readdirSync(base)) {
        if (d.endsWith('-linux-gnu')) candidates.push({ prefix: join(base, d, 'cmake'), libDir: join(base, d) });
      }
    }
  }
  for (const { prefix, libDir } of candidates) {
    if (existsSync(join(prefix, 'Torch', 'TorchConfig.cmake'))) {
      const root = libDir.startsWith('/usr/local') ? '/usr/local' : '/usr';
      return describe('system', prefix, root, libDir);
    }
  }
  return null;
}

/** Returns the libtorch to use, or throws an error naming the three ways to provide one. */
export function findLibtorch() {
  if (process.env.LIBTORCH) {
    const found = fromFolder(process.env.LIBTORCH, 'LIBTORCH');
    if (!found) {
      throw new Error(
        `LIBTORCH=${process.env.LIBTORCH} is not a libtorch folder (no share/cmake/Torch/TorchConfig.cmake).\n${HOW_TO}`,
      );
    }
    return found;
  }
  const found = fromPython() ?? fromSystem();
  if (!found) throw new Error(HOW_TO);
  return found;
}

// CLI for binding.gyp: prints one field, space-separated when it is a list.
if (import.meta.url === `file://${process.argv[1]}`) {
  const field = process.argv[2];
  try {
    const lt = findLibtorch();
    const value = {
      include: lt.includeDirs.join(' '),
      libdir: lt.libDir,
      libs: lt.libraries.map((l) => `-l${l}`).join(' '),
      defines: [`_GLIBCXX_USE_CXX11_ABI=${lt.cxxAbi}`, ...(lt.includeDirs.length > 2 ? ['TORCHKD_CUDA'] : [])].join(' '),
      json: JSON.stringify(lt, null, 2),
    }[field];
    if (value === undefined) throw new Error(`unknown field ${field}: include | libdir | libs | defines | json`);
    process.stdout.write(value + '\n');
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
