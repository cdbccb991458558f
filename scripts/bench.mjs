// `npm run bench`: µs per iteration for torchkd and for Python PyTorch (same libtorch build) in the same
// run, and their ratio (torchkd / PyTorch; below 1 means torchkd is faster).
// Each case is written twice, once per language, doing the same work: an op whose result is freed
// (dispose() here, the reference count dropping to zero in Python).
import { execFileSync } from 'node:child_process';
import { torchPython } from './python.mjs';

const require = (await import('node:module')).createRequire(import.meta.url);
const { torch } = require('../dist/index.js');

const REPEATS = 7;

/** name, iterations, JS setup returning the timed body, Python setup and statement. */
const CASES = [
  {
    name: 'add [16]', iters: 200000,
    js: () => { const a = torch.randn([16]); const b = torch.randn([16]); return () => a.add(b).dispose(); },
    py: { setup: 'a = torch.randn(16); b = torch.randn(16)', stmt: 'c = a + b' },
  },
  {
    name: 'mul [16]', iters: 200000,
    js: () => { const a = torch.randn([16]); const b = torch.randn([16]); return () => a.mul(b).dispose(); },
    py: { setup: 'a = torch.randn(16); b = torch.randn(16)', stmt: 'c = a * b' },
  },
  {
    name: 'matmul [16,16]', iters: 100000,
    js: () => { const a = torch.randn([16, 16]); const b = torch.randn([16, 16]); return () => a.matmul(b).dispose(); },
    py: { setup: 'a = torch.randn(16, 16); b = torch.randn(16, 16)', stmt: 'c = a @ b' },
  },
  {
    name: 'sum [16]', iters: 200000,
    js: () => { const a = torch.randn([16]); return () => a.sum().dispose(); },
    py: { setup: 'a = torch.randn(16)', stmt: 'c = a.sum()' },
  },
  {
    name: 'softmax [4,16] dim 1', iters: 200000,
    js: () => { const a = torch.randn([4, 16]); return () => a.softmax(1).dispose(); },
    py: { setup: 'a = torch.randn(4, 16)', stmt: 'c = a.softmax(1)' },
  },
  {
    name: 'relu [16]', iters: 200000,
    js: () => { const a = torch.randn([16]); return () => a.relu().dispose(); },
    py: { setup: 'a = torch.randn(16)', stmt: 'c = a.relu()' },
  },
  {
    name: 'add [16] in tidy (100 ops/scope)', iters: 2000,
    js: () => {
      const a = torch.randn([16]); const b = torch.randn([16]);
      return () => torch.tidy(() => { for (let i = 0; i < 100; i++) a.add(b); });
    },
    py: { setup: 'a = torch.randn(16); b = torch.randn(16)', stmt: 'for _ in range(100):\n    c = a + b' },
  },
  {
    name: 'add [16], left to the GC', iters: 200000,
    js: () => { const a = torch.randn([16]); const b = torch.randn([16]); return () => a.add(b); },
    py: { setup: 'a = torch.randn(16); b = torch.randn(16)', stmt: 'c = a + b' },
  },
];

function timeJs(body, iters) {
  for (let i = 0; i < Math.max(1, iters / 10); i++) body();
  const samples = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) body();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3 / iters);
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)];
}

const only = process.argv[2] ? new RegExp(process.argv[2]) : null;
const cases = CASES.filter((c) => !only || only.test(c.name));

const python = torchPython();
let pyTimes = {};
if (python) {
  const spec = { repeats: REPEATS, cases: cases.map((c) => ({ name: c.name, iters: c.iters, ...c.py })) };
  pyTimes = JSON.parse(execFileSync(python, [new URL('bench_torch.py', import.meta.url).pathname], {
    input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 1 << 20,
  }));
} else {
  console.log('(no Python with torch found: PyTorch column left empty; install python3-torch)');
}

const rows = [];
for (const c of cases) {
  const us = timeJs(c.js(), c.iters);
  const py = pyTimes[c.name];
  rows.push({ case: c.name, 'torchkd µs': us.toFixed(3), 'PyTorch µs': py?.toFixed(3) ?? '-', ratio: py ? (us / py).toFixed(2) : '-' });
}
console.log(`torchkd vs PyTorch ${python ? `(${python})` : ''}, median of ${REPEATS}; ratio = torchkd / PyTorch`);
console.table(rows);
