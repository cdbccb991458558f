#!/usr/bin/env node
// `npx torchkd <command>`. Commands: doctor.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

const USAGE = `usage: torchkd <command>

commands:
  doctor    libtorch version and path, how it was found, CUDA devices, BLAS, Node-API version
`;

interface LibtorchRecord {
  source: string;
  root: string;
  cmakePrefix: string;
  cuda: boolean;
}

/** Which BLAS the process has mapped (libtorch loads it lazily: run a matmul first). */
export function blasInUse(): { library: string; kind: string; slow: boolean } | null {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return null;
  }
  const paths = new Set(
    maps.split('\n').map((l) => l.slice(l.indexOf('/'))).filter((p) => /\/lib(open)?blas[^/]*\.so/.test(p)),
  );
  for (const path of paths) {
    const real = existsSync(path) ? realpathSync(path) : path;
    if (/openblas/.test(real)) return { library: real, kind: `OpenBLAS${/openmp/.test(real) ? ' (OpenMP)' : ''}`, slow: false };
    if (/blis/.test(real)) return { library: real, kind: 'BLIS', slow: false };
    if (/atlas/.test(real)) return { library: real, kind: 'ATLAS', slow: false };
    if (/mkl/.test(real)) return { library: real, kind: 'MKL', slow: false };
    if (/\/blas\/libblas/.test(real)) return { library: real, kind: 'reference BLAS', slow: true };
    return { library: real, kind: 'unknown BLAS', slow: false };
  }
  return null;
}

function doctor(): number {
  const root = join(__dirname, '..');
  const line = (k: string, v: string) => console.log(`${k.padEnd(22)} ${v}`);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  line('torchkd', pkg.version);
  line('node', `${process.version} (Node-API ${process.versions.napi})`);

  const recordPath = join(root, 'build', 'torchkd-libtorch.json');
  const record = existsSync(recordPath) ? (JSON.parse(readFileSync(recordPath, 'utf8')) as LibtorchRecord) : null;
  if (record) {
    line('libtorch found via', record.source);
    line('libtorch path', record.root);
    line('libtorch cmake', record.cmakePrefix);
  }

  let torch: typeof import('./torch');
  let N: typeof import('./torch/native').N;
  try {
    torch = require('./torch') as typeof import('./torch');
    N = (require('./torch/native') as typeof import('./torch/native')).N;
  } catch (e) {
    console.log(`\nnative addon: NOT LOADED\n${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const info = N.buildInfo();
  line('libtorch version', info.torchVersion);
  line('addon Node-API', `${info.napiVersion} (cuda build: ${info.cudaBuild ? 'yes' : 'no'})`);
  const cuda = torch.cuda.isAvailable();
  line('CUDA available', cuda ? 'yes' : 'no');
  if (cuda) {
    const count = torch.cuda.deviceCount();
    for (let d = 0; d < count; d++) {
      line(`  cuda:${d}`, info.cudaBuild ? torch.cuda.getDeviceName(d) : '(name needs a CUDA build of the addon)');
    }
  }
  torch.tidy(() => torch.ones([64, 64]).matmul(torch.ones([64, 64])));
  const blas = blasInUse();
  if (blas) {
    line('BLAS', `${blas.kind}: ${blas.library}`);
    if (blas.slow) {
      console.log('WARNING: the reference BLAS is ~16x slower for matmuls. Install OpenBLAS:\n' +
        '  apt-get install libopenblas0-openmp');
    }
  } else {
    line('BLAS', info.hasMKL ? 'MKL (linked into libtorch)' : 'none mapped');
  }
  line('threads', `${info.numThreads} (OpenMP: ${info.hasOpenMP ? 'yes' : 'no'}, LAPACK: ${info.hasLAPACK ? 'yes' : 'no'})`);
  return 0;
}

export function main(argv: string[]): number {
  const [command] = argv;
  switch (command) {
    case 'doctor':
      return doctor();
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`torchkd: unknown command '${command}'\n\n${USAGE}`);
      return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
