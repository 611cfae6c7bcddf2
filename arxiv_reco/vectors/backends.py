"""How a sentence-transformer runs when it only encodes (indexing, evaluation, the teacher, queries).

    encoder = fast_encoder(model)          # OpenVINO in bf16 where the CPU has native bf16, else the model
    encoder.encode(texts, batch_size=64, normalize_embeddings=True)
    choose_backend()                       # 'openvino-bf16' here; 'torch' on a GPU or an older CPU

Encoding is the step users wait for on a CPU. sentence-transformers' own ONNX/OpenVINO backends
need optimum-onnx / optimum-intel, which pin transformers below 5 (checked 2026-11), so the whole
SentenceTransformer forward (transformer, pooling, normalisation) is converted here with
OpenVINO's own ``convert_model`` and compiled for bf16 inference. bench/encode.py measures it:
cosine to the fp32 embeddings >= 0.9998 on the sample, 2.8x (MiniLM) and 3.1x (mpnet) the papers/s of torch fp32.

``auto`` picks OpenVINO bf16 only where it is safe and pays: a CPU that OpenVINO reports native
BF16 for, the model on the CPU, openvino installed. Everything else runs the model as it is
(torch; on a GPU the model's own precision). The choice is recorded in an index, so its queries
are encoded the way its papers were.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import warnings
import weakref
from pathlib import Path

import numpy as np

from ..artifacts import replace_dir
from ..config import CACHE_DIR

BATCH_SIZE = 64  # texts per forward pass, wherever papers are encoded (index, update, teacher, evaluation)

log = logging.getLogger("arxiv_reco")

BACKENDS = ("auto", "torch", "openvino-bf16", "openvino-f32")
KEEP_CONVERSIONS = 8  # converted models kept in the cache (~90 MB each for MiniLM); older ones go
_ENCODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {backend: encoder}


@functools.lru_cache(maxsize=1)
def _cpu_has_native_bf16() -> bool:
    try:
        import openvino as ov
    except ImportError:
        return False
    try:
        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # an OpenVINO that cannot query the CPU: do not guess
        return False


def choose_backend(model=None, backend: str = "auto") -> str:
    """The backend an encode will use: ``auto`` resolves to "openvino-bf16" on a CPU with
    native bf16 (and openvino installed), else "torch"."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend != "auto":
        return backend
    if model is not None and not _is_sentence_transformer(model):
        return "torch"  # a stand-in with its own encode: run it as it is
    if not str(getattr(model, "device", "cpu")).startswith("cpu"):
        return "torch"  # a GPU: the model's own kernels and precision
    return "openvino-bf16" if _cpu_has_native_bf16() else "torch"


def _openvino_usable(model) -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return str(getattr(model, "device", "cpu")).startswith("cpu")


def _is_sentence_transformer(model) -> bool:
    return (hasattr(model, "preprocess") or hasattr(model, "tokenize")) and hasattr(model, "forward") \
        and hasattr(model, "max_seq_length")


def fast_encoder(model, backend: str = "auto"):
    """An object with the model's ``encode`` that runs on ``backend`` (converted once per model).

    >>> fast_encoder(model).encode(["a paper"], normalize_embeddings=True).shape
    (1, 384)
    """
    chosen = choose_backend(model, backend)
    if chosen == "torch" or isinstance(model, OpenVINOEncoder) or not _is_sentence_transformer(model):
        return model  # a stand-in with its own encode runs as it is, whatever was asked
    if not _openvino_usable(model):
        # an index built with OpenVINO, used where it cannot run (no openvino, a GPU): the model
        # as it is gives the same vectors to ~1e-4, which the index's float16 storage rounds anyway
        log.info("OpenVINO cannot run this model here; encoding with torch instead of %s", chosen)
        return model
    cache = _ENCODERS.setdefault(model, {})
    key = (chosen, weights_digest(model))  # a model trained since its conversion gets a new one
    if key not in cache:
        cache.clear()
        cache[key] = _checked(OpenVINOEncoder(model, precision=chosen.split("-", 1)[1]), model)
    return cache[key]


PROBES = ("Attention is all you need. We propose the Transformer, based solely on attention.",
          "Dark matter halos. N-body simulations of structure formation in a cold dark matter universe.")


def _checked(encoder: OpenVINOEncoder, model):
    """The converted encoder if it reproduces the model on two probe texts, else the model itself:
    a converter that mistranslates a model (OpenVINO before 2025.3 does, with transformers 5) fails
    silently, with vectors unrelated to the model's, and a wrong index is worse than a slow one."""
    ours = encoder.encode(list(PROBES), batch_size=2)
    theirs = model.encode(list(PROBES), batch_size=2, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)
    if ours.shape != theirs.shape:  # a conversion of another model (see _converted's key): refused too
        from ..config import CACHE_DIR

        warnings.warn(f"the OpenVINO conversion does not reproduce this model ({ours.shape[-1]} dimensions, not "
                      f"{theirs.shape[-1]}); encoding with torch instead. Delete {CACHE_DIR / 'openvino'} to "
                      "convert again.", RuntimeWarning, stacklevel=3)
        return model
    cos = float(np.min(np.sum(ours * theirs, axis=1)))
    if cos >= 0.99:
        return encoder
    import openvino as ov

    warnings.warn(f"OpenVINO {getattr(ov, '__version__', '?')} does not reproduce this model (cosine "
                  f"{cos:.3f} to torch on a probe); encoding with torch instead. Upgrade openvino "
                  "(pip install -U openvino) for the faster CPU path.", RuntimeWarning, stacklevel=3)
    return model


def weights_digest(model, with_length: bool = True) -> str:
    """A cheap fingerprint of the weights (the first values of every tensor), and of the input
    length the model truncates to unless ``with_length=False``."""
    digest = hashlib.sha256(repr(model.max_seq_length if with_length else None).encode())
    for p in model.parameters():
        digest.update(p.detach().flatten()[:64].float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def torch_model(encoder):
    """The SentenceTransformer behind an encoder (itself for a torch model)."""
    return getattr(encoder, "model", encoder) if isinstance(encoder, OpenVINOEncoder) else encoder


def backend_of(encoder) -> str:
    """The name of the backend an encoder runs on, as an index records it."""
    return f"openvino-{encoder.precision}" if isinstance(encoder, OpenVINOEncoder) else "torch"


class OpenVINOEncoder:
    """A SentenceTransformer whose inference runs through OpenVINO (its state: the compiled model)."""

    def __init__(self, model, precision: str = "bf16"):
        import openvino as ov

        self.model, self.precision = model, precision
        self.max_seq_length = model.max_seq_length
        self.tokenizer = model.tokenizer
        compiled_ir = _converted(model)
        self._compiled = ov.Core().compile_model(
            compiled_ir, "CPU", {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "THROUGHPUT"})
        self._inputs = [i.get_any_name() for i in self._compiled.inputs]

    def get_embedding_dimension(self) -> int:
        return int(self._compiled.outputs[0].get_partial_shape()[-1].get_length())

    def encode(self, texts, batch_size: int = BATCH_SIZE, normalize_embeddings: bool = True, convert_to_numpy: bool = True,
               show_progress_bar: bool = False, **_) -> np.ndarray:
        """The same contract as SentenceTransformer.encode (numpy rows in input order)."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        import openvino as ov

        out = np.empty((len(texts), self.get_embedding_dimension()), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # like texts in a batch: little padding
        # one request per stream the THROUGHPUT hint made (one per core or so): a single synchronous
        # request runs on one stream only, i.e. on one core of two (1.3x torch instead of 2.5x);
        # tokenising the next batch overlaps with the inference of this one
        queue = ov.AsyncInferQueue(self._compiled)

        def done(request, rows):
            out[rows] = request.get_output_tensor(0).data

        queue.set_callback(done)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            feats = _features(self.model, [texts[i] for i in rows])
            queue.start_async({name: feats[name].numpy() for name in self._inputs}, rows)
        queue.wait_all()
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out[0] if single else out


def _features(model, texts: list[str]) -> dict:
    """The model's input tensors for texts (sentence-transformers 6.2 renamed tokenize to preprocess)."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return prepare(texts)


def _converted(model):
    """The model's forward as an OpenVINO model, converted once and kept in arxiv-reco's cache
    (keyed by the weights' fingerprint and the sequence length): later loads take a second."""
    import openvino as ov
    import torch


    feats = _features(model, ["a probe sentence", "a second, somewhat longer probe sentence for shapes"])
    names = [k for k, v in feats.items() if isinstance(v, torch.Tensor)]
    # keyed by the OpenVINO release too: a conversion belongs to the release that made it, and
    # several environments often share one cache (CI's venv and its lowest-versions venv do)
    release = str(getattr(ov, "__version__", "unknown")).split("-")[0]
    # and by the modules and tensor shapes: the weights' digest samples each tensor's first values,
    # which one model and the same model with another head can share
    shapes = hashlib.sha256(repr([type(m).__name__ for m in model] + [tuple(p.shape) for p in model.parameters()])
                            .encode()).hexdigest()[:8]
    folder = CACHE_DIR / "openvino" / f"{weights_digest(model)}-{shapes}-ov{release}"
    core = ov.Core()
    if (folder / "model.xml").exists():
        try:
            model_ir = core.read_model(str(folder / "model.xml"))
            os.utime(folder)  # recently used: the last to be pruned
            return model_ir
        except Exception:  # a damaged cache entry: convert again
            log.info("OpenVINO cache entry %s unreadable; converting again", folder)

    class Forward(torch.nn.Module):
        def __init__(self, st):
            super().__init__()
            self.st = st

        def forward(self, *tensors):
            return self.st(dict(zip(names, tensors)))["sentence_embedding"]

    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():  # the tracer's notes on shape checks it freezes: expected here
            warnings.simplefilter("ignore")
            converted = ov.convert_model(Forward(model), example_input=tuple(feats[n] for n in names))
    finally:
        model.train(was_training)
    for port, name in zip(converted.inputs, names):
        port.get_tensor().set_names({name})

    try:
        with replace_dir(folder) as tmp:
            ov.save_model(converted, str(Path(tmp) / "model.xml"), compress_to_fp16=False)
        _prune(folder.parent)
    except OSError as e:  # a read-only cache only costs the conversion next time
        log.info("could not cache the OpenVINO model in %s: %s", folder, e)
    return converted


def _prune(cache: Path, keep: int = KEEP_CONVERSIONS) -> None:
    """Keep the most recently written conversions (every fine-tuned model adds one)."""
    import shutil

    done = sorted((p for p in cache.iterdir() if (p / "model.xml").exists()), key=lambda p: p.stat().st_mtime)
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
