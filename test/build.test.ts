// Packaging and builds: CommonJS and ESM entry points, strict types without `any`, the doctor command,
// the node-gyp build of the same sources, and the addon under a second Node major.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { node22Binary } from './helpers';

const root = join(__dirname, '..');
const node = (args: string[], bin = process.execPath) =>
  execFileSync(bin, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const SMOKE = "const a = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' }); " +
  'console.log(JSON.stringify(a.matmul(a).add(1).toArray()));';

describe('entry points', () => {
  it("require('torchkd') and import { torch } from 'torchkd' share one working API", () => {
    expect(node(['-e', `const { torch } = require('torchkd'); ${SMOKE}`]).trim()).toBe('[[8,11],[16,23]]');
    const esm = `import { torch, TorchError } from 'torchkd'; import cjs from 'torchkd';
      if (cjs.torch !== torch) throw new Error('two copies of the API');
      if (!(new TorchError('x') instanceof Error)) throw new Error('TorchError'); ${SMOKE}`;
    expect(node(['--input-type=module', '-e', esm]).trim()).toBe('[[8,11],[16,23]]');
  });

  it('type-checks a strict TypeScript consumer, and the public .d.ts files have no `any`', () => {
    const dir = join(root, 'build', 'types-check');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'consumer.ts'), `
      import { torch, Tensor, TorchError } from '../../dist/index';
      const t: Tensor = torch.randn([2, 3], { dtype: torch.float64 });
      const s: number[] = t.shape;
      const v: number = t.sum(1, { keepdim: true }).softmax(0).item();
      const d: torch.DType = t.dtype;
      const kept: Tensor = torch.tidy(() => t.add(1));
      const e: Error = new TorchError('x');
      void [s, v, d, kept, e];
    `);
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'),
      ['--strict', '--noEmit', '--skipLibCheck', 'false', '--types', 'node', join(dir, 'consumer.ts')], { cwd: root });
    const dts = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((f) =>
      f.isDirectory() ? dts(join(dir, f.name)) : f.name.endsWith('.d.ts') ? [join(dir, f.name)] : []);
    for (const file of dts(join(root, 'dist'))) {
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      expect(code, file).not.toMatch(/[:|<(,]\s*any\b|\bany\s*[|>\[]/);
    }
  });

  it('npx torchkd doctor prints libtorch, discovery, CUDA, BLAS and Node-API facts', () => {
    const out = node([join(root, 'dist', 'cli.js'), 'doctor']);
    expect(out).toMatch(/libtorch version\s+\d+\.\d+/);
    expect(out).toMatch(/libtorch found via\s+(LIBTORCH|python|torchkd venv|system): \S/);
    expect(out).toMatch(/same torch in Python\s+\//);
    expect(out).toMatch(/libtorch path\s+\//);
    expect(out).toMatch(/CUDA available\s+(yes|no)/);
    expect(out).toMatch(/BLAS\s+\S/);
    expect(out).toMatch(/addon Node-API\s+experimental/);
    expect(out).toMatch(/finalizers in GC\s+yes/);
    expect(() => node([join(root, 'dist', 'cli.js'), 'frobnicate'])).toThrow(/unknown command 'frobnicate'/);
  });
});

describe('builds', () => {
  it('the generated ops are what native/ops.table generates', () => {
    expect(() => node([join(root, 'scripts', 'gen-ops.mjs'), '--check'])).not.toThrow();
  });


  it('node-gyp builds the same sources into a working addon', () => {
    const addon = node([join(root, 'scripts', 'build-gyp.mjs')]).trim().split('\n').pop()!;
    expect(existsSync(addon)).toBe(true);
    const out = node(['-e', `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(addon)});
      const N = m.exports; const a = N.ones([3], 6, 'cpu'); const b = N.add_Tensor(a, a, 2);
      const buffer = new ArrayBuffer(12); N.dataSync(b, buffer);
      console.log(JSON.stringify({ values: Array.from(new Float32Array(buffer)), info: N.buildInfo().torchVersion }));`]);
    const parsed = JSON.parse(out);
    expect(parsed.values).toEqual([3, 3, 3]);
    expect(parsed.info).toMatch(/^\d+\.\d+/);
  }, 900_000); // a full compile: minutes on 2 cores, more when the machine is busy

  it('every torch and c10 library the addon loads comes from the one libtorch folder discovery chose', () => {
    const record = JSON.parse(readFileSync(join(root, 'build', 'torchkd-libtorch.json'), 'utf8')) as { libDir: string };
    const gypAddon = node([join(root, 'scripts', 'build-gyp.mjs')]).trim().split('\n').pop()!;
    for (const load of [`require('./dist/index.js')`, `process.dlopen({ exports: {} }, ${JSON.stringify(gypAddon)})`]) {
      const out = node(['-e', `${load}; const fs = require('fs');
        const libs = fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.slice(l.indexOf('/')))
          .filter((p) => /\\/lib(torch|c10)[^/]*\\.so/.test(p)).map((p) => fs.realpathSync(p));
        console.log(JSON.stringify([...new Set(libs)]));`]);
      const libs = JSON.parse(out) as string[];
      expect(libs.length, load).toBeGreaterThanOrEqual(3);
      for (const lib of libs) expect(dirname(lib), `${load}: ${lib}`).toBe(realpathSync(record.libDir));
    }
  });

  it('the built addon loads and runs under a second Node major (Node-API is ABI-stable)', () => {
    const bin = node22Binary();
    const version = node(['--version'], bin).trim();
    expect(version).toMatch(/^v22\./);
    expect(version.split('.')[0]).not.toBe(process.version.split('.')[0]);
    expect(node(['-e', `const { torch } = require('./dist/index.js'); ${SMOKE}`], bin).trim()).toBe('[[8,11],[16,23]]');
  });
});
