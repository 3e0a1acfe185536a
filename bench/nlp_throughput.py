"""Throughput of the full enrichment on the CPU, against a naive baseline.

Usage: .venv/bin/python bench/nlp_throughput.py [--posts 2000] [--naive-posts 150] [--threads 2]
                                                [--workload real|seeds] [--batch-size 256] [--encoder int8]

Prints first the CPU it runs on (model name, the SIMD flags that matter: avx2, avx512*,
avx512_bf16/amx, vnni; from ``lscpu``) and the load average, because these machines differ
and are shared: compare the ratios printed in one run, not figures across runs.

Workload (``--workload``): ``real`` (the default when ``../shared/datasets`` is there) takes
``--posts`` real posts, alternating Chinese (weibo_senti_100k dev and covid19_weibo_emotion,
Weibo lengths) and English (tweeteval sentiment val and the airline tweets), read in place,
never copied; ``seeds`` builds mixed Chinese (Simplified and Traditional) and English posts
of one to four sentences from the project's seed posts with a fixed seed (no dataset needed;
shorter than real posts). The full enrichment as a worker runs it: ``nlp.enrich_batch`` on
batches of ``--batch-size`` posts into a SQLite store (language, Traditional->Simplified, one
encoder pass sorted by length and batched, sentiment + emotion + category heads with their
VADER and emoticon features, topic assignment to a BERTopic model fitted beforehand on 600
other posts of the same kind, near-duplicate groups, store writes):

* ours: the default config (on CPUs without native bfloat16: the int8 ONNX encoder; ``--encoder
  int8`` sets ``embeddings.dtype: int8``, to measure that path on a bfloat16 CPU);
* ours before: the same encoder object cutting its batches as it did before (fixed 32 rows
  instead of a padded-token budget), so the gain of the batching is measured in the same run
  (``--no-before`` leaves it out; only when the default encoder is the int8 one);
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
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cpu import cpu_description  # noqa: E402  (bench/ is on sys.path when run as a script)


DATASETS = ROOT.parent / "shared" / "datasets"


def real_posts(n: int, skip: int = 0) -> list[str]:
    """``n`` real posts after the first ``skip`` of a fixed shuffle, Chinese and English in turn."""
    import csv

    with open(DATASETS / "weibo_senti_100k" / "dev.csv", encoding="utf-8") as handle:
        next(handle)
        chinese = [line.rstrip("\n").partition("\t")[2] for line in handle]
    with open(DATASETS / "covid19_weibo_emotion" / "labeledData.csv", encoding="utf-8-sig", newline="") as handle:
        chinese += [row["review"] for row in csv.DictReader(handle) if row.get("review")]
    english = (DATASETS / "tweeteval" / "sentiment" / "val_text.txt").read_text(encoding="utf-8").splitlines()
    with open(DATASETS / "twitter_us_airline_sentiment" / "Tweets.csv", encoding="utf-8", newline="") as handle:
        english += [row["text"] for row in csv.DictReader(handle)]
    rng = random.Random(3)
    rng.shuffle(chinese)
    rng.shuffle(english)
    return [(chinese if i % 2 else english)[i // 2] for i in range(skip, skip + n)]


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
    parser.add_argument("--workload", choices=("real", "seeds"), default="real" if DATASETS.is_dir() else "seeds")
    parser.add_argument("--batch-size", type=int, default=256, help="posts per enrich_batch call (enrich_store's default)")
    parser.add_argument("--no-before", action="store_true", help="leave out the int8 encoder with 32-row batches")
    parser.add_argument("--encoder", choices=("auto", "int8"), default="auto",
                        help="int8: 'embeddings.dtype: int8', the int8 ONNX encoder that 'auto' runs on CPUs "
                             "without native bfloat16 (AVX2-only), whatever this CPU is")
    args = parser.parse_args()
    print(cpu_description(), flush=True)
    if args.encoder == "int8":
        print("--encoder int8: embeddings.dtype int8, the int8 ONNX encoder that dtype auto runs on CPUs without "
              "native bfloat16; this CPU's own speed for that path, not an AVX2-only CPU's", flush=True)

    import tempfile

    import numpy as np
    import torch

    from crisiswatch.core.config import Config, ModelsConfig, ModelSpec
    from crisiswatch.core.model import Post
    from crisiswatch.core.store.sqlite import SqliteStore
    from nlp import language, registry
    from nlp.enrich import enrich, enrich_batch
    from nlp.paths import topics_dir
    from nlp.textprep import clean, model_text
    from nlp.topics import TopicModel

    torch.set_num_threads(args.threads)
    if args.workload == "real":
        texts, fit_texts = real_posts(args.posts), real_posts(600, skip=args.posts)
    else:
        texts, fit_texts = workload(args.posts), workload(args.posts + 600)[args.posts:]
    tokens = [len(t) for t in texts]
    print(f"workload: {args.workload}, {len(texts)} posts, characters per post mean {np.mean(tokens):.0f} "
          f"median {np.median(tokens):.0f} p90 {np.percentile(tokens, 90):.0f}", flush=True)
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    posts = [Post(id=f"bench:{i}", source="bench", text=text, created_at=t0 + timedelta(seconds=i))
             for i, text in enumerate(texts)]

    default_models = ModelsConfig(topics=True)
    if args.encoder == "int8":
        default_models = default_models.model_copy(
            update={"embeddings": default_models.embeddings.model_copy(update={"dtype": "int8"})})
    float_models = default_models.model_copy(update={"embeddings": ModelSpec(model=registry.BUILTIN_ENCODER,
                                                                             dtype="float32")})
    runs = {"ours (default)": default_models, "float32 encoder": float_models}
    our_encoder = registry.encoder_for(default_models.embeddings)
    before = "ours, 32-row batches (before)"
    if hasattr(our_encoder, "token_budget") and not args.no_before:
        runs = {"ours (default)": default_models, before: default_models, "float32 encoder": float_models}
    configs = {label: Config(data_dir=tempfile.mkdtemp(prefix="cw-bench-"), models=models)
               for label, models in runs.items()}
    # what happened before: the crawler stored the posts, maintenance fitted a topic model (on our
    # encoder's embeddings for both runs, so the float32 encoder is not loaded before peak RSS is read)
    prepared = [model_text(clean(text)) for text in fit_texts]
    topic_model, _ = TopicModel.fit(prepared, registry.encoder_for(default_models.embeddings).encode(prepared))
    stores = {}
    for label, config in configs.items():
        stores[label] = SqliteStore(f"{config.data_dir}/store.db")
        stores[label].setup()
        stores[label].upsert_posts(posts)
        topic_model.save(topics_dir(config))
    encoder_seconds = {"total": 0.0}
    encode = our_encoder.encode
    budget = getattr(our_encoder, "token_budget", None)

    def timed_encode(texts):  # how much of our time is the encoder pass (the rest: everything else)
        began = time.perf_counter()
        try:
            return encode(texts)
        finally:
            encoder_seconds["total"] += time.perf_counter() - began

    elapsed = dict.fromkeys(runs, 0.0)
    results: dict[str, list] = {label: [] for label in runs}
    peak_rss_mb = 0.0
    # warm-up: load models, language detector, OpenCC (not timed, as a long-running worker would be);
    # then the two encoders take turns on the same chunks, so a change in the machine's load
    # (other jobs share these cores) hits both alike
    chunk = max(1, len(posts) // args.rounds)
    for start in range(0, len(posts), chunk):
        for label, config in configs.items():
            if start == 0:  # warm-up in a copy of the state (topic model), so no timed post is seen twice
                warm = config.model_copy(update={"data_dir": tempfile.mkdtemp(prefix="cw-warm-")})
                shutil.copytree(topics_dir(config), topics_dir(warm))
                enrich(posts[:8], warm)
            our_encoder.encode = timed_encode if label == "ours (default)" else encode
            if hasattr(our_encoder, "token_budget"):
                our_encoder.token_budget = None if label == before else budget
            began = time.perf_counter()
            for first in range(start, min(start + chunk, len(posts)), args.batch_size):
                enrich_batch(stores[label], posts[first:min(first + args.batch_size, start + chunk)], config)
            elapsed[label] += time.perf_counter() - began
            if start == 0 and label == "ours (default)":  # before the float32 encoder is loaded
                peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for label in runs:
        stored = stores[label].get_enrichments([post.id for post in posts])
        results[label] = [stored[post.id] for post in posts]
        assert all(e.sentiment is not None or e.skipped_reason for e in results[label])
        assert any(e.topic_id is not None and e.topic_id >= 0 for e in results[label]), "no topic assigned"
        print(f"{label}: {len(posts)} posts in {elapsed[label]:.1f} s ({len(posts) / elapsed[label]:.1f} posts/s), "
              f"encoder {results[label][0].models.get('embeddings')}", flush=True)
    our_encoder.encode = encode
    if hasattr(our_encoder, "token_budget"):
        our_encoder.token_budget = budget
    share = encoder_seconds["total"] / elapsed["ours (default)"]
    print(f"ours: encoder pass {share:.0%} of the time ({len(posts) / encoder_seconds['total']:.1f} posts/s alone), "
          f"everything else {1 - share:.0%}")
    posts_per_s = len(posts) / elapsed["ours (default)"]
    float_per_s = len(posts) / elapsed["float32 encoder"]
    ours, floats = results["ours (default)"], results["float32 encoder"]
    same = {task: np.mean([getattr(a, task) == getattr(b, task) for a, b in zip(ours, floats)])
            for task in ("sentiment", "emotion", "category")}
    print("same label as float32: " + " ".join(f"{task} {share:.3f}" for task, share in same.items()))
    before_per_s = len(posts) / elapsed[before] if before in elapsed else None
    if before_per_s:
        print(f"ours vs ours with 32-row batches (before), same run: {posts_per_s / before_per_s:.2f}x; same label: "
              + " ".join(f"{task} {np.mean([getattr(a, task) == getattr(b, task) for a, b in zip(ours, results[before])]):.3f}"
                         for task in ("sentiment", "emotion", "category")))

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
    print(f"posts_per_s={posts_per_s:.1f} " + (f"before_posts_per_s={before_per_s:.1f} " if before_per_s else "")
          + f"float32_posts_per_s={float_per_s:.1f} naive_posts_per_s={naive_per_s:.1f} "
          f"speedup={posts_per_s / naive_per_s:.1f} peak_rss_mb={peak_rss_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
