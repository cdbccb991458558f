// Finds a Python interpreter that imports torch (the parity reference and speed baseline):
// TORCHKD_PYTHON, then python3 on PATH, then Debian's /usr/bin/python3 (python3-torch).
import { execFileSync } from 'node:child_process';

let cached;

/** The path of a python that can `import torch`, or null. */
export function torchPython() {
  if (cached !== undefined) return cached;
  cached = null;
  for (const py of [process.env.TORCHKD_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      cached = py;
      break;
    } catch {
      // try the next one
    }
  }
  return cached;
}
