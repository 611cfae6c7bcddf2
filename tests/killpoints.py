"""SIGKILL a real `arxiv-reco` command at chosen file operations, many times, cheaply.

One warmed-up server process imports torch and sentence-transformers once and runs each command
in a forked child (fork copies the imports: a child starts in milliseconds, not the ~8 s of a
fresh interpreter). The test attaches strace to the child before it starts, with
``-e inject=SYSCALL:signal=KILL:when=K`` limited by ``-P`` to the artifact's paths, so the
child dies exactly at its K-th such system call: mid-write, between renames, wherever.

    with KillServer() as ks:
        ops = ks.trace(argv, watch)            # the file operations the command makes on `watch`
        status = ks.run(argv, watch, kill_at=ops[3])
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# what writing an artifact consists of
FILE_OPS = ("openat", "write", "pwrite64", "close", "fsync", "mkdir", "rename", "renameat", "renameat2",
            "unlink", "unlinkat", "rmdir", "ftruncate", "msync")

SERVER = r"""
import json, os, sys
# children fork with everything the commands import already imported (a child then starts in ms)
import torch, sentence_transformers, datasets, transformers, scipy.stats, sklearn.feature_extraction.text
import matplotlib.figure, pandas, pyarrow.parquet
from sentence_transformers import SentenceTransformerTrainer
import arxiv_reco.training.train, arxiv_reco.training.evaluate, arxiv_reco.index.paper_index, arxiv_reco.vectors.models
from arxiv_reco import artifacts
from arxiv_reco.cli import main as cli

if "--no-exchange" in sys.argv:  # the file system without renameat2(RENAME_EXCHANGE)
    artifacts._exchange = lambda a, b: False
proto = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # a child's prints must not reach the protocol pipe
os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    argv = json.loads(line)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # wait until strace is attached
        code = 1
        try:
            code = cli(argv)
        finally:
            os._exit(code if isinstance(code, int) else 1)
    os.close(r)
    proto.write(f"{pid}\n")
    sys.stdin.readline()
    os.write(w, b"g")
    os.close(w)
    _, status = os.waitpid(pid, 0)
    proto.write(f"{os.waitstatus_to_exitcode(status)}\n")
"""


def watched_paths(dest: Path, files: list[str]) -> list[str]:
    """Absolute paths strace should watch for an artifact: itself, its partial and previous
    siblings, and every file inside each (strace -P matches whole paths)."""
    from arxiv_reco.artifacts import PARTIAL, PREVIOUS, _sibling

    out = []
    for base in (dest, _sibling(dest, PARTIAL), _sibling(dest, PREVIOUS)):
        base = base.resolve()
        out.append(str(base))
        out += [str(base / f) for f in files]
    return out


class KillServer:
    def __init__(self, no_exchange: bool = False):
        self.args = [sys.executable, "-c", SERVER] + (["--no-exchange"] if no_exchange else [])

    def __enter__(self) -> KillServer:
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def _child(self, argv: list[str]) -> int:
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the kill server died")
        return int(line)

    def _go(self) -> int:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def _strace(self, pid: int, watch: list[str], extra: list[str]) -> subprocess.Popen:
        # --seccomp-bpf: the kernel stops the child only at file operations, not at every futex of
        # torch's threads (a traced training run is otherwise several times slower)
        cmd = ["strace", "-f", "--seccomp-bpf", "-qq", "-p", str(pid), "-e", "trace=" + ",".join(FILE_OPS),
               *[a for p in watch for a in ("-P", p)], *extra]
        st = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until the tracer holds the child
            status = Path(f"/proc/{pid}/status").read_text()
            if re.search(r"^TracerPid:\s+[1-9]", status, re.M):
                time.sleep(0.05)  # strace sets its options right after attaching
                return st
            time.sleep(0.01)
        st.kill()
        raise RuntimeError("strace did not attach")

    def trace(self, argv: list[str], watch: list[str]) -> list[tuple[str, int]]:
        """Run the command to the end and list its file operations on ``watch``, as
        (syscall, how many of that syscall so far in its thread) in order."""
        pid = self._child(argv)
        with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
            st = self._strace(pid, watch, ["-o", log.name])
            code = self._go()
            st.wait(timeout=60)
            lines = Path(log.name).read_text().splitlines()
        if code != 0:
            raise RuntimeError(f"{argv[0]} failed with exit code {code} when run to the end")
        ops, seen = [], {}
        for line in lines:
            m = re.match(r"^(\d+)\s+(\w+)\(", line)
            if m and m[2] in FILE_OPS:
                key = (m[1], m[2])
                seen[key] = seen.get(key, 0) + 1
                ops.append((m[2], seen[key]))
        return ops

    def run(self, argv: list[str], watch: list[str], kill_at: tuple[str, int]) -> int:
        """Run the command, SIGKILLed at the given file operation; returns the exit code
        (-9 when the kill landed)."""
        syscall, k = kill_at
        pid = self._child(argv)
        st = self._strace(pid, watch, ["-o", "/dev/null", "-e", f"inject={syscall}:signal=KILL:when={k}"])
        code = self._go()
        st.wait(timeout=60)
        return code


def spread(ops: list[tuple[str, int]], n: int) -> list[tuple[str, int]]:
    """About n operations spread over the sequence, every rename (the swap itself) included."""
    if not ops:
        return []
    step = max(1, len(ops) // n)
    picked = set(range(0, len(ops), step)) | {len(ops) - 1}
    picked |= {i for i, (s, _) in enumerate(ops) if s.startswith("rename") or s == "mkdir"}
    return [ops[i] for i in sorted(picked)]
