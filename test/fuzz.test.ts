// A short run of the fuzz suite (scripts/fuzz.mjs; `npm run fuzz` runs 100,000 calls): one hostile call for
// each of its call targets (1,476: every op of the op table through each JS entry point, every public
// function and class, every native function) and 20 malformed files for each loader, in child processes.
// It fails on a crash, a hang, a leaked tensor, or an error other than TorchError from the tensor core.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('a seeded fuzz run over every call target and loader is clean', () => {
  const script = join(__dirname, '..', 'scripts', 'fuzz.mjs');
  const r = spawnSync(process.execPath, [script, '--calls', '1500', '--files', '220', '--batch', '1500', '--seed', '1', '--hang', '60', '--quiet'],
    { encoding: 'utf8', timeout: 300_000 });
  const summary = r.stdout.split('\n').find((l) => l.startsWith('[fuzz] seed')) ?? '';
  expect(summary, `${r.stdout}\n${r.stderr}`).toMatch(/1500 calls .* 220 file mutants .*: clean/);
  expect(r.status).toBe(0);
}, 320_000);
