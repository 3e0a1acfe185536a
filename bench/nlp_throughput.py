"""Enrichment throughput of the offline default on the CPU, against a naive baseline.

Usage: .venv/bin/python bench/nlp_throughput.py [--posts 2000] [--naive-posts 150] [--threads 2]

Workload: ``--posts`` mixed Chinese (Simplified and Traditional) and English posts of one
to four sentences, built from the project's seed posts with a fixed seed (no dataset
needed). Ours: ``nlp.enrich`` (language, Traditional->Simplified, one encoder pass sorted
by length and batched, sentiment + emotion + category heads, near-duplicate groups;
topics off). Naive baseline, same run and same models: a transformers ``pipeline`` called
once per post per task (feature extraction with the same encoder, then the same head),
plus language detection per post, which is what code without batching or a shared pass
does. The baseline runs on the first ``--naive-posts`` posts (the rate is per post), in the
pipeline's default float32 (the last line) and again in our compute dtype (bfloat16 on CPUs
that support it), so the share of the speedup that comes from batching alone is visible.

Peak RSS is read after our run, before the baseline loads its own pipeline.
Last line: ``posts_per_s=… naive_posts_per_s=… speedup=… peak_rss_mb=…``.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def workload(n: int) -> list[str]:
    from nlp.builtin import read_seeds
    from nlp.textprep import to_simplified

    sentences = sorted({text for task in ("sentiment", "emotion", "category") for _, text in read_seeds(task)})
    chinese = [s for s in sentences if any("\u4e00" <= ch <= "\u9fff" for ch in s)]
    english = [s for s in sentences if s not in chinese]
    from opencc import OpenCC

    to_traditional = OpenCC("s2t").convert
    rng = random.Random(7)
    posts = []
    for i in range(n):
        pool = chinese if i % 2 else english
        text = " ".join(rng.choice(pool) for _ in range(rng.choice((1, 1, 2, 2, 3, 4))))
        if pool is chinese and i % 6 == 1:
            text = to_traditional(text)
        posts.append(f"{text} #{i}")
    assert to_simplified  # imported for the side effect of warming OpenCC in both runs
    return posts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--naive-posts", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch

    from crisiswatch.core.config import Config, ModelsConfig
    from crisiswatch.core.model import Post
    from nlp import language, registry
    from nlp.enrich import enrich
    from nlp.textprep import clean, model_text

    torch.set_num_threads(args.threads)
    import tempfile

    config = Config(data_dir=tempfile.mkdtemp(prefix="cw-bench-"), models=ModelsConfig(topics=False))
    texts = workload(args.posts)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    posts = [Post(id=f"bench:{i}", source="bench", text=text, created_at=t0 + timedelta(seconds=i))
             for i, text in enumerate(texts)]

    # warm-up: load models, language detector, OpenCC (not timed, as a long-running worker would be)
    enrich(posts[:8], config.model_copy(update={"data_dir": tempfile.mkdtemp(prefix="cw-warm-")}))
    started = time.perf_counter()
    enrichments = enrich(posts, config)
    ours_s = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    posts_per_s = len(posts) / ours_s
    assert all(e.sentiment is not None for e in enrichments)
    print(f"ours: {len(posts)} posts in {ours_s:.1f} s ({posts_per_s:.1f} posts/s), "
          f"languages {sorted({e.language for e in enrichments})}")

    # naive: one pipeline call per post per task
    from transformers import pipeline

    encoder = registry.encoder_for(config.models.embeddings)
    heads = {task: registry.classifier_for(task, config.models, encoder).head
             for task in ("sentiment", "emotion", "category")}
    subset = posts[: args.naive_posts]

    def naive(dtype) -> float:
        extractor = pipeline("feature-extraction", model=str(registry.builtin_encoder_dir()), device="cpu",
                             dtype=dtype, truncation=True, max_length=encoder.max_length)
        extractor(encoder.prefix + "warm up")
        started = time.perf_counter()
        for post in subset:
            language.detect(post.text)
            text = model_text(clean(post.text))
            for head in heads.values():
                hidden = np.asarray(torch.as_tensor(extractor(encoder.prefix + text)[0]).float(), dtype=np.float32)
                vector = hidden.mean(axis=0)
                vector /= np.linalg.norm(vector) or 1.0
                head.predict_proba(vector[None, :], [text])
        elapsed = time.perf_counter() - started
        print(f"naive ({dtype}): {len(subset)} posts in {elapsed:.1f} s ({len(subset) / elapsed:.1f} posts/s), "
              f"{len(heads)} pipeline calls per post")
        return len(subset) / elapsed

    naive_per_s = naive(torch.float32)  # the pipeline's default precision: the baseline of the last line
    same_dtype = naive(encoder.dtype) if encoder.dtype != torch.float32 else naive_per_s
    print(f"(speedup from batching and the shared pass alone, same {encoder.dtype}: {posts_per_s / same_dtype:.1f}x)")
    print(f"posts_per_s={posts_per_s:.1f} naive_posts_per_s={naive_per_s:.1f} "
          f"speedup={posts_per_s / naive_per_s:.1f} peak_rss_mb={peak_rss_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
