#!/usr/bin/env python3
"""../shared/bench/torch_ref.py on a CUDA GPU, unchanged: context for `--backend webgpu` figures.

    python3 bench/torch_ref_cuda.py [PATH/TO/torch_ref.py]

Runs the reference's own `main()` with CUDA as torch's default device (every parameter and
input is created there) and `time.perf_counter` made to synchronise the device first, so that
its timer measures finished GPU work. Same model, workloads and JSON lines, with
"impl": "torch_cuda". Eager PyTorch, no compilation, fp32 (TF32 matmuls stay off, torch's
default).
"""
import json
import runpy
import sys
import time

import torch

ref = sys.argv[1] if len(sys.argv) > 1 else "../shared/bench/torch_ref.py"
if not torch.cuda.is_available():
    sys.exit("torch_ref_cuda.py: torch sees no CUDA device")
torch.set_default_device("cuda")
_clock = time.perf_counter


def _synced_clock():
    torch.cuda.synchronize()
    return _clock()


time.perf_counter = _synced_clock
_print = print


def _print_cuda(*args, **kwargs):
    # Relabel the reference's JSON lines; anything else passes through.
    if len(args) == 1 and isinstance(args[0], str) and args[0].startswith("{"):
        row = json.loads(args[0])
        row["impl"] = "torch_cuda"
        row["device"] = torch.cuda.get_device_name()
        args = (json.dumps(row),)
    _print(*args, **kwargs)


sys.argv = [ref, "1"]  # CPU threads: the host side of eager dispatch
runpy.run_path(ref, init_globals={"print": _print_cuda}, run_name="__main__")
