// The porting examples: each TypeScript port, run reduced, prints the same numbers as its Python original run
// by Python PyTorch on the same libtorch, data and data order (losses to 1e-6).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { torchPython } from '../scripts/python.mjs';

const root = join(__dirname, '..');
const REDUCED = ['--train-samples', '256', '--test-samples', '128', '--epochs', '1', '--batch-size', '32'];

/** The numbers of each printed line (the labels must match too). */
function parse(lines: string[]): { label: string; values: number[] }[] {
  return lines.filter((l) => l.trim() !== '').map((l) => ({
    label: l.replace(/-?\d+(\.\d+)?(e-?\d+)?/g, '#'),
    values: [...l.matchAll(/-?\d+(?:\.\d+)?(?:e-?\d+)?/g)].map((m) => Number(m[0])),
  }));
}

function compare(ours: string[], python: string[]): void {
  const a = parse(ours);
  const b = parse(python);
  expect(a.map((x) => x.label)).toEqual(b.map((x) => x.label));
  a.forEach((x, i) => x.values.forEach((v, j) => {
    const w = b[i].values[j];
    expect(Math.abs(v - w), `line ${i + 1} '${ours[i]}' vs '${python[i]}'`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(w)));
  }));
}

function runPython(script: string, args: string[]): string[] {
  const python = torchPython();
  if (!python) throw new Error('no Python with the same torch as the addon (build/torchkd-libtorch.json)');
  return execFileSync(python, [script, ...args], { encoding: 'utf8', env: { ...process.env, PYTHONWARNINGS: 'ignore' } }).split('\n');
}

describe('porting examples against their Python originals', () => {
  it('examples/kd-tutorial: the knowledge-distillation tutorial (CE, KD, cosine hidden loss)', async () => {
    const { main } = await import('../examples/kd-tutorial/kd-tutorial');
    const lines: string[] = [];
    main(REDUCED, (l) => lines.push(l));
    const python = runPython(join(root, 'examples', 'kd-tutorial', 'kd_tutorial.py'), REDUCED);
    expect(lines.filter((l) => l.startsWith('Epoch'))).toHaveLength(4);
    compare(lines, python);
    // The script's usage line (npx tsx, a dev dependency) runs it as a program, with the same output.
    const tsx = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'examples', 'kd-tutorial', 'kd-tutorial.ts'), ...REDUCED],
      { cwd: root, encoding: 'utf8' }).split('\n');
    compare(tsx, python);
  }, 300_000);

  it('examples/takd: a teacher -> assistant -> student chain of ResNets, checkpoints through torch.save / torch.load', async () => {
    const { main } = await import('../examples/takd/takd');
    const dir = mkdtempSync(join(tmpdir(), 'torchkd-takd-'));
    try {
      const reduced = ['--train-samples', '96', '--test-samples', '64', '--epochs', '2', '--batch-size', '32'];
      const lines: string[] = [];
      main([...reduced, '--out-dir', join(dir, 'ts')], (l) => lines.push(l));
      const python = runPython(join(root, 'examples', 'takd', 'takd.py'), [...reduced, '--out-dir', join(dir, 'py')]);
      expect(lines.filter((l) => / loss /.test(l))).toHaveLength(6);
      compare(lines, python);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
