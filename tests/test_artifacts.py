"""Nothing a user built is ever lost: atomic artifacts, safe re-runs, resumable encoding.

The kill tests SIGKILL real `arxiv-reco index` and `arxiv-reco train` runs at file operation
after file operation while they write (strace, see killpoints.py); after every kill the output
path must load and answer, holding the previous artifact or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import FAST, FAST_SKIP, REPO, SAMPLE_2K
from killpoints import KillServer, spread, watched_paths

from arxiv_reco import artifacts
from arxiv_reco.artifacts import ArtifactWriteError, recover, replace_dir, replace_file
from arxiv_reco.cli import main
from arxiv_reco.papers.snapshot import load_papers

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
STRACE = shutil.which("strace")
needs_strace = pytest.mark.skipif(STRACE is None or FAST, reason=FAST_SKIP if FAST else "strace is not installed (apt-get install strace)")


# ---- the helper itself --------------------------------------------------------------------------
def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path):
    dest = tmp_path / "pairs.csv"
    dest.write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"), replace_file(dest) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("boom")
    assert dest.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["pairs.csv"]  # no partial, no lock file
    with replace_file(dest) as tmp:
        tmp.write_text("new\n")
    assert dest.read_text() == "new\n"


def test_a_failed_folder_write_leaves_the_old_folder(tmp_path):
    dest = tmp_path / "index"
    with replace_dir(dest) as tmp:
        (tmp / "index.json").write_text("v1")
    with pytest.raises(KeyboardInterrupt), replace_dir(dest, keep_if="index.json") as tmp:
        (tmp / "index.json").write_text("v2")
        raise KeyboardInterrupt
    assert (dest / "index.json").read_text() == "v1" and not (tmp_path / ".index.partial").exists()


def test_a_folder_that_is_not_the_artifact_is_never_replaced(tmp_path):
    home = tmp_path / "my-papers"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(ArtifactWriteError, match="refusing to replace"), replace_dir(home, keep_if="index.json"):
        pass
    assert (home / "thesis.tex").read_text() == "years of work"


def test_the_two_rename_swap_is_finished_after_a_kill_between_the_renames(tmp_path, monkeypatch):
    dest = tmp_path / "model"
    with replace_dir(dest) as tmp:
        (tmp / "v").write_text("1")
    # what a kill between the two renames of the fallback swap leaves behind
    partial, previous = tmp_path / ".model.partial", tmp_path / ".model.previous"
    partial.mkdir()
    (partial / "v").write_text("2")
    dest.rename(previous)
    recover(dest)
    assert (dest / "v").read_text() == "2" and not previous.exists() and not partial.exists()
    # killed after moving the old one aside, before the new one was complete: impossible by
    # construction, but a lone previous is rolled back
    dest.rename(previous)
    recover(dest)
    assert (dest / "v").read_text() == "2"
    # and the fallback swap itself (file systems without RENAME_EXCHANGE)
    monkeypatch.setattr(artifacts, "_exchange", lambda a, b: False)
    with replace_dir(dest) as tmp:
        (tmp / "v").write_text("3")
    assert (dest / "v").read_text() == "3" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@needs_strace
@pytest.mark.parametrize(("errno_name", "words"), [("ENOSPC", "the disk is full"), ("EACCES", "no permission")])
def test_disk_full_or_no_permission_is_one_clear_message_and_the_old_file_survives(tmp_path, errno_name, words):
    papers = tmp_path / "papers.jsonl"
    papers.write_bytes(b"".join(SAMPLE_2K.read_bytes().splitlines(keepends=True)[:80]))
    out = tmp_path / "pairs.csv"
    out.write_text("the pairs I already paid to label\n")
    partial = str((tmp_path / ".pairs.partial.csv").resolve())
    syscall = "write" if errno_name == "ENOSPC" else "openat"
    done = subprocess.run(
        [STRACE, "-f", "-qq", "-o", "/dev/null", "-P", partial, "-e", f"inject={syscall}:error={errno_name}",
         sys.executable, "-m", "arxiv_reco", "pairs", "--papers", str(papers), "--n", "30", "--out", str(out)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"could not write {out}" in err and words in err and "previous pairs.csv is unchanged" in err
    assert out.read_text() == "the pairs I already paid to label\n"
    assert not Path(partial).exists()


# ---- re-running a step on its own output ----------------------------------------------------------
@pytest.fixture(scope="module")
def corpus():
    papers, _ = load_papers(SAMPLE_2K, limit=60)
    return papers


def test_index_rerun_leaves_it_untouched_and_appends_only_new_papers(tmp_path, corpus, capsys):
    papers, out = tmp_path / "papers.parquet", tmp_path / "ix"
    corpus.head(40).to_parquet(papers)
    args = ["index", "--model", MINILM, "--papers", str(papers), "--out", str(out), "--max-seq-length", "32"]
    assert main(args) == 0
    before = (out / "embeddings.npy").stat()
    capsys.readouterr()
    assert main(args) == 0  # the same papers again: nothing to do
    assert "left it untouched" in capsys.readouterr().out
    after = (out / "embeddings.npy").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert main(["recommend", "--index", str(out), "--id", corpus["id"][3], "-k", "3", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3

    corpus.to_parquet(papers)  # 20 more
    assert main(args) == 0
    assert "added 20 new papers (now 60)" in capsys.readouterr().out
    assert main(["recommend", "--index", str(out), "--id", corpus["id"][55], "-k", "3", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".ix")) == []  # no leftovers, no lock file


# ---- SIGKILL while writing ------------------------------------------------------------------------
def _index_answers(path: Path, sizes: set[int]) -> int:
    from arxiv_reco.index.paper_index import PaperIndex

    index = PaperIndex.load(path)
    assert len(index) in sizes
    assert len(index.similar(index.meta["id"][0], k=3)) == 3
    assert np.isfinite(np.asarray(index.embeddings, dtype=np.float32)).all()
    return len(index)


@pytest.mark.slow
@needs_strace
@pytest.mark.parametrize("no_exchange", [False, True], ids=["renameat2", "two-renames"])
def test_sigkill_of_index_at_every_stage_of_writing_leaves_an_index_that_answers(tmp_path, corpus, no_exchange):
    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    corpus.head(40).to_parquet(old)
    corpus.to_parquet(new)
    pristine = tmp_path / "pristine"
    assert main(["index", "--model", MINILM, "--papers", str(old), "--out", str(pristine), "--max-seq-length", "16"]) == 0
    files = sorted(str(p.relative_to(pristine)) for p in pristine.rglob("*"))
    outcomes = []
    with KillServer(no_exchange=no_exchange) as ks:
        def attempt(k: int):
            out = tmp_path / f"run{k}" / "ix"
            shutil.copytree(pristine, out)
            argv = ["index", "--model", MINILM, "--papers", str(new), "--out", str(out), "--max-seq-length", "16"]
            return out, argv, watched_paths(out, files)

        out, argv, watch = attempt(0)
        ops = ks.trace(argv, watch)
        assert _index_answers(out, {60}) == 60 and len(ops) >= 10
        for k, op in enumerate(spread(ops, 14), start=1):
            out, argv, watch = attempt(k)
            code = ks.run(argv, watch, kill_at=op)
            outcomes.append((op, code, _index_answers(out, {40, 60})))
    killed = [o for o in outcomes if o[1] == -signal.SIGKILL]
    assert len(killed) >= len(outcomes) - 1, outcomes  # the kills landed while it wrote
    assert {n for _, _, n in killed} == {40, 60}, outcomes  # killed before the swap: old; after: new


@pytest.mark.slow
@needs_strace
def test_sigkill_of_train_at_every_stage_of_saving_leaves_a_model_that_loads(tmp_path, corpus):
    from arxiv_reco.labels.labeling import LABEL_COLUMNS
    from arxiv_reco.pairs.sampling import sample_pairs
    from arxiv_reco.vectors.models import load_model

    pairs = sample_pairs(corpus, n=48, strategy="mixed", seed=0, splits={"train": 0.7, "validation": 0.15, "test": 0.15})
    pairs["text_a"], pairs["text_b"] = pairs["title_a"], pairs["title_b"]
    pairs["score"] = np.linspace(0, 1, len(pairs))
    pairs["labeler"], pairs["model"], pairs["prompt_version"], pairs["reads"] = "test", "test", "test", 300
    labels = tmp_path / "labels.csv"
    pairs[LABEL_COLUMNS].to_csv(labels, index=False)
    pristine = tmp_path / "pristine"

    def argv(out: Path, seed: int) -> list[str]:
        return ["train", "--labels", str(labels), "--out", str(out), "--epochs", "1", "--max-seq-length", "16",
                "--seed", str(seed)]

    assert main(argv(pristine, 0)) == 0
    files = sorted(str(p.relative_to(pristine)) for p in pristine.rglob("*"))
    seeds = []
    with KillServer() as ks:
        out = tmp_path / "run0" / "model"
        shutil.copytree(pristine, out)
        ops = ks.trace(argv(out, 1), watched_paths(out, files))
        assert len(ops) >= 20
        for k, op in enumerate(spread(ops, 10), start=1):
            out = tmp_path / f"run{k}" / "model"
            shutil.copytree(pristine, out)
            code = ks.run(argv(out, 1), watched_paths(out, files), kill_at=op)
            assert code == -signal.SIGKILL, op
            meta = json.loads((out / "arxiv_reco.json").read_text())
            assert {f for f in files} <= {str(p.relative_to(out)) for p in out.rglob("*")}  # complete
            assert load_model(out).encode(["a paper"]).shape == (1, 384)
            seeds.append(meta["seed"])
    assert set(seeds) == {0, 1}  # the old model before the swap, the new one after


# ---- resumable encoding -------------------------------------------------------------------------
@pytest.mark.slow
def test_an_interrupted_encode_resumes_and_equals_an_uninterrupted_one(tmp_path):
    from arxiv_reco.vectors.embed import encode
    from arxiv_reco.vectors.models import load_model

    papers, _ = load_papers(SAMPLE_2K, limit=2000)
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(papers["text"].tolist()))
    ckpt = tmp_path / ".ix.encoding"
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(REPO)!r})
        from arxiv_reco.vectors.embed import encode
        from arxiv_reco.vectors.models import load_model
        texts = json.load(open({str(texts_file)!r}))
        encode(load_model({MINILM!r}, max_seq_length=16), texts, checkpoint={str(ckpt)!r}, shard_size=256,
               progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(ckpt.glob("shard-*.npy"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list(ckpt.glob("shard-*.npy")))
    assert 3 <= finished < 8  # killed part-way: 2000 papers are 8 shards of 256

    model = load_model(MINILM, max_seq_length=16)
    seen = []
    real = model.encode

    def counting(texts, **kw):
        seen.extend(texts)
        return real(texts, **kw)

    model.encode = counting
    resumed = encode(model, papers["text"].tolist(), checkpoint=ckpt, shard_size=256, progress=False)
    assert len(seen) <= 2000 - finished * 256 + 1  # only the missing shards (+ the fingerprint probe)
    model.encode = real
    whole = encode(model, papers["text"].tolist(), shard_size=256, progress=False)  # the same chunking, no checkpoint
    assert np.array_equal(resumed, whole)


def test_a_checkpoint_of_another_job_is_not_used(tmp_path):
    from arxiv_reco.vectors.embed import encode

    class Fixed:
        def __init__(self, k):
            self.k = k

        def encode(self, texts, **kw):
            return np.stack([np.full(4, self.k + len(t), dtype=np.float32) for t in texts])

    ckpt = tmp_path / "ck"
    a = encode(Fixed(1), ["aa", "b"], checkpoint=ckpt, progress=False)
    b = encode(Fixed(2), ["aa", "b"], checkpoint=ckpt, progress=False)  # another model: starts over
    assert not np.array_equal(a, b)
    c = encode(Fixed(2), ["aa", "bbb"], checkpoint=ckpt, progress=False)  # other texts: starts over
    assert not np.array_equal(b, c)
    assert pd.Series(os.listdir(ckpt)).str.startswith("shard-").sum() == 1
