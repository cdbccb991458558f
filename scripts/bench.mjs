// `npm run bench`: µs per iteration for torchkd and for Python PyTorch (same libtorch build) in the same
// run, and their ratio (torchkd / PyTorch; below 1 means torchkd is faster).
// Each case is written twice, once per language, doing the same work: an op whose result is freed
// (dispose() here, the reference count dropping to zero in Python).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { torchPython } from './python.mjs';

const require = (await import('node:module')).createRequire(import.meta.url);
const { torch, nn, optim, distill, hf } = require('../dist/index.js');

const REPEATS = 9;

/**
 * A KD training step, the same on both sides: a frozen teacher (eval, no grad), CE + KD at T = 4 (KL of the
 * log-softmaxes, batchmean, × T²), AdamW on the student. `models` builds { teacher, student } in JS,
 * `pyModels` in Python; both after manual_seed(0).
 */
function kdStep({ name, iters, input, models, pyModels }) {
  return {
    name, iters,
    js: () => {
      torch.manualSeed(0);
      const { teacher, student } = models();
      const distiller = new distill.Distiller({
        student, teachers: [teacher], terms: [distill.terms.crossEntropy(), distill.terms.kd({ temperature: 4 })],
      });
      const opt = new optim.AdamW(student.parameters(), { lr: 1e-3 });
      const x = torch.randn(input);
      const y = torch.randint(0, 10, [input[0]]);
      const info = { step: 0, totalSteps: 1, epoch: 0, epochs: 1 };
      return () => torch.tidy(() => {
        opt.zeroGrad();
        distiller.step({ input: x, target: y }, info).loss.backward();
        opt.step();
      });
    },
    py: {
      setup: `torch.manual_seed(0)
nn = torch.nn
${pyModels}
teacher = teacher.eval().requires_grad_(False)
opt = torch.optim.AdamW(student.parameters(), lr=1e-3)
x = torch.randn(${input.join(', ')}); y = torch.randint(0, 10, (${input[0]},))`,
      stmt: `opt.zero_grad()
with torch.no_grad():
    t = teacher(x)
s = student(x)
kd = F.kl_div(F.log_softmax(s / 4, 1), F.log_softmax(t / 4, 1), reduction='batchmean', log_target=True) * 16
(F.cross_entropy(s, y) + kd).backward()
opt.step()`,
    },
  };
}

/** name, iterations (and repeats, default REPEATS), JS setup returning the timed body, Python setup and statement. */
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
  ...[32, 512].map((batch) => ({
    name: `MLP 784-256-128-10 train step, batch ${batch}`, iters: batch === 32 ? 2000 : 200,
    js: () => {
      const F = torch.nn.functional;
      torch.manualSeed(0);
      const x = torch.randn([batch, 784]);
      const y = torch.randint(0, 10, [batch]);
      const params = [[256, 784], [256], [128, 256], [128], [10, 128], [10]].map((s) => torch.randn(s).mul(0.05).requiresGrad_());
      const [w1, b1, w2, b2, w3, b3] = params;
      return () => torch.tidy(() => {
        const h = F.relu(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2));
        F.crossEntropy(F.linear(h, w3, b3), y).backward();
        torch.noGrad(() => {
          for (const p of params) {
            p.sub_(p.grad, { alpha: 0.01 });
            p.grad = null;
          }
        });
      });
    },
    py: {
      setup: `torch.manual_seed(0)
x = torch.randn(${batch}, 784); y = torch.randint(0, 10, (${batch},))
params = [(torch.randn(*s) * 0.05).requires_grad_() for s in [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)]]
w1, b1, w2, b2, w3, b3 = params`,
      stmt: `h = F.relu(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2))
F.cross_entropy(F.linear(h, w3, b3), y).backward()
with torch.no_grad():
    for p in params:
        p.sub_(p.grad, alpha=0.01)
        p.grad = None`,
    },
  })),
  {
    name: 'Transformer encoder 4×(d256, 8 heads) seq 64 batch 32, AdamW step', iters: 10,
    js: () => {
      torch.manualSeed(0);
      const layer = new nn.TransformerEncoderLayer(256, 8, { dimFeedforward: 1024, dropout: 0.1, batchFirst: true });
      const model = new nn.TransformerEncoder(layer, 4);
      const opt = new optim.AdamW(model.parameters(), { lr: 1e-4 });
      const x = torch.randn([32, 64, 256]);
      return () => torch.tidy(() => {
        opt.zeroGrad();
        model.call(x).square().mean().backward();
        opt.step();
      });
    },
    py: {
      setup: `torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(256, 8, dim_feedforward=1024, dropout=0.1, batch_first=True)
model = torch.nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
x = torch.randn(32, 64, 256)`,
      stmt: `opt.zero_grad()
model(x).square().mean().backward()
opt.step()`,
    },
  },
  {
    name: 'CNN (2 conv + 2 linear) 28×28 batch 128, AdamW step', iters: 20,
    js: () => {
      torch.manualSeed(0);
      const model = new nn.Sequential(
        new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
        new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
        new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10));
      const opt = new optim.AdamW(model.parameters(), { lr: 1e-3 });
      const x = torch.randn([128, 1, 28, 28]);
      const y = torch.randint(0, 10, [128]);
      return () => torch.tidy(() => {
        opt.zeroGrad();
        nn.functional.crossEntropy(model.call(x), y).backward();
        opt.step();
      });
    },
    py: {
      setup: `torch.manual_seed(0)
nn = torch.nn
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x = torch.randn(128, 1, 28, 28); y = torch.randint(0, 10, (128,))`,
      stmt: `opt.zero_grad()
F.cross_entropy(model(x), y).backward()
opt.step()`,
    },
  },
  kdStep({
    name: 'KD step: CNN student + frozen CNN teacher, CE + KD (T=4), batch 128, AdamW', iters: 20, input: [128, 1, 28, 28],
    models: () => {
      const cnn = (c) => new nn.Sequential(
        new nn.Conv2d(1, c, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
        new nn.Conv2d(c, 2 * c, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
        new nn.Flatten(), new nn.Linear(2 * c * 7 * 7, 10));
      return { teacher: cnn(32), student: cnn(8) };
    },
    pyModels: `def cnn(c):
    return nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(c, 2 * c, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * c * 7 * 7, 10))
teacher = cnn(32)
student = cnn(8)`,
  }),
  // Hugging Face models against transformers (same libtorch; 'sdpa' attention on both sides, train mode with
  // dropout for the step): BERT-base sized, and the 6-layer student of `torchkd text --teacher` on one sentence.
  {
    name: 'BERT-base 12×768 (12 heads) fwd+bwd+AdamW, batch 16, seq 128', iters: 1, repeats: 3,
    js: () => {
      torch.manualSeed(0);
      const model = hf.AutoModelForSequenceClassification.fromConfig(new hf.PretrainedConfig({ model_type: 'bert', num_labels: 150 }));
      model.train();
      const opt = new optim.AdamW(model.parameters(), { lr: 1e-5 });
      const inputIds = torch.randint(1000, 30000, [16, 128]);
      const attentionMask = torch.ones([16, 128], { dtype: 'int64' });
      const labels = torch.randint(0, 150, [16]);
      return () => torch.tidy(() => {
        opt.zeroGrad();
        model.call({ inputIds, attentionMask, labels }).loss.backward();
        opt.step();
      });
    },
    py: {
      setup: `torch.manual_seed(0)
from transformers import BertConfig, BertForSequenceClassification
model = BertForSequenceClassification(BertConfig(num_labels=150)).train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
input_ids = torch.randint(1000, 30000, (16, 128)); attention_mask = torch.ones(16, 128, dtype=torch.long); labels = torch.randint(0, 150, (16,))`,
      stmt: `opt.zero_grad()
model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
opt.step()`,
    },
  },
  {
    name: 'student 6×768 BERT inference, 1 sentence of 16 tokens, no grad', iters: 20,
    js: () => {
      torch.manualSeed(0);
      const model = hf.AutoModelForSequenceClassification.fromConfig(new hf.PretrainedConfig({ model_type: 'bert', num_hidden_layers: 6, num_labels: 150 })).eval();
      const inputIds = torch.randint(1000, 30000, [1, 16]);
      const attentionMask = torch.ones([1, 16], { dtype: 'int64' });
      return () => torch.noGrad(() => torch.tidy(() => { model.call({ inputIds, attentionMask }).logits.dataSync(); }));
    },
    py: {
      setup: `torch.manual_seed(0)
from transformers import BertConfig, BertForSequenceClassification
model = BertForSequenceClassification(BertConfig(num_hidden_layers=6, num_labels=150)).eval()
input_ids = torch.randint(1000, 30000, (1, 16)); attention_mask = torch.ones(1, 16, dtype=torch.long)`,
      stmt: `with torch.no_grad():
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.numpy()`,
    },
  },
  kdStep({
    name: 'KD step: MLP student 784-32-10 + frozen MLP teacher 784-1200-1200-10, CE + KD (T=4), batch 128, AdamW', iters: 50, input: [128, 784],
    models: () => ({
      teacher: new nn.Sequential(new nn.Linear(784, 1200), new nn.ReLU(), new nn.Linear(1200, 1200), new nn.ReLU(), new nn.Linear(1200, 10)),
      student: new nn.Sequential(new nn.Linear(784, 32), new nn.ReLU(), new nn.Linear(32, 10)),
    }),
    pyModels: `teacher = nn.Sequential(nn.Linear(784, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(), nn.Linear(1200, 10))
student = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))`,
  }),
  {
    name: 'fft.rfft [64,128,768] + |X| mean over last axis', iters: 5,
    js: () => {
      const x = torch.randn([64, 128, 768]);
      return () => torch.tidy(() => { torch.fft.rfft(x).abs().mean(-1); });
    },
    py: { setup: 'x = torch.randn(64, 128, 768)', stmt: 'm = torch.fft.rfft(x).abs().mean(-1)' },
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
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) body();
  return Number(process.hrtime.bigint() - t0) / 1e3 / iters;
}

/** The Python worker: one JSON request per line, one JSON answer per line. */
function startPython(python) {
  const child = spawn(python, [new URL('bench_torch.py', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const pending = [];
  lines.on('line', (line) => pending.shift()(JSON.parse(line)));
  return {
    ask: (msg) => new Promise((resolve) => { pending.push(resolve); child.stdin.write(JSON.stringify(msg) + '\n'); }),
    close: () => child.stdin.end(),
  };
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const only = process.argv[2] ? new RegExp(process.argv[2]) : null;
const cases = CASES.filter((c) => !only || only.test(c.name));
const python = torchPython();
if (!python) console.log('(no Python with the same torch as the addon: PyTorch column left empty; set TORCHKD_PYTHON)');
const py = python ? startPython(python) : null;

const rows = [];
for (const c of cases) {
  const body = c.js();
  for (let i = 0; i < Math.max(1, c.iters / 10); i++) body(); // warm-up
  // A case whose Python side cannot run (transformers missing from that Python) keeps an empty column.
  const pyOk = py ? !(await py.ask({ name: c.name, iters: c.iters, ...c.py })).error : false;
  const ours = [];
  const theirs = [];
  for (let r = 0; r < (c.repeats ?? REPEATS); r++) {
    if (pyOk) theirs.push((await py.ask({ run: c.name })).us);
    ours.push(timeJs(body, c.iters));
  }
  const us = median(ours);
  const ref = pyOk ? median(theirs) : undefined;
  rows.push({ case: c.name, 'torchkd µs': us.toFixed(3), 'PyTorch µs': ref?.toFixed(3) ?? '-', ratio: ref ? (us / ref).toFixed(2) : '-' });
}
py?.close();

// torch.distributed: 2 local gloo ranks (loopback) per language, started by `torchkd run`; each run times
// every case on rank 0 (bench_dist.cjs / bench_dist.py). Runs alternate between the languages, and
// torchkd runs with its collective checks (the default) and without (the data path alone).
const distCases = !only || only.test('distributed');
if (distCases) {
  const { execFileSync } = await import('node:child_process');
  const { createServer } = await import('node:net');
  const port = () => new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const p = server.address().port;
      server.close(() => resolve(p));
    });
  });
  const cli = new URL('../dist/cli.js', import.meta.url).pathname;
  const launch = async (program) => {
    const out = execFileSync(process.execPath, [cli, 'run', '--nproc-per-node', '2', '--master-port', String(await port()), ...program],
      { encoding: 'utf8', env: { ...process.env, GLOO_SOCKET_IFNAME: process.env.GLOO_SOCKET_IFNAME ?? 'lo' }, stdio: ['ignore', 'pipe', 'ignore'] });
    const line = out.split('\n').find((l) => l.startsWith('[rank0]:RESULT '));
    return JSON.parse(line.slice('[rank0]:RESULT '.length));
  };
  const script = (f) => new URL(f, import.meta.url).pathname;
  const runs = { checks: [], nochecks: [], py: [] };
  for (let r = 0; r < 3; r++) {
    runs.checks.push(await launch([script('bench_dist.cjs'), 'checks']));
    runs.nochecks.push(await launch([script('bench_dist.cjs'), 'nochecks']));
    if (python) runs.py.push(await launch(['--no-node', python, script('bench_dist.py')]));
  }
  for (const name of Object.keys(runs.checks[0])) {
    const ref = python ? median(runs.py.map((x) => x[name])) : undefined;
    for (const [label, key] of [['', 'checks'], [', without collective checks', 'nochecks']]) {
      const us = median(runs[key].map((x) => x[name]));
      rows.push({ case: `distributed ${name}, 2 gloo ranks${label}`, 'torchkd µs': us.toFixed(1), 'PyTorch µs': ref?.toFixed(1) ?? '-', ratio: ref ? (us / ref).toFixed(2) : '-' });
    }
  }
}
console.log(`torchkd on libtorch ${torch.__version__} vs PyTorch ${python ? `(${python})` : ''}, median of ${REPEATS} interleaved repeats (3 for the BERT-base step); ratio = torchkd / PyTorch`);
console.table(rows);
