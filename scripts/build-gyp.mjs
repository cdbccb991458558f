// The alternative build: node-gyp over binding.gyp, in build-gyp/ so that it does not disturb the
// primary cmake-js build in build/. Skips the compile when the addon is newer than the sources.
// Prints the path of the built addon.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'build-gyp');
const addon = join(out, 'build', 'Release', 'torchkd.node');
const sources = ['binding.gyp', 'native', 'scripts/libtorch.mjs', 'scripts/venv.mjs'];

const newest = (p) => {
  const st = statSync(p);
  return st.isDirectory() ? Math.max(0, ...readdirSync(p).map((f) => newest(join(p, f)))) : st.mtimeMs;
};

if (!existsSync(addon) || statSync(addon).mtimeMs < Math.max(...sources.map((s) => newest(join(root, s))))) {
  mkdirSync(join(out, 'scripts'), { recursive: true });
  for (const s of sources) cpSync(join(root, s), join(out, s), { recursive: true });
  // Node's own headers, when this Node ships them (Debian's nodejs, official tarballs): no download.
  const prefix = dirname(dirname(process.execPath));
  const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
  execFileSync(join(root, 'node_modules', '.bin', 'node-gyp'), ['rebuild', '-j', '2', ...nodedir], {
    cwd: out,
    stdio: ['ignore', process.stderr, 'inherit'],
  });
}
console.log(addon);
