"""Speed of the int8 ONNX encoder alone: fixed 32-row batches against padded-token budgets, and
batches side by side against one batch at a time on intra-op threads.

Usage: .venv/bin/python bench/nlp_encoder_speed.py [--posts 384] [--rounds 6] [--budgets 256]

The int8 ONNX encoder is what ``dtype: auto`` runs on CPUs without native bfloat16 (AVX2-only);
it is built explicitly here (``nlp.builtin.int8_encoder``) whatever this CPU is, so a CPU with
AVX-512/bf16 measures the AVX2 path's batching too (its absolute speed is not an AVX2 CPU's).
Texts: ``--posts`` real posts (Chinese and English in turn, from ``../shared/datasets``, read in
place; see ``nlp_throughput.real_posts``) prepared as enrichment prepares them; the seed posts
when the datasets are absent. Each round encodes all of them once per variant, the variants
taking turns in alternating order (the load of a shared machine changes by the minute).

Variants: ``fixed32`` (32 rows a run), ``budget<N>`` (padded-token budgets, batches side by side,
one per core: the default), ``budget<default>_intraop`` (the default budget, one batch at a time
split over the cores by ONNX Runtime's intra-op threads, idle threads sleeping: how the encoder
ran before; ``--no-intraop`` leaves it out).

Prints the CPU and its load, the share of padded tokens per variant, texts/s per variant
(total over the rounds) and the median of the per-round ratios to fixed 32 rows, and the
lowest cosine between a variant's rows and the fixed batches' rows (activations are quantised
per batch, so the cut changes a row slightly). Last line: ``fixed32_texts_per_s=…
budget<N>_texts_per_s=… …``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cpu import cpu_description  # noqa: E402  (bench/ is on sys.path when run as a script)
from nlp_throughput import DATASETS, real_posts  # noqa: E402


def texts_for(n: int) -> tuple[list[str], str]:
    from nlp.textprep import clean, model_text

    if DATASETS.is_dir():
        return [model_text(clean(t)) for t in real_posts(n)], "real posts"
    from nlp.builtin import read_seeds

    seeds = sorted({text for task in ("sentiment", "emotion", "category") for _, text in read_seeds(task)})
    return [model_text(clean(t)) for t in seeds[:n]], "seed posts (datasets absent)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--budgets", default="256", help="comma-separated padded-token budgets to compare")
    parser.add_argument("--no-intraop", action="store_true", help="leave out the one-batch-at-a-time variant")
    args = parser.parse_args()
    print(cpu_description(), flush=True)

    from nlp.builtin import int8_encoder
    from nlp.onnx_encoder import TOKEN_BUDGET, inference_session, length_batches

    encoder = int8_encoder()  # ONNX Runtime threads: the cores this process may use, at most 8
    texts, kind = texts_for(args.posts)
    lengths = [len(ids) for ids in encoder.tokenizer([encoder.prefix + t for t in texts], truncation=True,
                                                     max_length=encoder.max_length)["input_ids"]]
    print(f"encoder: {encoder.provenance}, {encoder.threads} threads; {len(texts)} {kind}, "
          f"tokens median {int(np.median(lengths))}, max {max(lengths)}")
    variants = {"fixed32": None, **{f"budget{b}": int(b) for b in args.budgets.split(",")}}
    sessions = {label: encoder.session for label in variants}
    threads = {label: encoder.threads for label in variants}  # > 1: batches side by side
    if not args.no_intraop:
        label = f"budget{TOKEN_BUDGET}_intraop"
        variants[label] = TOKEN_BUDGET
        sessions[label] = inference_session(encoder.model_file, intra_op_threads=encoder.threads)
        threads[label] = 1  # one batch at a time, its operators split over the intra-op threads
    for label, budget in variants.items():
        batches = length_batches(lengths, encoder.batch_size, budget)
        padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
        print(f"{label}: {len(batches)} runs, {1 - sum(lengths) / padded:.0%} of the tokens are padding")

    seconds = dict.fromkeys(variants, 0.0)
    ratios: dict[str, list[float]] = {label: [] for label in variants}
    rows: dict[str, np.ndarray] = {}
    encoder.token_budget = None
    encoder.encode(texts[:64])  # warm-up
    for round_ in range(args.rounds):
        order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        took = {}
        for label in order:
            encoder.token_budget, encoder.session, encoder.threads = variants[label], sessions[label], threads[label]
            began = time.perf_counter()
            rows[label] = encoder.encode(texts)
            took[label] = time.perf_counter() - began
            seconds[label] += took[label]
        for label in variants:
            ratios[label].append(took["fixed32"] / took[label])
        print(f"round {round_ + 1}: " + "  ".join(f"{label} {len(texts) / took[label]:.1f}/s" for label in variants),
              flush=True)
    # the shared encoder as enrichment uses it
    encoder.token_budget, encoder.session, encoder.threads = TOKEN_BUDGET, sessions["fixed32"], threads["fixed32"]
    for label in variants:
        cosine = float((rows[label] * rows["fixed32"]).sum(axis=1).min())
        print(f"{label}: {len(texts) * args.rounds / seconds[label]:.1f} texts/s, "
              f"x{statistics.median(ratios[label]):.2f} fixed32 (median of rounds), lowest cosine to fixed32 {cosine:.4f}")
    print(cpu_description().split("; ")[-1])
    print(" ".join(f"{label}_texts_per_s={len(texts) * args.rounds / seconds[label]:.1f}" for label in variants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
