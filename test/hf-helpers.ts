// Helpers of the Hugging Face tests: the Python with transformers (the addon's matching Python when it has
// transformers, else torchkd's own venv, which `npm test` sets up with transformers 5.18), and the
// fixtures test/fixtures/hf_make.py builds from it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ESM helper without types
import { torchPython } from '../scripts/python.mjs';
// @ts-expect-error plain ESM helper without types
import { managedVenvPython } from '../scripts/venv.mjs';

let cached: string | undefined;

/** A Python that imports transformers and torch (the reference of the Hugging Face parity tests). */
export function transformersPython(): string {
  if (cached) return cached;
  const candidates = [process.env.TORCHKD_HF_PYTHON, torchPython() as string | null, managedVenvPython() as string].filter((p): p is string => !!p);
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import transformers, tokenizers, torch'], { stdio: 'ignore' });
    if (r.status === 0) return (cached = python);
  }
  throw new Error(`no Python with transformers (tried ${candidates.join(', ')}); run node scripts/venv.mjs --dev or set TORCHKD_HF_PYTHON`);
}

/** Runs a Python program with transformers; `code` reads `inputs` and assigns `out` (JSON both ways). */
export function hfPy<T = unknown>(code: string, inputs: unknown = null): T {
  const program = `import json, sys, torch\ninputs = json.loads(sys.stdin.read())\n${code}\nprint(json.dumps(out))`;
  const stdout = execFileSync(transformersPython(), ['-c', program], {
    input: JSON.stringify(inputs), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1 << 28,
    env: { ...process.env, TRANSFORMERS_VERBOSITY: 'error', HF_HUB_OFFLINE: '1', TOKENIZERS_PARALLELISM: 'false' },
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as T;
}

/** Builds the tokenizers, models and reference outputs of hf_make.py in a new temporary folder. */
export function makeHfFixtures(): string {
  const dir = mkdtempSync(join(tmpdir(), 'torchkd-hf-'));
  execFileSync(transformersPython(), [join(__dirname, 'fixtures', 'hf_make.py'), dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TRANSFORMERS_VERBOSITY: 'error', HF_HUB_OFFLINE: '1', TOKENIZERS_PARALLELISM: 'false' },
  });
  return dir;
}
