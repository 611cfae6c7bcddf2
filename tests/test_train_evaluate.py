"""Fine-tuning learns, evaluation measures what it claims, bad label files are refused."""

from __future__ import annotations

import json
import warnings
import zlib

import numpy as np
import pandas as pd
import pytest
from helpers import SAMPLE_2K

from arxiv_reco.cli import main
from arxiv_reco.labels.labeling import LABEL_COLUMNS, read_labels
from arxiv_reco.pairs.sampling import sample_pairs
from arxiv_reco.papers.corpus import paper_text
from arxiv_reco.papers.snapshot import load_papers
from arxiv_reco.training.evaluate import CollapseWarning, evaluate_models, save_report
from arxiv_reco.training.recipe import Recipe
from arxiv_reco.training.relevance import (
    CategoryRelevance,
    category_qrels,
    per_query,
    read_qrels,
)
from arxiv_reco.training.train import check_labels, finetune

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def _group(pid: str) -> str:
    return "Alpha" if zlib.crc32(pid.encode()) % 2 else "Omega"


@pytest.fixture(scope="module")
def hidden_rule_labels():
    """Labels from a deterministic hidden rule the base model cannot know: each paper's title
    starts with a group word, and pairs score 1.0 within a group, 0.0 across."""
    papers, _ = load_papers(SAMPLE_2K, limit=400)
    papers["title"] = [f"{_group(i)}. {t}" for i, t in zip(papers["id"], papers["title"])]
    papers["text"] = [paper_text(t, a) for t, a in zip(papers["title"], papers["abstract"])]
    pairs = sample_pairs(papers, n=160, strategy="random", seed=0, splits={"train": 0.5, "validation": 0.1, "test": 0.4})
    pairs["score"] = [1.0 if _group(a) == _group(b) else 0.0 for a, b in zip(pairs["id_a"], pairs["id_b"])]
    pairs["text_a"] = [paper_text(t, a) for t, a in zip(pairs["title_a"], pairs["abstract_a"])]
    pairs["text_b"] = [paper_text(t, a) for t, a in zip(pairs["title_b"], pairs["abstract_b"])]
    return pairs, papers


@pytest.fixture(scope="module")
def trained(hidden_rule_labels, tmp_path_factory):
    pairs, papers = hidden_rule_labels
    out = tmp_path_factory.mktemp("model") / "finetuned-arxiv-recommender"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # distill=False: the labels alone (a hidden rule no teacher knows), not an installed teacher beside them
        result = finetune(pairs, base_model=MINILM, output_dir=out, epochs=2, max_seq_length=32,
                          learning_rate=1e-4, papers=papers, progress=False, distill=False)
    return result, caught


@pytest.mark.slow
def test_finetuning_learns_the_hidden_rule_on_held_out_papers(trained, hidden_rule_labels):
    result, _ = trained
    table = result.table
    assert table.loc["fine-tuned", "test_pairs"] == 64
    assert table.loc["base", "spearman"] < 0.4
    assert table.loc["fine-tuned", "spearman"] > table.loc["base", "spearman"] + 0.3
    pairs, _ = hidden_rule_labels
    train_papers = set(pairs.query("split == 'train'")[["id_a", "id_b"]].stack())
    test_papers = set(pairs.query("split == 'test'")[["id_a", "id_b"]].stack())
    assert not train_papers & test_papers  # the gain is on papers it never saw


@pytest.mark.slow
def test_saved_model_has_card_curve_and_evaluation(trained):
    from arxiv_reco.vectors.models import load_model

    result, _ = trained
    d = result.model_dir
    card = (d / "README.md").read_text()
    assert "arxiv-reco evaluation" in card and "fine-tuned" in card and "all-MiniLM-L6-v2" in card
    assert (d / "training_curve.png").stat().st_size > 5000
    history = json.loads((d / "training_log.json").read_text())
    assert any("loss" in h for h in history) and any("eval_validation_spearman_cosine" in h for h in history)
    report = json.loads((d / "evaluation.json").read_text())
    # like with like (the base reading the saved model's 32 tokens), and the base as shipped (256)
    assert {r["model"] for r in report["models"]} == {"tfidf", "base", "base @256", "fine-tuned"}
    assert {r["against"] for r in report["comparison"]} == {"base", "base @256"}
    assert report["verdict"] in card and "reads 32 tokens" in card and "against the base reading its full 256" in card
    assert {r["metric"] for r in report["comparison"]} >= {"spearman", "category_ndcg@10"}
    assert "difference [95% CI]" in card and "| spearman |" in card
    meta = json.loads((d / "arxiv_reco.json").read_text())
    assert meta["text_recipe"] and "installed copy" in meta["base_source"]  # says which copy was used
    assert meta["recipe"]["pair_loss"] == "cosent"  # not the teacher's labels: their order counts, not their value
    assert (d / "trained_on.txt").read_text().split()  # the papers it learnt from, for a later evaluation
    assert not (d / "checkpoints").exists()
    reloaded = load_model(d)
    assert reloaded.encode(["a paper"]).shape == (1, 384)


@pytest.mark.slow
def test_no_deprecation_warnings_from_the_library(trained):
    _, caught = trained
    noisy = [w for w in caught if issubclass(w.category, DeprecationWarning | FutureWarning)
             and "sentence_transformers" in (w.filename + str(w.message))]
    assert not noisy, [str(w.message) for w in noisy]


def _labels(n=40):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pair_id": [f"{i}__{i + 1000}" for i in range(n)], "id_a": [str(i) for i in range(n)],
                         "id_b": [str(i + 1000) for i in range(n)], "text_a": ["x"] * n, "text_b": ["y"] * n,
                         "score": rng.random(n), "split": ["train"] * (n - 8) + ["validation"] * 4 + ["test"] * 4})


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.drop(columns=["split"]), "split"),
    (lambda d: d.drop(columns=["text_b"]), "text_b"),
    (lambda d: d.assign(score=d["score"] + 1.5), r"\[0, 1\]"),
    (lambda d: d.assign(score=d["score"].where(d.index != 3)), r"\[0, 1\]"),
    (lambda d: d.head(12), "too few pairs"),
])
def test_bad_label_files_are_refused_with_a_clear_message(tmp_path, mutate, message):
    path = tmp_path / "labels.csv"
    mutate(_labels()).to_csv(path, index=False)
    with pytest.raises(ValueError, match=message):
        check_labels(path)


def test_read_labels_names_the_bad_lines(tmp_path):
    df = _labels()
    df.loc[5, "score"] = 2.0
    path = tmp_path / "l.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"CSV lines \[7\]"):
        read_labels(path)
    with pytest.raises(FileNotFoundError, match="arxiv-reco label"):
        read_labels(tmp_path / "missing.csv")


def test_category_relevance_is_what_the_docstring_says():
    papers = pd.DataFrame({"id": list("abcdef"), "primary_category": ["cs.CL", "cs.CL", "cs.CL", "math.AG", "q-bio.NC", "cs.IR"],
                           "categories": [["cs.CL"], ["cs.CL", "cs.IR"], ["cs.CL"], ["math.AG"], ["q-bio.NC"], ["cs.IR", "cs.CL"]]})
    qrels = category_qrels(papers)
    # 2: same primary category; 1: a shared cross-listed category only; d, e: nothing to find
    assert qrels == {"a": {"b": 2, "c": 2, "f": 1}, "b": {"a": 2, "c": 2, "f": 1}, "c": {"a": 2, "b": 2, "f": 1},
                     "f": {"a": 1, "b": 1, "c": 1}}
    assert category_qrels(papers, graded=False)["a"] == {"b": 1, "c": 1}
    assert set(category_qrels(papers, queries=["a", "d"])) == {"a"}


class _Vectors:
    """A stand-in model with fixed embeddings, to check the metric arithmetic exactly."""

    def __init__(self, vectors):
        self.vectors = vectors

    def encode(self, texts, **kw):
        v = np.array([self.vectors[t] for t in texts], dtype=float)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def _metrics(vectors: dict, qrels, k: int) -> dict:
    """per_query over fixed embeddings (normalised, as a model's are), averaged: the arithmetic exactly."""
    ids = ["q", "r1", "r2", "n1", "n2"]
    v = np.array([vectors[i] for i in ids], dtype=float)
    per = per_query(v / np.linalg.norm(v, axis=1, keepdims=True), ids, qrels, k)
    return {c: float(per[c].mean()) for c in per.columns}


def test_retrieval_metrics_perfect_and_imperfect_rankers():
    qrels = {"q": {"r1": 2, "r2": 1}}
    m = _metrics({"q": [1, 0], "r1": [1, 0.1], "r2": [1, 0.2], "n1": [0, 1], "n2": [-1, 1]}, qrels, k=2)
    assert m["ndcg@2"] == pytest.approx(1.0) and m["map@2"] == pytest.approx(1.0) and m["recall@2"] == 1.0
    m = _metrics({"q": [1, 0], "r1": [-1, 0.1], "r2": [-1, 0.2], "n1": [1, 0.1], "n2": [1, 0.2]}, qrels, k=2)
    assert m["ndcg@2"] == 0.0 and m["recall@2"] == 0.0
    # r2 (grade 1) above r1 (grade 2)
    m = _metrics({"q": [1, 0], "r1": [1, 0.2], "r2": [1, 0.1], "n1": [0, 1], "n2": [-1, 1]}, qrels, k=2)
    ideal = 2 + 1 / np.log2(3)
    assert m["ndcg@2"] == pytest.approx((1 + 2 / np.log2(3)) / ideal)


def test_qrels_file_and_the_report(tmp_path):
    path = tmp_path / "qrels.tsv"
    path.write_text("query_id\tdoc_id\tgrade\nq\tr1\t2\nq\tr2\t1\n")
    assert read_qrels(path) == {"q": {"r1": 2, "r2": 1}}
    papers = pd.DataFrame({"id": ["q", "r1", "r2", "n1"], "text": ["q", "r1", "r2", "n1"],
                           "primary_category": ["a", "a", "b", "b"]})
    model = _Vectors({"q": [1, 0], "r1": [1, 0.1], "r2": [1, 0.3], "n1": [0, 1]})
    table = evaluate_models({"tfidf": "tfidf", "stub": model}, papers, qrels=read_qrels(path), k=2)
    assert table.loc["stub", "qrels_ndcg@2"] == pytest.approx(1.0)
    json_path, png = save_report(table, tmp_path / "report.json")
    assert json.loads(json_path.read_text())["models"][1]["model"] == "stub" and png.stat().st_size > 3000


def test_collapse_is_flagged():
    papers, _ = load_papers(SAMPLE_2K, limit=120)
    rng = np.random.default_rng(0)
    spread = {t: rng.normal(size=8) for t in papers["text"]}
    squeezed = {t: np.ones(8) * 5 + 0.05 * v for t, v in spread.items()}
    with pytest.warns(CollapseWarning, match="collapsing"):
        table = evaluate_models({"base": _Vectors(spread), "collapsed": _Vectors(squeezed)}, papers)
    assert table.loc["collapsed", "unrelated_cos_mean"] > 0.9 > table.loc["base", "unrelated_cos_mean"]


@pytest.mark.slow
def test_teacher_labels_and_cli_train_evaluate(tmp_path, capsys, monkeypatch):
    papers = tmp_path / "papers.parquet"
    assert main(["sample", "--snapshot", str(SAMPLE_2K), "--n", "300", "--out", str(papers)]) == 0
    pairs = tmp_path / "pairs.csv"
    assert main(["pairs", "--papers", str(papers), "--n", "120", "--out", str(pairs)]) == 0
    labels = tmp_path / "my_labeled_training_data.csv"
    # MiniLM stands in for the heavier mpnet teacher in CI
    assert main(["label", "--labeler", "teacher", "--teacher-model", MINILM, "--pairs", str(pairs),
                 "--out", str(labels), "--store", str(tmp_path / "labels.sqlite")]) == 0
    df = read_labels(labels)
    assert list(df.columns) == LABEL_COLUMNS and len(df) == 120 and (df["labeler"] == "teacher").all()
    assert df["score"].between(0, 1).all() and df["score"].nunique() > 100
    out = capsys.readouterr().out
    assert "offline with the teacher model" in out

    # trained on 16 tokens, the saved model reads 32: what the trainer saw is recorded as it starts
    from sentence_transformers import SentenceTransformerTrainer

    trained_at, train = [], SentenceTransformerTrainer.train
    monkeypatch.setattr(SentenceTransformerTrainer, "train",
                        lambda self, *a, **k: trained_at.append(self.model.max_seq_length) or train(self, *a, **k))
    model_dir = tmp_path / "model"
    assert main(["train", "--labels", str(labels), "--papers", str(papers), "--out", str(model_dir),
                 "--epochs", "1", "--max-seq-length", "32", "--train-seq-length", "16"]) == 0
    out = capsys.readouterr().out
    assert "fine-tuned" in out and "tfidf" in out and "category_ndcg@10" in out and "installed copy" in out
    meta = json.loads((model_dir / "arxiv_reco.json").read_text())
    assert meta["recipe"]["pair_loss"] == "cosine"  # the teacher's labels are cosines
    # anchored pairs, but beside the teacher's distillation the anchors' ranking is off (it cost Spearman)
    assert set(meta["objectives"]) == {"pairs", "distill"}
    assert trained_at == [16] and (meta["recipe"]["train_seq_length"], meta["recipe"]["max_seq_length"]) == (16, 32)
    card = (model_dir / "README.md").read_text()
    assert "trained on 16 tokens; reads 32 tokens" in card  # the model card says so
    from arxiv_reco.vectors.models import load_model

    assert load_model(model_dir).max_seq_length == 32

    report = tmp_path / "report.json"
    assert main(["evaluate", "--model", str(model_dir), "--papers", str(papers), "--labels", str(labels),
                 "--baseline", MINILM, "--out", str(report), "--max-seq-length", "32"]) == 0
    rows = json.loads(report.read_text())
    assert [r["model"] for r in rows["models"]] == ["tfidf", "all-MiniLM-L6-v2", "model"]
    assert rows["compared_to"] == "all-MiniLM-L6-v2" and {r["model"] for r in rows["comparison"]} == {"tfidf", "model"}
    assert report.with_suffix(".png").exists()


def test_training_on_more_tokens_than_the_model_reads_is_refused(hidden_rule_labels, tmp_path):
    pairs, _ = hidden_rule_labels
    with pytest.raises(ValueError, match="longer than the saved model reads"):
        finetune(pairs, base_model=MINILM, output_dir=tmp_path / "m", max_seq_length=64, train_seq_length=128)
    assert not (tmp_path / "m").exists()


def test_unknown_model_name_is_a_clear_error(tmp_path):
    from arxiv_reco.vectors.models import load_model

    with pytest.raises(OSError, match="not a local folder|Could not load model"):
        load_model("sentence-transformers/no-such-model-xyz")


def test_paired_bootstrap_tells_a_real_gain_from_noise():
    from arxiv_reco.training.stats import paired_bootstrap

    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.6, 300)
    gain = paired_bootstrap(base, base + 0.03 + rng.normal(0, 0.05, 300))
    assert gain["verdict"] == "better" and 0 < gain["ci_low"] < 0.03 < gain["ci_high"] < 0.04 and gain["p"] < 0.001
    noise = paired_bootstrap(base, base + rng.normal(0, 0.05, 300))
    assert noise["verdict"] == "not significant" and noise["ci_low"] < 0 < noise["ci_high"] and noise["p"] > 0.05
    assert paired_bootstrap(base, base - 0.05)["verdict"] == "worse"


def test_the_comparison_is_paired_over_the_same_queries_and_pairs():
    from arxiv_reco.training.evaluate import measure
    from arxiv_reco.training.stats import spearman_bootstrap

    papers, _ = load_papers(SAMPLE_2K, limit=200)
    rng = np.random.default_rng(0)
    good = {t: np.eye(4)[zlib.crc32(c.encode()) % 4] + 0.3 * rng.normal(size=4) for t, c in zip(papers["text"], papers["primary_category"])}
    bad = {t: rng.normal(size=4) for t in papers["text"]}
    ev = measure({"random": _Vectors(bad), "by-field": _Vectors(good)}, papers)
    cmp = ev.compare("random").set_index("metric")
    assert cmp.loc["category_ndcg@10", "verdict"] == "better" and cmp.loc["category_ndcg@10", "n"] == ev.table.loc["random", "category_queries"] > 150
    assert cmp.loc["category_ndcg@10", "diff"] == pytest.approx(
        ev.table.loc["by-field", "category_ndcg@10"] - ev.table.loc["random", "category_ndcg@10"])
    labels = rng.uniform(size=80)
    same = spearman_bootstrap(labels + rng.normal(0, 0.3, 80), labels + rng.normal(0, 0.3, 80), labels)
    assert same["verdict"] == "not significant"
    better = spearman_bootstrap(labels + rng.normal(0, 0.5, 80), labels + rng.normal(0, 0.05, 80), labels)
    assert better["verdict"] == "better" and better["ci_low"] > 0


def test_the_share_of_the_gap_to_the_teacher_comes_with_its_interval():
    from arxiv_reco.training.stats import gap_share

    rng = np.random.default_rng(0)
    labels = rng.uniform(size=300)
    base, teacher = labels + rng.normal(0, 0.4, 300), labels + rng.normal(0, 0.05, 300)
    assert gap_share(base, teacher, teacher, labels)["share"] == pytest.approx(1.0)
    assert gap_share(base, base, teacher, labels)["share"] == pytest.approx(0.0)
    halfway = gap_share(base, labels + rng.normal(0, 0.15, 300), teacher, labels)
    assert 0.2 < halfway["ci_low"] < halfway["share"] < halfway["ci_high"] < 0.95 and halfway["n"] == 300
    # on 30 pairs a model as good is measured less surely: the interval says so
    few = gap_share(base[:30], (labels + rng.normal(0, 0.15, 300))[:30], teacher[:30], labels[:30])
    assert few["ci_high"] - few["ci_low"] > halfway["ci_high"] - halfway["ci_low"]
    # a "ceiling" no better than the base leaves no gap to close
    assert np.isnan(gap_share(teacher, base, teacher, labels)["share"])


def test_the_objectives_follow_the_labels():
    from arxiv_reco.labels.teacher import teacher_of, teacher_version
    from arxiv_reco.training.objectives import anchored, build_objectives, pair_loss, rank_rows

    papers, _ = load_papers(SAMPLE_2K, limit=200)
    pairs = sample_pairs(papers, n=60, strategy="anchored", seed=0, splits={"train": 1.0})
    pairs["text_a"], pairs["text_b"] = pairs["title_a"], pairs["title_b"]
    pairs["score"] = np.where(pairs["strategy"] == "anchored-near", 0.8, 0.1)
    assert anchored(pairs) and not anchored(pairs.assign(anchor=""))
    rows = rank_rows(pairs)  # (anchor, best partner, worst partner): the near neighbour first
    strategy = {frozenset(ab): s for ab, s in zip(zip(pairs["text_a"], pairs["text_b"]), pairs["strategy"])}
    assert rows and all(strategy[frozenset((a, pos))] == "anchored-near" and strategy[frozenset((a, neg))] != "anchored-near"
                        for a, pos, neg in rows)
    gemini = pairs.assign(labeler="gemini", model="gemini-2.5-flash", prompt_version="p1")
    taught = pairs.assign(labeler="teacher", model="t/teacher", prompt_version=teacher_version(128), reads=128)
    assert teacher_of(gemini) is None and teacher_of(taught) == ("t/teacher", 128)

    class Stub:
        pass

    assert [type(pair_loss(name, Stub())).__name__ for name in ("cosine", "cosent", "angle")] == [
        "CosineSimilarityLoss", "CoSENTLoss", "AnglELoss"]
    with pytest.raises(ValueError, match="unknown loss 'mse'; choose one of cosine, cosent, angle"):
        pair_loss("mse", Stub())
    objectives = build_objectives(Stub(), pairs, Recipe(pair_loss="cosine", rank=True, epochs=1))
    assert set(objectives) == {"pairs", "rank"} and len(objectives["rank"][0]) == len(rows)
    vectors = np.eye(8)[np.arange(len(papers)) % 8] + 0.01
    with_teacher = build_objectives(Stub(), pairs, Recipe(pair_loss="cosine", rank=False, epochs=1),
                                    teacher_texts=papers["text"].tolist(), teacher_vectors=vectors)
    assert set(with_teacher) == {"pairs", "distill"} and len(with_teacher["distill"][0]) == len(papers)
    first = with_teacher["distill"][0][0]  # a paper and its teacher neighbours: the same direction
    assert np.allclose(np.array(first["label"]).reshape(3, -1)[0].argmax(), np.array(first["label"]).reshape(3, -1)[1].argmax())


def test_distillation_matches_the_teacher_and_is_exact_under_bf16_autocast():
    import torch

    from arxiv_reco.training.objectives import SimilarityDistillLoss

    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(3, 16, 24)).astype(np.float32)  # 3 texts a row, 16 rows, 24 dimensions
    labels = torch.tensor(teacher.transpose(1, 0, 2).reshape(16, -1))

    class Echo(torch.nn.Module):  # a "model" whose embeddings are given vectors, so the loss is known
        def forward(self, features):
            return {"sentence_embedding": features["v"]}

    def loss(student, calibration, autocast=False):
        fn = SimilarityDistillLoss(Echo(), calibration=calibration)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            return float(fn([{"v": torch.tensor(s)} for s in student], labels))

    assert loss(teacher, 50) == pytest.approx(0, abs=1e-6)  # the teacher itself: nothing to learn
    # the same neighbours, compressed cosines: the softmax term barely sees it, the calibration does
    squeezed = teacher + 3 * teacher.mean(axis=(0, 1))
    assert loss(squeezed, 50) > 10 * loss(squeezed, 0) > 0
    # bf16 rounding of cosines, times 1/T = 20, would be the size of the differences being matched
    noisy = teacher + rng.normal(0, 0.3, teacher.shape).astype(np.float32)
    assert loss(noisy, 50, autocast=True) == pytest.approx(loss(noisy, 50), rel=1e-5)


def test_category_relevance_computed_on_the_fly_equals_the_listed_judgments():
    papers, _ = load_papers(SAMPLE_2K, limit=500)
    ids = papers["id"].tolist()
    emb = np.random.default_rng(0).normal(size=(len(papers), 16))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    queries = ids[::3]
    for graded in (True, False):
        listed = per_query(emb, ids, category_qrels(papers, queries=queries, graded=graded), 10)
        computed = per_query(emb, ids, CategoryRelevance(papers, queries=queries, graded=graded), 10)
        assert list(listed.index) == list(computed.index) and len(listed) > 100
        assert np.allclose(listed.to_numpy(), computed.to_numpy())
