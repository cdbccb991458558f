#!/usr/bin/env node
// `npx torchkd <command>`: demo, text, distill, spectral, run, doctor; `--help` on each. Usage errors exit
// with 2, runtime errors with 1, each as a one-line message on stderr (TORCHKD_DEBUG=1 adds the stack).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, formatHelp, parseFlags, suggest, type CommandSpec, type Values } from './cli/args';
import { COMMANDS } from './cli/specs';

const USAGE = `usage: torchkd <command> [flags]

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join('\n')}

Run \`torchkd <command> --help\` (or \`torchkd help <command>\`) for a command's flags and their defaults.
Exit codes: 0 success, 1 runtime error, 2 usage error.
`;

/** What scripts/libtorch.mjs recorded at build time (build/torchkd-libtorch.json). */
interface LibtorchRecord {
  source: string;
  reason: string;
  version: string | null;
  root: string;
  cmakePrefix: string;
  cuda: boolean;
  python: string | null;
  others: { source: string; version: string | null; root: string }[];
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

async function doctor(): Promise<number> {
  const root = join(__dirname, '..');
  const line = (k: string, v: string) => console.log(`${k.padEnd(22)} ${v}`);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  line('torchkd', pkg.version);
  line('node', `${process.version} (Node-API ${process.versions.napi})`);

  const recordPath = join(root, 'build', 'torchkd-libtorch.json');
  const record = existsSync(recordPath) ? (JSON.parse(readFileSync(recordPath, 'utf8')) as LibtorchRecord) : null;
  if (record) {
    line('libtorch found via', `${record.source}: ${record.reason}`);
    line('libtorch path', record.root);
    line('libtorch cmake', record.cmakePrefix);
    line('same torch in Python', record.python ?? 'none found (parity tests and benchmarks need one: TORCHKD_PYTHON)');
    for (const o of record.others) line('also seen (not used)', `${o.source} ${o.version ?? ''}: ${o.root}`);
    console.log('(order: LIBTORCH, the python3 that imports torch, torchkd\'s venv, the system libtorch)');
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
  // NAPI_VERSION_EXPERIMENTAL (INT32_MAX): built for finalizers that run during garbage collection.
  const experimental = info.napiVersion === 2147483647;
  const [major, minor] = process.versions.node.split('.').map(Number);
  const gcFinalizers = major > 20 || (major === 20 && minor >= 10);
  line('addon Node-API', `${experimental ? 'experimental' : info.napiVersion} (cuda build: ${info.cudaBuild ? 'yes' : 'no'})`);
  line('finalizers in GC', experimental && gcFinalizers ? 'yes' : `no (tensors left to the GC are freed between turns of the event loop${gcFinalizers ? '' : ': Node < 20.10'})`);
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

type Runner = (values: Values, signal: AbortSignal) => Promise<number>;

/** The implementations, loaded only when a command runs (help and usage errors need no native code). */
const RUNNERS: Record<string, () => Runner> = {
  doctor: () => doctor,
  demo: () => (require('./cli/commands') as typeof import('./cli/commands')).demoCommand,
  text: () => (require('./cli/text') as typeof import('./cli/text')).textCommand,
  distill: () => (require('./cli/commands') as typeof import('./cli/commands')).distillCommand,
  spectral: () => (require('./cli/commands') as typeof import('./cli/commands')).spectralCommand,
  run: () => (require('./cli/run') as typeof import('./cli/run')).runCommand,
};

function findCommand(name: string): CommandSpec {
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) throw new UsageError(`unknown command '${name}'${suggest(name, COMMANDS.map((c) => c.name))}; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
  return spec;
}

/** Reports an error as `prefix: message` on stderr, without the stack unless TORCHKD_DEBUG is set (a configuration error lists its problems on the following lines). */
function report(prefix: string, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`${prefix}: ${message}\n`);
  if (process.env.TORCHKD_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
}

/**
 * Runs `torchkd <argv>` and returns the exit code. A first Ctrl-C asks a running training to stop after
 * its current step (writing its last checkpoint); a second one exits at once.
 */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (command === '--help' || command === '-h' || (command === 'help' && rest.length === 0)) {
    process.stdout.write(USAGE);
    return 0;
  }
  let spec: CommandSpec;
  let values: Values;
  try {
    if (command === 'help') {
      process.stdout.write(formatHelp(findCommand(rest[0])));
      return 0;
    }
    spec = findCommand(command);
    const parsed = parseFlags(spec, rest);
    if (parsed.help) {
      process.stdout.write(formatHelp(spec));
      return 0;
    }
    values = parsed.values;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    report(command === 'help' || !COMMANDS.some((c) => c.name === command) ? 'torchkd' : `torchkd ${command}`, e);
    return 2;
  }
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ninterrupted: stopping after the current step (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await RUNNERS[spec.name]()(values, controller.signal);
  } catch (e) {
    report(`torchkd ${spec.name}`, e);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (e: unknown) => {
    report('torchkd', e);
    process.exitCode = 1;
  });
}
