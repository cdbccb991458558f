"""Python PyTorch side of `npm run bench`. A persistent worker, so that the JS runner can interleave the
two languages repeat by repeat (machine drift then affects both alike). Protocol, one JSON per line:
  in:  {"name", "setup", "stmt", "iters"}   defines and warms a case, answers {"ok": true} (or {"error": message}
                                            when the setup fails, e.g. transformers is not installed there)
  in:  {"run": name}                        times one repeat, answers {"us": microseconds per iteration}
"""
import json
import sys
import time

import torch

cases = {}


def define(case):
    scope = {"torch": torch, "F": torch.nn.functional}
    exec(case["setup"], scope)
    body = "\n".join("        " + line for line in case["stmt"].split("\n"))
    exec(f"def _run(n):\n    for _ in range(n):\n{body}\n", scope)
    cases[case["name"]] = (scope["_run"], case["iters"])
    scope["_run"](max(1, case["iters"] // 10))  # warm-up


def run(name):
    fn, iters = cases[name]
    t0 = time.perf_counter()
    fn(iters)
    return (time.perf_counter() - t0) / iters * 1e6


for line in sys.stdin:
    msg = json.loads(line)
    if "run" in msg:
        reply = {"us": run(msg["run"])}
    else:
        try:
            define(msg)
            reply = {"ok": True}
        except Exception as e:  # noqa: BLE001 - reported to the runner, which leaves the column empty
            reply = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
