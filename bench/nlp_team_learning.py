"""Learning curve of the team's heads: accuracy against the number of team labels.

Usage: .venv/bin/python bench/nlp_team_learning.py [--set airline|osm] [--sizes 0,50,200,1000] [--repeats 3]

Simulates a team that labels its own posts (``--set``):

* ``airline`` (default): the airline complaints of ``../shared/datasets/twitter_us_airline_sentiment``
  (negative reasons mapped to categories, as in ``bench/nlp_quality.py``), task category;
* ``osm``: Weibo comments on public-opinion incidents (``osm_weibo_social_movements`` train,
  positive -> joy, weak negative -> sadness, anger, anxiety -> fear, as in ``bench/nlp_quality.py``),
  task emotion, predictions restricted to those four labels; it also prints the precision of anger
  and fear, the two labels an escalation would be built on.

The scored 1,000 rows are a fixed sample (seed 13, as the quality benchmark draws). The "team"
labels N other rows of the set (a random draw per repeat), ``nlp.team.fit_team_head`` trains on
them plus the built-in head's own data (exactly what ``crisiswatch nlp train`` does with the
team's labels), and the head is scored on the 1,000 rows. N = 0 is the built-in head. Skips
cleanly without the datasets.
Last line: ``team_labels=0:acc/f1 50:acc/f1 …`` (means over repeats; with ``--set osm`` also
``anger_precision=0:… fear_precision=0:…``).

``--pool N`` draws the team's rows from a fixed random N of the other rows (fewer posts to embed
on a busy machine); ``--encoder int8`` (default) scores with the int8 ONNX encoder whatever the
CPU, as ``bench/nlp_quality.py`` does. Each team head's calibration temperature is printed.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=("airline", "osm"), default="airline", dest="dataset")
    parser.add_argument("--sizes", default="0,50,200,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--pool", type=int, default=0, help="rows the team labels from (0: all the others)")
    parser.add_argument("--encoder", choices=("int8", "config"), default="int8")
    args = parser.parse_args()
    folder = args.datasets / ("twitter_us_airline_sentiment" if args.dataset == "airline" else "osm_weibo_social_movements")
    if not folder.is_dir():
        print(f"SKIP: {folder} not found (datasets are not part of the project)")
        return 0

    import torch
    from sklearn.metrics import accuracy_score, f1_score, precision_score

    import nlp_quality
    from crisiswatch.core.config import ModelsConfig
    from nlp import registry
    from nlp.embcache import cached_embeddings
    from nlp.team import base_training_data, fit_team_head
    from nlp.textprep import clean, model_text

    torch.set_num_threads(2)
    if args.dataset == "airline":
        task, tag, allowed = "category", "bench-twitter_us_airline_sentiment-negative-reasons-categories", None
        rows = nlp_quality.airline(args.datasets, 10**9, "category")
    else:
        task, tag, allowed = "emotion", "bench-team-osm-scored", ["anger", "fear", "sadness", "joy"]
        rows = nlp_quality.osm(args.datasets, 10**9)
    scored = nlp_quality.sample(rows, 1000)
    scored_set = set(scored)
    pool = [row for row in rows if row not in scored_set]
    if args.pool and len(pool) > args.pool:
        pool = random.Random(7).sample(pool, args.pool)
    models = ModelsConfig(topics=False)
    encoder = registry.encoder_for(models.embeddings)
    if args.encoder == "int8":
        from nlp.builtin import int8_encoder

        encoder = int8_encoder()
    from cpu import cpu_description

    print(cpu_description())
    texts = [model_text(clean(t)) for t, _ in scored]
    gold = [label for _, label in scored]
    emb = cached_embeddings(encoder, texts, tag)
    pool_texts = [model_text(clean(t)) for t, _ in pool]
    pool_emb = cached_embeddings(encoder, pool_texts, f"bench-team-{args.dataset}-pool")
    base = base_training_data(task, encoder, set(gold))
    present = sorted(set(gold))
    print(f"encoder {getattr(encoder, 'provenance', encoder.name)}; scored rows {len(scored)}, pool {len(pool)}; "
          f"labels {present}")

    class Pre:  # the pool is embedded once; fit_team_head asks the encoder for the team rows
        def __init__(self, inner, table):
            self.inner, self.table = inner, table
            self.name, self.dim = inner.name, inner.dim

        def encode(self, items):
            return np.stack([self.table[t] for t in items]) if items else np.zeros((0, self.dim), np.float32)

    pre = Pre(encoder, dict(zip(pool_texts, pool_emb)))
    results, precisions = {}, {}
    for size in [int(s) for s in args.sizes.split(",")]:
        accs, f1s, temperatures, precision = [], [], [], []
        for repeat in range(args.repeats if size else 1):
            picked = random.Random(100 + repeat).sample(range(len(pool)), size) if size else []
            if size:
                head = fit_team_head(task, pre, [pool_texts[i] for i in picked],
                                     [pool[i][1] for i in picked], base=base)
                temperatures.append(head.info.get("temperature", 1.0))
            else:
                head = registry.classifier_for(task, models, encoder).head
            keep = [i for i, label in enumerate(head.labels) if allowed is None or label in allowed]
            probs = head.predict_proba(emb, texts)[:, keep]
            predicted = [head.labels[keep[i]] for i in probs.argmax(axis=1)]
            accs.append(accuracy_score(gold, predicted))
            f1s.append(f1_score(gold, predicted, labels=present, average="macro", zero_division=0))
            if allowed:
                precision.append(precision_score(gold, predicted, labels=["anger", "fear"], average=None,
                                                 zero_division=0))
        results[size] = (float(np.mean(accs)), float(np.mean(f1s)))
        line = (f"team labels {size:>5}: accuracy {np.mean(accs):.3f} ± {np.std(accs):.3f}  "
                f"macro-F1 {np.mean(f1s):.3f} ± {np.std(f1s):.3f}  ({len(accs)} draws)")
        if precision:
            precisions[size] = np.mean(precision, axis=0)
            line += f"  precision anger {precisions[size][0]:.2f} fear {precisions[size][1]:.2f}"
        print(line + (f"  temperature {np.mean(temperatures):.3f}" if temperatures else ""), flush=True)
    print("team_labels=" + " ".join(f"{size}:{acc:.3f}/{f1:.3f}" for size, (acc, f1) in results.items())
          + "".join(f" {label}_precision=" + ",".join(f"{size}:{p[k]:.2f}" for size, p in precisions.items())
                    for k, label in enumerate(("anger", "fear")) if precisions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
