"""Sentence embeddings from any transformers encoder: the one pass every head reads.

Texts are tokenised once, sorted by token length and batched so that padding stays small,
run under ``torch.inference_mode`` and truncated at the model's own limit; the mean of the
last hidden states (masked) is L2-normalised, which is how E5 and most sentence encoders
are trained to be used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pick_dtype(requested: str, device: str):
    """``auto``: float16 on CUDA, bfloat16 on CPUs that run it natively (AVX512-BF16/AMX), else float32."""
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.float16
    try:
        native_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native_bf16 = False
    return torch.bfloat16 if native_bf16 else torch.float32


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
