// libtorch discovery order: LIBTORCH, then the PyTorch python3 imports, then the system's; one clear
// error naming all three when none is found.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = join(__dirname, '..', 'scripts', 'libtorch.mjs');

function discover(env: Record<string, string | undefined>): { ok: boolean; out: string } {
  const merged = { ...process.env, ...env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete merged[k];
  try {
    return { ok: true, out: execFileSync(process.execPath, [script, 'json'], { env: merged, encoding: 'utf8', stdio: 'pipe' }) };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr) };
  }
}

/** A folder laid out like a libtorch download: share/cmake/Torch/TorchConfig.cmake, include/, lib/. */
function fakeLibtorch(abi: 0 | 1): string {
  const dir = mkdtempSync(join(tmpdir(), 'libtorch-'));
  mkdirSync(join(dir, 'share', 'cmake', 'Torch'), { recursive: true });
  mkdirSync(join(dir, 'lib'));
  writeFileSync(join(dir, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'),
    `set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${abi}")\n`);
  writeFileSync(join(dir, 'lib', 'libtorch_cuda.so'), '');
  return dir;
}

/** An executable that answers like `python3 -c 'import torch; ...'` for a PyTorch installed in dir. */
function fakePython(dir: string): string {
  const py = join(mkdtempSync(join(tmpdir(), 'python-')), 'python3');
  writeFileSync(py, `#!/bin/sh\necho ${join(dir, 'share', 'cmake')}\necho ${dir}\n`);
  chmodSync(py, 0o755);
  return py;
}

describe('libtorch discovery', () => {
  it('LIBTORCH comes first, and its ABI flag and CUDA libraries are read from the folder', () => {
    const lt = fakeLibtorch(0);
    const r = discover({ LIBTORCH: lt, TORCHKD_PYTHON: fakePython(fakeLibtorch(1)) });
    expect(r.ok).toBe(true);
    const info = JSON.parse(r.out);
    expect(info.source).toBe('LIBTORCH');
    expect(info.root).toBe(lt);
    expect(info.cxxAbi).toBe(0);
    expect(info.cuda).toBe(true);
    expect(info.libraries).toEqual(['torch', 'torch_cpu', 'c10', 'torch_cuda', 'c10_cuda']);
  });

  it("then the PyTorch that python3 imports (torch.utils.cmake_prefix_path)", () => {
    const lt = fakeLibtorch(1);
    const py = fakePython(lt);
    const info = JSON.parse(discover({ LIBTORCH: undefined, TORCHKD_PYTHON: py }).out);
    expect(info.source).toBe(`python (${py})`);
    expect(info.cmakePrefix).toBe(join(lt, 'share', 'cmake'));
    expect(info.libDir).toBe(join(lt, 'lib'));
  });

  it('then the system libtorch (a python without torch, or without cmake files, is passed over)', () => {
    const info = JSON.parse(discover({ LIBTORCH: undefined, TORCHKD_PYTHON: '/bin/false' }).out);
    expect(info.source).toBe('system');
    expect(info.cmakePrefix).toMatch(/cmake$/);
  });

  it('a LIBTORCH that is not a libtorch folder is an error naming all three ways', () => {
    const r = discover({ LIBTORCH: '/nonexistent/libtorch' });
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/LIBTORCH=\/nonexistent\/libtorch is not a libtorch folder/);
    expect(r.out).toMatch(/1\. LIBTORCH=/);
    expect(r.out).toMatch(/2\. a Python PyTorch/);
    expect(r.out).toMatch(/3\. the system libtorch: apt-get install libtorch-dev/);
  });
});
