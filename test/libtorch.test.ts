// libtorch discovery order: LIBTORCH, then the PyTorch python3 imports, then torchkd's own venv, then the
// system's; the Python with the same torch; the installations passed over; one clear error naming all
// the ways when none is found.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = join(__dirname, '..', 'scripts', 'libtorch.mjs');
const hasSystemLibtorch = existsSync('/usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake');

function discover(env: Record<string, string | undefined>): { ok: boolean; out: string } {
  // An empty torchkd home unless the test gives one, so that the developer's own venv is not found.
  const merged: Record<string, string | undefined> = { ...process.env, TORCHKD_HOME: mkdtempSync(join(tmpdir(), 'home-')), ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  try {
    return { ok: true, out: execFileSync(process.execPath, [script, 'json'], { env: merged as NodeJS.ProcessEnv, encoding: 'utf8', stdio: 'pipe' }) };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr) };
  }
}

/** A folder laid out like a libtorch download: share/cmake/Torch/TorchConfig.cmake, include/, lib/. */
function fakeLibtorch(abi: 0 | 1, { cuda = false, version = '2.9.1' } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'libtorch-'));
  mkdirSync(join(dir, 'share', 'cmake', 'Torch'), { recursive: true });
  mkdirSync(join(dir, 'lib'));
  mkdirSync(join(dir, 'include', 'torch', 'headeronly'), { recursive: true });
  const [major, minor, patch] = version.split('.');
  writeFileSync(join(dir, 'include', 'torch', 'headeronly', 'version.h'),
    `#define TORCH_VERSION_MAJOR ${major}\n#define TORCH_VERSION_MINOR ${minor}\n#define TORCH_VERSION_PATCH ${patch}\n`);
  writeFileSync(join(dir, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'),
    `set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${abi}")\n`);
  if (cuda) writeFileSync(join(dir, 'lib', 'libtorch_cuda.so'), '');
  return dir;
}

/** An executable that answers like a python3 whose torch (of `version`) is installed in dir. */
function fakePython(dir: string, version = '2.9.1', path = join(mkdtempSync(join(tmpdir(), 'python-')), 'python3')): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `#!/bin/sh
case "$2" in
  *cmake_prefix_path*) echo ${join(dir, 'share', 'cmake')}; echo ${dir} ;;
  *__version__*) echo ${version}+cpu ;;
  *) exit 1 ;;
esac
`);
  chmodSync(path, 0o755);
  return path;
}

/** A folder that looks like a CUDA toolkit (bin/nvcc, include/cuda_runtime_api.h). */
function fakeToolkit(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cuda-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'include'));
  writeFileSync(join(dir, 'bin', 'nvcc'), '');
  writeFileSync(join(dir, 'include', 'cuda_runtime_api.h'), '');
  return dir;
}

describe('libtorch discovery', () => {
  it('LIBTORCH comes first; its version, ABI flag and CUDA libraries are read from the folder', () => {
    const lt = fakeLibtorch(0, { cuda: true, version: '2.14.1' });
    const cudaHome = fakeToolkit();
    const r = discover({ LIBTORCH: lt, CUDA_HOME: cudaHome, TORCHKD_PYTHON: fakePython(fakeLibtorch(1)) });
    expect(r.ok, r.out).toBe(true);
    const info = JSON.parse(r.out);
    expect(info.source).toBe('LIBTORCH');
    expect(info.reason).toBe('LIBTORCH is set');
    expect(info.version).toBe('2.14.1');
    expect(info.root).toBe(lt);
    expect(info.cxxAbi).toBe(0);
    expect(info.cuda).toBe(true);
    expect(info.libraries).toEqual(['torch', 'torch_cpu', 'c10', 'torch_cuda', 'c10_cuda']);
    expect(info.cmakeDefines.CUDA_TOOLKIT_ROOT_DIR).toBe(cudaHome);
    expect(info.includeDirs).toContain(join(cudaHome, 'include'));
    // The python3 whose torch was passed over is named, for doctor.
    expect(info.others.map((o: { source: string }) => o.source)[0]).toMatch(/^python/);
  });

  it('a CUDA libtorch without a CUDA toolkit is a clear error', () => {
    const r = discover({ LIBTORCH: fakeLibtorch(1, { cuda: true }), CUDA_HOME: '/nonexistent/cuda' });
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/is a CUDA build; building against it needs the CUDA toolkit .* CUDA_HOME=\/nonexistent\/cuda is not/);
  });

  it('a LIBTORCH inside a venv names the venv\'s python as the same torch', () => {
    const venv = mkdtempSync(join(tmpdir(), 'venv-'));
    const pkg = join(venv, 'lib', 'python3.11', 'site-packages');
    mkdirSync(pkg, { recursive: true });
    const lt = fakeLibtorch(1, { version: '2.13.0' });
    const torchDir = join(pkg, 'torch');
    execFileSync('mv', [lt, torchDir]);
    const py = fakePython(torchDir, '2.13.0', join(venv, 'bin', 'python3'));
    const info = JSON.parse(discover({ LIBTORCH: torchDir, TORCHKD_PYTHON: '/bin/false' }).out);
    expect(info.python).toBe(py);
    // A python whose torch is another release is not the parity reference.
    fakePython(torchDir, '2.12.0', py);
    expect(JSON.parse(discover({ LIBTORCH: torchDir, TORCHKD_PYTHON: '/bin/false' }).out).python).toBeNull();
  });

  it('then the PyTorch that python3 imports (torch.utils.cmake_prefix_path)', () => {
    const lt = fakeLibtorch(1);
    const py = fakePython(lt);
    const info = JSON.parse(discover({ LIBTORCH: undefined, TORCHKD_PYTHON: py }).out);
    expect(info.source).toBe(`python (${py})`);
    expect(info.cmakePrefix).toBe(join(lt, 'share', 'cmake'));
    expect(info.libDir).toBe(join(lt, 'lib'));
    expect(info.python).toBe(py);
  });

  it("then torchkd's own venv (in TORCHKD_HOME)", () => {
    const home = mkdtempSync(join(tmpdir(), 'home-'));
    const lt = fakeLibtorch(1, { version: '2.13.0' });
    const py = fakePython(lt, '2.13.0', join(home, 'venv-torch-2.13.0+cpu', 'bin', 'python'));
    const info = JSON.parse(discover({ LIBTORCH: undefined, TORCHKD_PYTHON: '/bin/false', TORCHKD_HOME: home }).out);
    expect(info.source).toBe('torchkd venv');
    expect(info.reason).toMatch(/no LIBTORCH, no python3 that imports torch/);
    expect(info.python).toBe(py);
  });

  it('then the system libtorch (a python without torch, or without cmake files, is passed over)', () => {
    const r = discover({ LIBTORCH: undefined, TORCHKD_PYTHON: '/bin/false' });
    if (hasSystemLibtorch) {
      const info = JSON.parse(r.out);
      expect(info.source).toBe('system');
      expect(info.version).toMatch(/^1\.13\./);
      expect(info.cmakePrefix).toBe('/usr/lib/x86_64-linux-gnu/cmake');
    } else {
      expect(r.ok).toBe(false);
      expect(r.out).toMatch(/found none/);
    }
  });

  it('LIBTORCH=/usr takes the system libtorch in its Debian layout (lib/<triplet>/cmake)', () => {
    const r = discover({ LIBTORCH: '/usr' });
    if (!hasSystemLibtorch) {
      expect(r.out).toMatch(/LIBTORCH=\/usr is not a libtorch folder/);
      return;
    }
    const info = JSON.parse(r.out);
    expect(info.libDir).toBe('/usr/lib/x86_64-linux-gnu');
    expect(info.version).toMatch(/^1\.13\./);
  });

  it('a LIBTORCH that is not a libtorch folder is an error naming all four ways', () => {
    const r = discover({ LIBTORCH: '/nonexistent/libtorch' });
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/LIBTORCH=\/nonexistent\/libtorch is not a libtorch folder/);
    expect(r.out).toMatch(/1\. LIBTORCH=/);
    expect(r.out).toMatch(/2\. a Python PyTorch/);
    expect(r.out).toMatch(/3\. torchkd's own venv/);
    expect(r.out).toMatch(/4\. the system libtorch: apt-get install libtorch-dev/);
  });
});
