"""Times the benchmark cases in Python PyTorch. Reads a JSON list of {name, setup, stmt, iters} on stdin,
prints a JSON object name -> microseconds per iteration (median of the repeats)."""
import json
import sys
import time

import torch


def time_case(case, repeats):
    scope = {"torch": torch, "F": torch.nn.functional}
    exec(case["setup"], scope)
    body = "\n".join("        " + line for line in case["stmt"].split("\n"))
    exec(f"def _run(n):\n    for _ in range(n):\n{body}\n", scope)
    run = scope["_run"]
    iters = case["iters"]
    run(max(1, iters // 10))  # warm-up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(iters)
        samples.append((time.perf_counter() - t0) / iters * 1e6)
    samples.sort()
    return samples[len(samples) // 2]


def main():
    spec = json.load(sys.stdin)
    out = {case["name"]: time_case(case, spec["repeats"]) for case in spec["cases"]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
