"""The encoder as an int8 ONNX Runtime session: the fast path on CPUs without native bfloat16.

Why: on AVX2-only CPUs (no AVX-512/bf16, common in clouds) torch falls back to float32 and
the encoder is most of the enrichment time. Dynamic int8 quantisation of the MatMul weights
(per output channel, activations quantised per batch at run time) runs 2-3x faster there;
ONNX Runtime's int8 kernels were faster and closer to float32 on this class than
``torch.ao.quantization.quantize_dynamic`` (measured: cosine to float32 0.996 mean vs 0.983),
and the session needs no torch at run time, which also saves memory.

The float model is exported once (``torch.onnx``, pooling and L2 normalisation inside the
graph), quantised once, and kept in the cache next to the rebuilt encoder, written to a
private file and renamed into place (parallel workers never read half a file). The
tokenizer is the model's own.

Batches are cut by padded tokens, not by a row count: texts sorted by length go into a batch
while rows x longest row stays within ``token_budget`` (256, and at most ``batch_size`` rows).
Measured with ``bench/nlp_encoder_speed.py`` (384 real posts, Weibo + tweets, 26 tokens median;
2 threads; the variants taking turns, 6 rounds; Intel Xeon with AVX-512 + avx512_bf16, the int8
encoder built explicitly, machine shared at load 4): 118 texts/s against 52 for the former fixed
32-row batches (x2.2, median of the rounds); budgets of 128 and 512 tokens gave x2.1 and x2.3.
Padding falls from 29 % to 2 % of the tokens, which alone would explain at most x1.4; the rest
comes with the smaller runs.

Batches run side by side, one per core, each on a single-threaded run of one shared session,
instead of one batch at a time split across the cores by ONNX Runtime's intra-op threads:
a batch of ~256 tokens is too small to split well, and the split threads wait for each other
after every operator. Measured on a 2-core AMD EPYC with AVX2 only (no AVX-512, no VNNI), 512
real posts, budget 256, the variants taking turns over 6 rounds, load ~1.5
(``bench/nlp_encoder_speed.py --posts 512``): 110 texts/s with two intra-op threads, 159 with
two batches side by side.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ONNX_REVISION = 1
"""Bumped when the export or the quantisation changes: a new file is built next to the old."""
_BUILD_LOCK = threading.Lock()
TOKEN_BUDGET = 256
"""Padded tokens (rows x longest row) per ONNX run; ``None`` gives fixed ``batch_size`` rows."""


def onnx_runtime_available() -> bool:
    import importlib.util

    return (importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None)


def cpu_threads() -> int:
    """Cores this process may use (the container's affinity, not the host's count), at most 8."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        count = os.cpu_count() or 1
    return max(1, min(8, count))


def export_int8(model_dir: Path, target: Path) -> Path:
    """Export ``model_dir`` (a transformers encoder) to ``target``, pooled, normalised, int8."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled, dim=-1)

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.partial-{os.getpid()}")
    float_file = partial.with_suffix(".f32.onnx")
    ids = torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    import warnings

    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Pooled(model).eval(), (ids, mask), str(float_file), input_names=["input_ids", "attention_mask"],
                          output_names=["embedding"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}})
        quantize_dynamic(str(float_file), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    float_file.unlink(missing_ok=True)
    for leftover in partial.parent.glob(f"{partial.name}*.data"):
        leftover.unlink(missing_ok=True)
    try:
        partial.rename(target)
    except OSError:
        partial.unlink(missing_ok=True)
    return target


def int8_model_file(model_dir: Path, cache_root: Path) -> Path:
    """The cached int8 ONNX file of ``model_dir``, built on first use."""
    target = cache_root / f"{model_dir.name}-onnx-int8-r{ONNX_REVISION}" / "encoder.onnx"
    with _BUILD_LOCK:
        if not target.is_file():
            log.info("exporting %s to int8 ONNX (once, about 30 s) into %s", model_dir, target)
            export_int8(model_dir, target)
    return target


def inference_session(model_file: Path, intra_op_threads: int):
    """An ONNX Runtime CPU session on ``model_file`` whose operators use ``intra_op_threads`` cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no thread spins waiting for work: on 2 shared cores a spinning thread takes the core
    # from the rest of the enrichment and from other jobs
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


class OnnxInt8Encoder:
    """Same interface as ``nlp.encoder.TransformerEncoder`` (name, prefix, dim, max_length, encode)."""

    dtype = "int8"
    device = "cpu"

    def __init__(self, model_dir: str | Path, name: str, *, cache_root: Path, prefix: str = "",
                 batch_size: int = 32, max_length: int = 256, threads: int | None = None,
                 token_budget: int | None = TOKEN_BUDGET):
        from transformers import AutoConfig, AutoTokenizer

        model_dir = Path(model_dir)
        self.name = name
        self.prefix = prefix
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        config = AutoConfig.from_pretrained(str(model_dir))
        limit = getattr(config, "max_position_embeddings", max_length) or max_length
        tokenizer_limit = self.tokenizer.model_max_length if self.tokenizer.model_max_length < 10**6 else limit
        self.max_length = int(min(max_length, limit, tokenizer_limit))
        self.dim = int(config.hidden_size)
        self.model_file = int8_model_file(model_dir, cache_root)
        self.threads = threads or cpu_threads()
        self.session = inference_session(self.model_file, intra_op_threads=1)  # ``threads`` batches side by side
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    def _batch_pool(self) -> ThreadPoolExecutor | None:
        """Worker threads for side-by-side batches; a new pool in a forked child (a pool's threads
        do not survive ``fork``, and an inherited pool would wait for them forever)."""
        if self.threads <= 1:
            return None
        with self._pool_lock:  # two threads encoding at once share one pool
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx-encoder")
                self._pool_pid = os.getpid()
            return self._pool

    @property
    def provenance(self) -> str:
        return f"{self.name}+onnx-int8"

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, unit length rows.

        Activations are quantised per batch, so a row depends slightly on the rows batched with
        it (cosine to float32 ≥ 0.98 either way); enrichment collapses identical texts first."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = self.tokenizer([self.prefix + text for text in texts], truncation=True,
                                 max_length=self.max_length, padding=False)["input_ids"]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        pad = self.tokenizer.pad_token_id or 0

        def run(chunk: list[int]) -> None:  # a batch's rows depend only on that batch: any order
            width = max(len(encoded[i]) for i in chunk)
            ids = np.full((len(chunk), width), pad, dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                ids[row, :len(encoded[i])] = encoded[i]
                mask[row, :len(encoded[i])] = 1
            out[chunk] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

        batches = length_batches([len(row) for row in encoded], self.batch_size, self.token_budget)
        pool = self._batch_pool() if len(batches) > 1 else None
        if pool is None:
            for chunk in batches:
                run(chunk)
        else:
            list(pool.map(run, batches))  # re-raises a batch's error here
        return out


def length_batches(lengths: list[int], max_rows: int, token_budget: int | None) -> list[list[int]]:
    """Indices of ``lengths`` sorted by length and cut into batches of at most ``max_rows`` rows
    and, with a ``token_budget``, at most that many padded tokens (rows x longest); a text
    longer than the budget runs alone."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:  # ascending, so the row being added is the longest of its batch
        if current and (len(current) >= max_rows
                        or (token_budget is not None and lengths[i] * (len(current) + 1) > token_budget)):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
