#!/usr/bin/python3
"""Why the search has no bf16 shortlist: how many candidates a *proven* bf16 window holds.

A reduced-precision shortlist (bf16 dot products, e.g. on AMX, then an exact float32 re-rank) is
exact only if the re-rank sees every row whose bf16 distance is within twice the bf16 error bound
of the smallest one. This script measures that window's size on real memory banks: queries are
rows of a second bank trained on the same images (patches of good parts) that are not in the
first; rows and queries are centred on the bank mean first (distances do not change, norms and
so the bf16 error shrink). Needs python3-torch (bench/coreset_table.sh installs it).

  /usr/bin/python3 bench/shortlist_candidates.py BANK_CHECKPOINT QUERY_CHECKPOINT [queries]

Defaults: the wide_resnet50_2 10k- and 100k-row models of bench/predict_bench.
"""
import json
import struct
import sys

import numpy as np
import torch

WORK = "/tmp/patchcore-predict-bench/models"


def memory_bank(path):
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_len))
        entry = header["memory_bank"]
        begin, end = entry["data_offsets"]
        f.seek(8 + header_len + begin)
        data = np.frombuffer(f.read(end - begin), dtype=np.float32).reshape(entry["shape"])
    return torch.from_numpy(data.copy()).double()


def main():
    bank_path = sys.argv[1] if len(sys.argv) > 1 else f"{WORK}/wide_resnet50_2-bank10000/checkpoint.safetensors"
    query_path = sys.argv[2] if len(sys.argv) > 2 else f"{WORK}/wide_resnet50_2-bank100000/checkpoint.safetensors"
    wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 784
    bank, pool = memory_bank(bank_path), memory_bank(query_path)
    picks = torch.randperm(pool.shape[0], generator=torch.Generator().manual_seed(0))[: 4 * wanted]
    queries = pool[picks]
    true_d2 = torch.cdist(queries, bank) ** 2
    fresh = true_d2.min(1).values > 0  # not a row of the bank itself
    queries, true_d2 = queries[fresh][:wanted], true_d2[fresh][:wanted]

    u, dim = 2.0**-24, bank.shape[1]
    gamma = dim * u / (1 - dim * u)
    mean = bank.mean(0)
    y, q = (bank - mean).float(), (queries - mean).float()
    y16, q16 = y.bfloat16().float().double(), q.bfloat16().float().double()
    y_err, y16_len = (y.double() - y16).norm(dim=1), y16.norm(dim=1)
    q_len, q_err, q16_len = q.double().norm(dim=1), (q.double() - q16).norm(dim=1), q16.norm(dim=1)
    y_max = y.double().norm(dim=1).max()
    approx = (q.double() ** 2).sum(1, keepdim=True) + (y.double() ** 2).sum(1) - 2 * (q16 @ y16.T)

    print(f"bank {tuple(bank.shape)}, {q.shape[0]} queries; nearest d^2 median "
          f"{true_d2.min(1).values.median():.4g}, centred |q|^2 median {(q_len ** 2).median():.4g}")
    bounds = {
        "one bound per query": (q_len * y_err.max() + q_err * y16_len.max() + gamma * q16_len * y16_len.max())[:, None],
        "per (query, row)": q_len[:, None] * y_err[None] + q_err[:, None] * y16_len[None]
        + gamma * q16_len[:, None] * y16_len[None],
    }
    for name, dot_error in bounds.items():
        # |approx - true d^2| <= 2 dot error + rounding of the float32 norms and sums
        bound = 1.01 * (2 * dot_error + gamma * (q_len[:, None] ** 2 + y_max**2) + 5 * u * (q_len[:, None] + y_max) ** 2)
        ceiling = (approx + bound).min(1, keepdim=True).values
        window = ((approx - bound) <= ceiling).sum(1).double()
        print(f"{name}: candidates per query median {window.median():.0f}, mean {window.mean():.1f}, "
              f"95th percentile {window.quantile(0.95):.0f}, max {window.max():.0f}")


if __name__ == "__main__":
    main()
