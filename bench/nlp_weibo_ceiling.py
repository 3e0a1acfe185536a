"""How far can the offline encoder go on Weibo sentiment with emoticons stripped, at best?

Usage: .venv/bin/python bench/nlp_weibo_ceiling.py [--fine-tune] [--datasets DIR]

A diagnostic, not a model: nothing it trains is saved or shipped (weibo_senti_100k's terms
allow internal evaluation only). It trains *on Weibo itself*, on the dev rows outside the
1,000-row sample that ``bench/nlp_quality.py`` scores (seed 13), and scores that same sample,
so it shows the best the offline default could do if the project had in-domain labels:

* shipped: the offline default as shipped (the baseline, in the same run);
* frozen_in_domain: logistic regression on the frozen multilingual-e5-small embeddings;
* char_ngram_in_domain: TF-IDF of character 1–3-grams + logistic regression (no encoder);
* fine_tuned_in_domain (``--fine-tune``; about 20 minutes on 2 cores): the whole encoder
  but its embedding matrix fine-tuned for two epochs with a linear head;
* char_ngram_raw_in_domain: the same n-gram model with the ``[xx]`` emoticons left in, for
  reference (the labels follow the emoticons).

Last line: ``shipped_acc=… frozen_in_domain_acc=… char_ngram_in_domain_acc=…
fine_tuned_in_domain_acc=… char_ngram_raw_in_domain_acc=… target=0.80``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import nlp_quality  # noqa: E402  (the same reader, sample and seed as the quality benchmark)

TARGET = 0.80


def split(root: Path, strip: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, test): test is nlp_quality's fixed sample, train every other dev row."""
    test = nlp_quality.weibo(root, 1000, strip)
    held = {text for text, _ in test}
    train = [row for row in nlp_quality.weibo(root, 10**9, strip) if row[0] not in held]
    return train, test


def char_ngram_accuracy(train, test) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
                          LogisticRegression(C=4.0, max_iter=3000))
    model.fit([t for t, _ in train], [l for _, l in train])
    return float(np.mean(model.predict([t for t, _ in test]) == np.array([l for _, l in test])))


def frozen_accuracy(encoder, train, test) -> float:
    from sklearn.linear_model import LogisticRegression

    from nlp.embcache import cached_embeddings
    from nlp.textprep import clean, model_text

    def embed(rows, tag):
        return cached_embeddings(encoder, [model_text(clean(t)) for t, _ in rows], tag)

    model = LogisticRegression(C=0.5, max_iter=3000).fit(embed(train, "ceiling-weibo-train"), [l for _, l in train])
    predicted = model.predict(embed(test, "ceiling-weibo-test"))
    return float(np.mean(predicted == np.array([l for _, l in test])))


def fine_tuned_accuracy(train, test, epochs: int = 2, batch: int = 32) -> float:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from nlp.registry import builtin_encoder_dir
    from nlp.textprep import clean, model_text

    torch.manual_seed(0)
    path = str(builtin_encoder_dir())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, add_pooling_layer=False)
    for parameter in model.embeddings.parameters():  # 96 M of the 118 M weights; freezing them saves memory
        parameter.requires_grad = False
    head = torch.nn.Linear(model.config.hidden_size, 2)
    trainable = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    optimiser = torch.optim.AdamW(trainable, lr=4e-5, weight_decay=0.01)

    def logits(texts):
        batch_in = tokenizer(["query: " + model_text(clean(t)) for t in texts], truncation=True, max_length=64,
                             padding=True, return_tensors="pt")
        hidden = model(**batch_in).last_hidden_state
        mask = batch_in["attention_mask"].unsqueeze(-1).float()
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
        return head(pooled * 20.0)

    rows = list(train)
    model.train()
    for epoch in range(epochs):
        random.Random(epoch).shuffle(rows)
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            gold = torch.tensor([label == "positive" for _, label in chunk], dtype=torch.long)
            loss = torch.nn.functional.cross_entropy(logits([t for t, _ in chunk]), gold)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        print(f"  fine-tune epoch {epoch + 1}/{epochs} done", flush=True)
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(test), 64):
            chunk = test[start:start + 64]
            predicted = logits([t for t, _ in chunk]).argmax(1).tolist()
            correct += sum(p == (label == "positive") for p, (_, label) in zip(predicted, chunk))
    return correct / len(test)


def shipped_accuracy(encoder, classifier, test) -> float:
    accuracy, _ = nlp_quality.evaluate(encoder, classifier, test, ["negative", "positive"],
                                       "weibo_senti_100k-dev-xx-stripped")
    return accuracy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fine-tune", action="store_true", help="also fine-tune the encoder (about 20 min)")
    parser.add_argument("--datasets", type=Path, default=nlp_quality.DATASETS)
    args = parser.parse_args()
    if not (args.datasets / "weibo_senti_100k").is_dir():
        print(f"SKIP: {args.datasets / 'weibo_senti_100k'} not found (labelled datasets are not part of the project)")
        return 0

    import torch

    from crisiswatch.core.config import load_config
    from nlp import registry

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    config = load_config(None)
    encoder = registry.encoder_for(config.models.embeddings)
    train, test = split(args.datasets, strip=True)
    print(f"weibo_senti_100k dev, [xx] stripped: train {len(train)} rows, test {len(test)} rows (nlp_quality's sample)")
    started = time.perf_counter()
    figures = {
        "shipped_acc": shipped_accuracy(encoder, registry.classifier_for("sentiment", config.models, encoder), test),
        "frozen_in_domain_acc": frozen_accuracy(encoder, train, test),
        "char_ngram_in_domain_acc": char_ngram_accuracy(train, test),
        "fine_tuned_in_domain_acc": fine_tuned_accuracy(train, test) if args.fine_tune else float("nan"),
        "char_ngram_raw_in_domain_acc": char_ngram_accuracy(*split(args.datasets, strip=False)),
    }
    for name, value in figures.items():
        print(f"{name:<30} {value:.3f}")
    print(f"({time.perf_counter() - started:.0f} s; target for the offline default: {TARGET:.2f})")
    print(" ".join(f"{name}={value:.3f}" for name, value in figures.items()) + f" target={TARGET:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
