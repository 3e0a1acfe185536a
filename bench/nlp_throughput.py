"""Enrichment throughput of the offline default on the CPU, against a naive baseline.

Usage: .venv/bin/python bench/nlp_throughput.py [--posts 2000] [--naive-posts 150] [--threads 2]

Prints first the CPU it runs on (model name, the SIMD flags that matter: avx2, avx512*,
avx512_bf16/amx, vnni; from ``lscpu``) and the load average, because these machines differ
and are shared: compare the ratios printed in one run, not figures across runs.

Workload: ``--posts`` mixed Chinese (Simplified and Traditional) and English posts of one
to four sentences, built from the project's seed posts with a fixed seed (no dataset
needed). Three runs of ``nlp.enrich`` on it (language, Traditional->Simplified, one encoder
pass sorted by length and batched, sentiment + emotion + category heads, near-duplicate
groups; topics off):

* ours: the default config (on CPUs without native bfloat16: the int8 ONNX encoder);
* float32: the same with ``embeddings.dtype: float32`` (the torch float encoder);
* naive baseline, same models: a transformers ``pipeline`` called once per post per task
  (feature extraction with the float32 encoder, then the same head), plus language detection
  per post, which is what code without batching or a shared pass does; on the first
  ``--naive-posts`` posts (the rate is per post).

Ours and float32 take turns on ``--rounds`` chunks of the posts (the load of a shared machine
changes by the minute; taking turns exposes both to it alike). Peak RSS is read after our
warm-up and first chunk, before the float32 encoder and the baseline are loaded.
Last line: ``posts_per_s=… float32_posts_per_s=… naive_posts_per_s=… speedup=… peak_rss_mb=…``.
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

from cpu import cpu_description  # noqa: E402  (bench/ is on sys.path when run as a script)


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
    parser.add_argument("--rounds", type=int, default=8, help="chunks on which ours and float32 take turns")
    args = parser.parse_args()
    print(cpu_description(), flush=True)

    import tempfile

    import numpy as np
    import torch

    from crisiswatch.core.config import Config, ModelsConfig, ModelSpec
    from crisiswatch.core.model import Post
    from nlp import language, registry
    from nlp.enrich import enrich
    from nlp.textprep import clean, model_text

    torch.set_num_threads(args.threads)
    texts = workload(args.posts)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    posts = [Post(id=f"bench:{i}", source="bench", text=text, created_at=t0 + timedelta(seconds=i))
             for i, text in enumerate(texts)]

    default_models = ModelsConfig(topics=False)
    float_models = default_models.model_copy(update={"embeddings": ModelSpec(model=registry.BUILTIN_ENCODER,
                                                                             dtype="float32")})
    runs = {"ours (default)": default_models, "float32 encoder": float_models}
    configs = {label: Config(data_dir=tempfile.mkdtemp(prefix="cw-bench-"), models=models)
               for label, models in runs.items()}
    elapsed = dict.fromkeys(runs, 0.0)
    results: dict[str, list] = {label: [] for label in runs}
    peak_rss_mb = 0.0
    # warm-up: load models, language detector, OpenCC (not timed, as a long-running worker would be);
    # then the two encoders take turns on the same chunks, so a change in the machine's load
    # (other jobs share these cores) hits both alike
    chunk = max(1, len(posts) // args.rounds)
    for start in range(0, len(posts), chunk):
        for label, config in configs.items():
            if start == 0:
                enrich(posts[:8], config.model_copy(update={"data_dir": tempfile.mkdtemp(prefix="cw-warm-")}))
            began = time.perf_counter()
            results[label] += enrich(posts[start:start + chunk], config)
            elapsed[label] += time.perf_counter() - began
            if start == 0 and label == "ours (default)":  # before the float32 encoder is loaded
                peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for label in runs:
        assert len(results[label]) == len(posts) and all(e.sentiment is not None for e in results[label])
        print(f"{label}: {len(posts)} posts in {elapsed[label]:.1f} s ({len(posts) / elapsed[label]:.1f} posts/s), "
              f"encoder {results[label][0].models.get('embeddings')}", flush=True)
    posts_per_s = len(posts) / elapsed["ours (default)"]
    float_per_s = len(posts) / elapsed["float32 encoder"]
    ours, floats = results["ours (default)"], results["float32 encoder"]
    same = {task: np.mean([getattr(a, task) == getattr(b, task) for a, b in zip(ours, floats)])
            for task in ("sentiment", "emotion", "category")}
    print("same label as float32: " + " ".join(f"{task} {share:.3f}" for task, share in same.items()))

    # naive: one pipeline call per post per task
    from transformers import pipeline

    encoder = registry.encoder_for(float_models.embeddings)
    heads = {task: registry.classifier_for(task, float_models, encoder).head
             for task in ("sentiment", "emotion", "category")}
    subset = posts[: args.naive_posts]
    extractor = pipeline("feature-extraction", model=str(registry.builtin_encoder_dir()), device="cpu",
                         dtype=torch.float32, truncation=True, max_length=encoder.max_length)
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
    naive_per_s = len(subset) / elapsed
    print(f"naive (float32): {len(subset)} posts in {elapsed:.1f} s ({naive_per_s:.1f} posts/s), "
          f"{len(heads)} pipeline calls per post")
    print(f"(ours vs float32 encoder, same pipeline: {posts_per_s / float_per_s:.2f}x)")
    print(cpu_description().split("; ")[-1])
    print(f"posts_per_s={posts_per_s:.1f} float32_posts_per_s={float_per_s:.1f} naive_posts_per_s={naive_per_s:.1f} "
          f"speedup={posts_per_s / naive_per_s:.1f} peak_rss_mb={peak_rss_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
