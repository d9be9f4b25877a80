"""The Python client's cost per run.log() call beside a bare Python function call taking
the same dict, in one process (bench/training/run). The client runs offline (to a file), its
background thread batching and writing as it would send: the cost includes the GIL it takes.
Prints JSON."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
import jizhan  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000


def bare(values, step=None):
    return None


def timed(fn):
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(N):
            fn({"loss": 0.5, "acc": 0.9}, step=i)
        best = min(best, time.perf_counter() - t0)
    return best / N * 1e9


with tempfile.TemporaryDirectory() as d:
    run = jizhan.init(offline=os.path.join(d, "run.jsonl"))
    bare_ns = timed(bare)
    log_ns = timed(run.log)
    run.finish()
    lines = sum(1 for _ in open(os.path.join(d, "run.jsonl")))
print(json.dumps({"calls": N, "bare_call_ns": bare_ns, "log_call_ns": log_ns,
                  "ratio": log_ns / bare_ns, "records_written": lines,
                  "python": sys.version.split()[0]}))
