#!/usr/bin/python3
"""k-center greedy in plain PyTorch, as a yardstick for patchcore's coreset selection.

The loop the issue tracker measured: per step one torch.mv over the projection held
column-major (as sklearn's SparseRandomProjection returns it), the squared distance
|x|^2 - 2 x.c + |c|^2, torch.minimum with the running minimum, argmax. Reads the projection
that `coreset_real_bench --save-npy FILE` wrote, so both sides work on the same numbers.

    /usr/bin/python3 bench/coreset_torch_mv.py FILE.npy --ratio 0.1 --steps 300 --threads 2

Prints one JSON line: rows, dims, steps timed, ms per step.
"""
import argparse
import json
import time

import numpy as np
import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("npy")
    parser.add_argument("--ratio", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=300, help="steps to time (each costs the same)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.from_numpy(np.asfortranarray(np.load(args.npy)))  # column-major, like sklearn's output
    n = x.shape[0]
    size = max(1, int(n * args.ratio))
    steps = min(args.steps, size)
    torch.manual_seed(args.seed)
    norms = (x * x).sum(1)
    min_d = torch.full((n,), float("inf"))
    idx = int(torch.randint(n, (1,)))
    start = time.perf_counter()
    for _ in range(steps):
        d = norms - 2.0 * torch.mv(x, x[idx]) + norms[idx]
        min_d = torch.minimum(min_d, d.clamp_min_(0))
        idx = int(torch.argmax(min_d))
        min_d[idx] = 0
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": n, "dims": x.shape[1], "coreset": size, "steps_timed": steps,
                      "ms_per_step": 1e3 * seconds / steps, "threads": args.threads}))


if __name__ == "__main__":
    main()
