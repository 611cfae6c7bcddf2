"""Install the right torch build before anything else asks for it.

pip's default torch on Linux is a CUDA build of several GB. A CPU-only machine
wants the small CPU build, Colab and GPU machines keep or want the CUDA one.
Run with the interpreter of the target environment:

    .venv/bin/python scripts/install_torch.py

Overrides: TORCH_SPEC (default "torch==2.13.0"), TORCH_INDEX_URL (the CPU wheel index),
TORCH_BUILD=cpu|cuda to skip detection.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from urllib.parse import urlparse

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def has_nvidia_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    return subprocess.run([smi, "-L"], capture_output=True).returncode == 0


def reachable(url: str) -> bool:
    try:
        socket.create_connection((urlparse(url).hostname, 443), timeout=3).close()
        return True
    except OSError:
        return False


def main() -> int:
    if importlib.util.find_spec("torch") is not None and not os.environ.get("TORCH_BUILD"):
        import torch

        print(f"torch {torch.__version__} already installed (CUDA: {torch.cuda.is_available()}); keeping it")
        return 0
    build = os.environ.get("TORCH_BUILD") or ("cuda" if has_nvidia_gpu() else "cpu")
    spec = os.environ.get("TORCH_SPEC", "torch==2.13.0")
    cmd = [sys.executable, "-m", "pip", "install", spec]
    index = os.environ.get("TORCH_INDEX_URL", CPU_INDEX)
    if build == "cpu" and sys.platform.startswith("linux"):
        if reachable(index):
            # The CPU index carries "+cpu" builds, which pip prefers over PyPI's CUDA wheel
            # of the same version.
            cmd += ["--extra-index-url", index]
        else:
            print(f"{index} is out of reach: using pip's configured sources (a local +cpu wheel, if any)")
    print(f"installing the {build} build of torch: {' '.join(cmd[3:])}", flush=True)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
