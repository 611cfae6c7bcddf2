"""Encoding throughput without losing quality: the OpenVINO bf16 backend, its cache, multi-process
encoding. Speeds are measured in bench/encode.py, never here; these tests check what must stay true."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import SAMPLE_2K

from arxiv_reco.papers.snapshot import load_papers
from arxiv_reco.vectors.backends import (
    OpenVINOEncoder,
    backend_of,
    choose_backend,
    fast_encoder,
    torch_model,
)
from arxiv_reco.vectors.embed import encode, model_fingerprint

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def _openvino_bf16() -> bool:
    try:
        import openvino as ov
    except ImportError:
        return False
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


needs_bf16 = pytest.mark.skipif(not _openvino_bf16(), reason="OpenVINO with a native-bf16 CPU is not available here")


@pytest.fixture(scope="module")
def texts():
    papers, _ = load_papers(SAMPLE_2K, limit=96)
    return papers["text"].tolist()


@pytest.fixture
def model():
    from arxiv_reco.vectors.models import load_model

    return load_model(MINILM, max_seq_length=64)


def test_auto_is_torch_for_stand_ins_and_explicit_choices_hold():
    class StandIn:
        def encode(self, texts, **kw):
            return np.ones((len(texts), 4), dtype=np.float32)

    assert choose_backend(StandIn()) == "torch" and fast_encoder(StandIn()).__class__ is StandIn
    assert choose_backend(None, "openvino-f32") == "openvino-f32"
    with pytest.raises(ValueError, match="backend must be one of"):
        choose_backend(None, "onnx")


@needs_bf16
def test_openvino_bf16_embeddings_match_fp32(model, texts):
    assert choose_backend(model) == "openvino-bf16"
    fp32 = encode(model, texts, backend="torch", progress=False)
    bf16 = encode(model, texts, backend="auto", progress=False)
    cos = np.sum(fp32 * bf16, axis=1)
    assert cos.min() >= 0.999 and np.allclose(np.linalg.norm(bf16, axis=1), 1, atol=1e-5)
    # neighbours agree: each paper's nearest other paper is the same under both
    nn32, nn16 = (np.argsort(-(e @ e.T) + 2 * np.eye(len(e)), axis=1)[:, 0] for e in (fp32, bf16))
    assert (nn32 == nn16).mean() >= 0.95


@needs_bf16
@pytest.mark.parametrize("dim", [384, 768])
def test_a_conversion_that_does_not_reproduce_the_model_is_refused(model, texts, monkeypatch, dim):
    # 384: what OpenVINO 2025.0-2025.2 did with transformers 5, vectors unrelated to the model's;
    # 768: a cached conversion of another model's head (its sampled weights coincided)
    def wrong(self, batch, **kw):
        rng = np.random.default_rng(0)
        v = rng.normal(size=(len(batch), dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    monkeypatch.setattr(OpenVINOEncoder, "encode", wrong)
    with pytest.warns(RuntimeWarning, match="does not reproduce this model"):
        chosen = fast_encoder(model)
    assert chosen is model and backend_of(chosen) == "torch"
    # and an encode through it gives the model's own vectors
    assert np.allclose(encode(model, texts[:3], progress=False),
                       encode(model, texts[:3], backend="torch", progress=False), atol=1e-5)


@needs_bf16
def test_a_model_trained_after_its_conversion_is_converted_again(model, texts):
    first = fast_encoder(model)
    assert isinstance(first, OpenVINOEncoder) and torch_model(first) is model and backend_of(first) == "openvino-bf16"
    before = first.encode(texts[:4])
    with torch.no_grad():  # what a training step does to the weights
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    second = fast_encoder(model)
    assert second is not first
    after = second.encode(texts[:4])
    assert np.sum(before * after, axis=1).max() < 0.999  # not the stale conversion
    assert np.allclose(after, encode(model, texts[:4], backend="torch", progress=False), atol=0.02)
    assert model_fingerprint(second) == model_fingerprint(model)  # weights' fingerprint, whatever runs them


@needs_bf16
def test_an_index_records_its_encoder_and_encodes_queries_the_same_way(model, texts, tmp_path):
    import pandas as pd

    from arxiv_reco.index.paper_index import PaperIndex

    papers, _ = load_papers(SAMPLE_2K, limit=40)
    index = PaperIndex.build(model, papers, show_progress=False, model_name=MINILM)
    assert index.info["encoder"] == "openvino-bf16"
    index.save(tmp_path / "ix")
    loaded = PaperIndex.load(tmp_path / "ix", model)
    assert loaded.encoder == "openvino-bf16"
    assert loaded.search(papers["title"][7], k=1)["id"][0] == papers["id"][7]
    torch_index = PaperIndex.build(model, papers, show_progress=False, encoder="torch")
    assert torch_index.info["encoder"] == "torch"
    assert isinstance(torch_index.similar(papers["id"][0], k=3), pd.DataFrame)


@pytest.mark.slow
def test_two_cpu_processes_give_what_one_process_gives(model, texts):
    one = encode(model, texts, backend="torch", progress=False)
    two = encode(model, texts, devices=["cpu", "cpu"], progress=False)
    assert two.shape == one.shape and np.allclose(one, two, atol=1e-5)


@needs_bf16
def test_the_same_weights_with_another_head_get_their_own_conversion(texts):
    # a 384 -> 768 head whose first rows are the 384 -> 384 head's: the weights' digest samples each
    # tensor's first values, so both models digest alike; the second must not run the first's conversion
    from sentence_transformers.sentence_transformer.modules import Dense

    from arxiv_reco.vectors.models import load_model

    torch.manual_seed(0)
    w, b = torch.randn(768, 384) / 20, torch.randn(768) / 20
    small, wide = (load_model(MINILM, max_seq_length=64) for _ in range(2))
    small.append(Dense(384, 384, init_weight=w[:384].clone(), init_bias=b[:384].clone(),
                       activation_function=torch.nn.Identity()))
    wide.append(Dense(384, 768, init_weight=w, init_bias=b, activation_function=torch.nn.Identity()))
    assert model_fingerprint(small) == model_fingerprint(wide)  # the collision this is about
    assert encode(small, texts[:4], progress=False).shape == (4, 384)
    got = encode(wide, texts[:4], progress=False)
    assert isinstance(fast_encoder(wide), OpenVINOEncoder)
    assert got.shape == (4, 768)
    assert np.allclose(got, encode(wide, texts[:4], backend="torch", progress=False), atol=0.02)
