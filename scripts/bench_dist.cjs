// One rank of the distributed benchmark (scripts/bench.mjs starts two with `torchkd run`): allReduce of 1 MB
// and 64 MB of float32 and a DDP training step, each timed on rank 0 as the median of interleaved repeats.
// bench_dist.py is the same program in Python torch.distributed. argv[2]: 'checks' or 'nochecks'.
const { torch, nn, optim } = require('../dist/index.js');

const dist = torch.distributed;
dist.initProcessGroup({ backend: 'gloo', checkCollectives: process.argv[2] !== 'nochecks' });
const REPEATS = 7;
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function time(iters, body) {
  for (let i = 0; i < Math.max(1, iters / 5); i++) body();
  const runs = [];
  for (let r = 0; r < REPEATS; r++) {
    dist.barrier();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) body();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / iters);
  }
  return median(runs);
}

const result = {};
for (const [name, numel, iters] of [['allReduce 1 MB', 262144, 50], ['allReduce 64 MB', 16777216, 5]]) {
  const t = torch.ones([numel]);
  result[name] = time(iters, () => dist.allReduce(t));
  t.dispose();
}
torch.manualSeed(0);
const model = new nn.Sequential(new nn.Linear(784, 512), new nn.ReLU(), new nn.Linear(512, 256), new nn.ReLU(), new nn.Linear(256, 10));
const ddp = new nn.parallel.DistributedDataParallel(model);
const opt = new optim.SGD(model.parameters(), { lr: 0.01 });
const x = torch.randn([64, 784]);
const y = torch.randint(0, 10, [64]);
result['DDP step (MLP 784-512-256-10, batch 64 per rank, SGD)'] = time(30, () => torch.tidy(() => {
  opt.zeroGrad();
  nn.functional.crossEntropy(ddp.call(x), y).backward();
  opt.step();
}));
dist.destroyProcessGroup();
if (Number(process.env.RANK) === 0) console.log(`RESULT ${JSON.stringify(result)}`);
