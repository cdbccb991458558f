# One rank of the distributed benchmark: bench_dist.cjs's program in Python torch.distributed.
import json, os, statistics, time, torch, torch.distributed as dist
import torch.nn as nn

dist.init_process_group('gloo')
REPEATS = 7

def timed(iters, body):
    for _ in range(max(1, iters // 5)):
        body()
    runs = []
    for _ in range(REPEATS):
        dist.barrier()
        t0 = time.perf_counter_ns()
        for _ in range(iters):
            body()
        runs.append((time.perf_counter_ns() - t0) / 1e3 / iters)
    return sorted(runs)[len(runs) // 2]

result = {}
for name, numel, iters in [('allReduce 1 MB', 262144, 50), ('allReduce 64 MB', 16777216, 5)]:
    t = torch.ones(numel)
    result[name] = timed(iters, lambda: dist.all_reduce(t))
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
ddp = nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(64, 784); y = torch.randint(0, 10, (64,))
def step():
    opt.zero_grad()
    nn.functional.cross_entropy(ddp(x), y).backward()
    opt.step()
result['DDP step (MLP 784-512-256-10, batch 64 per rank, SGD)'] = timed(30, step)
dist.destroy_process_group()
if int(os.environ['RANK']) == 0:
    print('RESULT ' + json.dumps(result))
