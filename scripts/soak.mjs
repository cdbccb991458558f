// `npm run soak`: training steps in each memory mode, printing the resident set size and the live tensors as
// they go, to show that memory stays flat however tensors are freed:
//   tidy       every step inside torch.tidy;
//   dispose    every tensor a step makes disposed by hand;
//   finalizer  nothing freed and no yield to the event loop (a PyTorch loop ported as is): the GC collects
//              the forgotten wrappers, whose native finalizers run during the collection, and the tensors'
//              bytes, reported to V8 as external memory, make it collect sooner (lib/torch/memory.ts);
//   async      as finalizer, with an `await` each step (a loop over an async data source).
//
//   node scripts/soak.mjs [--steps 20000] [--modes tidy,dispose,finalizer,async] [--every 2000]
//
// Each mode runs in its own process (so one mode's garbage does not count against the next). A mode is
// flat when over the second half of its steps (after allocator, JIT and GC heuristics have settled) RSS
// grows by less than 64 MB, and the live tensors stay below 20,000 throughout; the exit code is 1 when a
// mode is not.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const MODES = ['tidy', 'dispose', 'finalizer', 'async'];
const RSS_GROWTH = 64 * 2 ** 20;
const MAX_TENSORS = 20_000;

function args(argv) {
  const o = { steps: 20000, every: 2000, modes: MODES, child: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--steps') o.steps = Number(argv[++i]);
    else if (argv[i] === '--every') o.every = Number(argv[++i]);
    else if (argv[i] === '--modes') o.modes = argv[++i].split(',');
    else if (argv[i] === '--child') o.child = argv[++i];
  }
  return o;
}

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/** One mode: a 784-256-10 MLP with SGD on a fixed random batch of 64, as the soak. */
async function child(mode, steps, every) {
  const { torch, nn, optim } = createRequire(import.meta.url)(join(root, 'dist', 'index.js'));
  torch.manualSeed(0);
  const layers = [new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10)];
  const model = new nn.Sequential(...layers);
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = torch.randn([64, 784]);
  const y = torch.randint(0, 10, [64]);
  const samples = [];
  let peakTensors = 0;
  const sample = (step) => {
    const s = { step, rss: process.memoryUsage().rss, tensors: torch.memory().tensors };
    samples.push(s);
    process.stdout.write(`  ${mode.padEnd(9)} step ${String(step).padStart(6)}: RSS ${mb(s.rss).padStart(7)}, ${s.tensors} live tensors\n`);
  };
  sample(0);
  const t0 = Date.now();
  for (let step = 1; step <= steps; step++) {
    if (mode === 'tidy') {
      torch.tidy(() => {
        opt.zeroGrad();
        const loss = torch.nn.functional.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
      });
    } else if (mode === 'dispose') {
      opt.zeroGrad();
      const h = layers[0].forward(x);
      const a = layers[1].forward(h);
      const logits = layers[2].forward(a);
      const loss = torch.nn.functional.crossEntropy(logits, y);
      loss.backward();
      opt.step();
      torch.dispose([h, a, logits, loss]);
    } else {
      opt.zeroGrad();
      const loss = torch.nn.functional.crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
      if (mode === 'async') await null;
    }
    peakTensors = Math.max(peakTensors, torch.memory().tensors);
    if (step % every === 0 || step === steps) sample(step);
  }
  const seconds = (Date.now() - t0) / 1000;
  const warm = samples.find((s) => s.step >= steps / 2) ?? samples[0];
  const end = samples[samples.length - 1];
  const flat = end.rss - warm.rss < RSS_GROWTH && peakTensors < MAX_TENSORS;
  return { mode, steps, seconds, start: samples[0], warm, end, peakTensors, flat };
}

const o = args(process.argv.slice(2));
if (o.child) {
  const r = await child(o.child, o.steps, o.every);
  process.stdout.write(`#${JSON.stringify(r)}\n`);
} else {
  let ok = true;
  const results = [];
  for (const mode of o.modes) {
    if (!MODES.includes(mode)) throw new Error(`unknown mode ${mode}; expected ${MODES.join(', ')}`);
    console.log(`[soak] ${mode}: ${o.steps} steps`);
    const p = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', mode, '--steps', String(o.steps), '--every', String(o.every)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1' } });
    const lines = p.stdout.split('\n');
    for (const line of lines) if (line && !line.startsWith('#')) console.log(line);
    const report = lines.find((l) => l.startsWith('#'));
    if (p.status !== 0 || !report) {
      console.log(`[soak] ${mode}: the process failed (status ${p.status}, signal ${p.signal})`);
      ok = false;
      continue;
    }
    const r = JSON.parse(report.slice(1));
    results.push(r);
    ok &&= r.flat;
  }
  console.log('[soak] mode       steps   time   RSS start  RSS half   RSS end  live tensors end (peak)  flat');
  for (const r of results) {
    console.log(`[soak] ${r.mode.padEnd(9)} ${String(r.steps).padStart(6)} ${r.seconds.toFixed(0).padStart(5)} s ${mb(r.start.rss).padStart(9)} ${mb(r.warm.rss).padStart(9)} ${mb(r.end.rss).padStart(9)}  ${String(r.end.tensors).padStart(8)} (${r.peakTensors})${' '.repeat(10)}${r.flat ? 'yes' : 'NO'}`);
  }
  process.exitCode = ok ? 0 : 1;
}
