// The Python whose torch is the same build as the addon's libtorch: the parity reference of the tests and
// the baseline of the benchmarks. TORCHKD_PYTHON wins; otherwise the one the build recorded
// (build/torchkd-libtorch.json, found by scripts/libtorch.mjs next to the libtorch it chose).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let cached;

/** The libtorch the addon was built against (scripts/libtorch.mjs's record), or null before a build. */
export function builtLibtorch() {
  const path = join(root, 'build', 'torchkd-libtorch.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

/** The path of the matching python, or null when there is none (a libtorch download without Python). */
export function torchPython() {
  if (cached === undefined) cached = process.env.TORCHKD_PYTHON || builtLibtorch()?.python || null;
  return cached;
}
