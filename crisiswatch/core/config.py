"""One YAML configuration file, validated as a whole.

Every problem is reported at once as ``FILE:LINE: key.path: reason`` so that a data
engineer can fix a file in one pass. Secrets never live in the file: values of the form
``${CRISISWATCH_NAME}`` are resolved from the environment when used (``resolve_secrets``),
so printing or logging a config never prints a secret.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from crisiswatch.core import registry
from crisiswatch.core.channel_urls import literal_secret_problem
from crisiswatch.core.model import Level
from crisiswatch.core.schedule import check_schedule, longest_gap, parse_duration

STALE_AFTER_RUNS = 3
"""A source is stale (maintenance) and silent (``source_silence``) after this many scheduled
runs' worth of quiet, unless it sets ``expected_interval``."""

DEFAULT_CONFIG_ENV = "CRISISWATCH_CONFIG"
SECRET_PATTERN = re.compile(r"\$\{(CRISISWATCH_[A-Z0-9_]+)\}")


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` lists every ``location: reason``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class MissingSecret(ConfigError):
    pass


def resolve_secrets(value: str, environ: dict[str, str] | None = None) -> str:
    """Replace ``${CRISISWATCH_X}`` placeholders with environment values."""
    env = os.environ if environ is None else environ

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise MissingSecret([f"environment variable {name} is not set (needed for a secret in the config)"])
        return env[name]

    return SECRET_PATTERN.sub(lookup, value)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


Duration = str


def _check_duration(value: Any) -> Any:
    parse_duration(value)
    return value


# ---- store ---------------------------------------------------------------------------
class ElasticsearchConfig(_Section):
    url: str | None = None
    """Cluster URL; overridden by CRISISWATCH_ELASTICSEARCH_URL. None = use SQLite."""
    api_key: str | None = None
    """Must be a ${CRISISWATCH_...} placeholder (or set CRISISWATCH_ELASTICSEARCH_API_KEY)."""
    username: str | None = None
    password: str | None = None
    """Must be a ${CRISISWATCH_...} placeholder (or set CRISISWATCH_ELASTICSEARCH_PASSWORD)."""
    index_prefix: str = "crisiswatch"
    """Indices, templates and policies are named ``<prefix>-posts``, ``<prefix>-incidents``..."""
    verify_certs: bool = True
    ca_certs: str | None = None
    request_timeout_s: float = 30.0
    retention: Duration = "90d"
    """Posts older than this are deleted by ILM."""
    rollover_max_size: str = "30gb"
    rollover_max_age: Duration = "7d"

    _durations = field_validator("retention", "rollover_max_age")(_check_duration)

    @field_validator("api_key", "password")
    @classmethod
    def _secret_from_env(cls, value: str | None) -> str | None:
        if value is not None and not SECRET_PATTERN.fullmatch(value):
            raise ValueError("secrets must not be written in the file: use ${CRISISWATCH_...}")
        return value


class StoreConfig(_Section):
    sqlite_path: str = "data/crisiswatch.db"
    """Embedded store used when no Elasticsearch URL is configured (relative to data_dir's parent
    directory = the working directory)."""
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)
    retention: Duration = "180d"
    """Posts older than this are deleted by maintenance (SQLite) ."""

    _durations = field_validator("retention")(_check_duration)


# ---- models --------------------------------------------------------------------------
class ModelSpec(_Section):
    model: str
    """A Hugging Face model id, a local directory, or ``builtin:<name>`` for the offline default."""
    revision: str | None = None
    device: str = "auto"
    """auto (GPU when available), cpu, cuda, cuda:1 ..."""
    batch_size: int = Field(default=32, ge=1)
    max_length: int = Field(default=256, ge=8)
    labels: list[str] | None = None
    """Label names in output order when the model does not name them."""
    prefix: str | None = None
    """Text put before every input of an embeddings model (None: ``query: `` for E5 models, else nothing)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16", "int8"] = "auto"
    """Compute precision: auto = bfloat16 on CPUs with native support (about 3x faster, same
    predictions), float16 on CUDA, on other CPUs the int8 ONNX encoder (built-in encoder with
    onnxruntime) else float32; int8 = that encoder on any CPU."""


class ModelsConfig(_Section):
    embeddings: ModelSpec = Field(default_factory=lambda: ModelSpec(model="builtin:multilingual-e5-small"))
    sentiment: ModelSpec = Field(default_factory=lambda: ModelSpec(model="builtin:sentiment"))
    emotion: ModelSpec = Field(default_factory=lambda: ModelSpec(model="builtin:emotion"))
    category: ModelSpec = Field(default_factory=lambda: ModelSpec(model="builtin:category"))
    categories: dict[str, str] = Field(default_factory=dict)
    """Complaint category label -> description (used zero-shot); empty = the built-in taxonomy."""
    topics: bool = True
    """Cluster posts into topics with BERTopic."""
    near_duplicates_threshold: float = Field(default=0.8, gt=0, le=1)
    """Jaccard similarity above which posts share a near-duplicate group."""


# ---- watchlists ----------------------------------------------------------------------
class Watchlist(_Section):
    name: str
    kind: Literal["brand", "product", "person", "topic", "lexicon"] = "brand"
    terms: list[str] = Field(min_length=1)
    """Names and aliases in any language/script; matching ignores case, width and
    Traditional vs Simplified Chinese."""
    exclude: list[str] = Field(default_factory=list)
    """A post containing any of these does not match (e.g. 'apple pie' for Apple)."""
    owner: str | None = None
    """Team or person responsible."""


# ---- sources -------------------------------------------------------------------------
def _platform_spec(name: str) -> Any:
    """The registered platform ``name`` (``crisiswatch.platforms`` entry points), or a clear error."""
    try:
        return registry.get("platforms", name)
    except registry.ExtensionError as exc:
        raise ValueError(str(exc)) from None


def _validate_targets(platform: str, targets: dict[str, Any]) -> dict[str, Any]:
    """A source's ``targets`` checked by its platform's targets model.

    Raises a ``ValidationError`` whose locations are the keys inside ``targets`` (pydantic
    prefixes the source's path), so a misspelt key is reported at its own line. Keys the
    model does not declare are errors even if the model itself would ignore them.
    """
    model = _platform_spec(platform).targets
    known = list(model.model_fields)
    problems: list[dict[str, Any]] = [
        {"type": PydanticCustomError("unknown_target", "not a target of the {platform} platform (it takes: {known})",
                                     {"platform": platform, "known": ", ".join(known) or "none"}),
         "loc": (key,), "input": value}
        for key, value in targets.items() if key not in model.model_fields]
    try:
        validated = model.model_validate({k: v for k, v in targets.items() if k in model.model_fields})
    except ValidationError as exc:
        problems += [{"type": PydanticCustomError(error["type"], error["msg"]), "loc": error["loc"],
                      "input": error.get("input")} for error in exc.errors()]
    if problems:
        raise ValidationError.from_exception_data(f"{platform} targets", problems)
    return validated.model_dump(exclude_unset=True)


class SourceConfig(_Section):
    name: str
    """Unique name; also the prefix of post ids and the crawl DAG id."""
    platform: str
    """A registered platform (``crisiswatch.platforms`` entry points): mastodon, bluesky, hackernews,
    rss, reddit, telegram, appstore, weibo, bilibili, or one that another package adds."""
    base_url: str | None = None
    """Platform endpoint; point it at the replay server for tests and demos. None = the real one."""
    targets: dict[str, Any] = Field(default_factory=dict)
    """What to collect; the keys are the platform's (hashtags, instances, accounts, channels, apps,
    keywords, feeds ...), checked by its targets model."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Platform-specific options (country, sort order, page size ...)."""
    schedule: str = "*/10 * * * *"
    """Cron expression or a duration such as 15m."""
    enabled: bool = True
    keep_all: bool = False
    """Keep posts that match no watchlist (a brand's own channel, for instance)."""
    keep_raw: bool = False
    """Store the platform's original payload with each post."""
    max_pages: int = Field(default=20, ge=1)
    concurrency: int = Field(default=2, ge=1)
    download_delay_s: float = Field(default=1.0, ge=0)
    expected_interval: Duration | None = None
    """A gap longer than this without new posts raises a source-silence alert (None = 3x schedule)."""
    credentials: dict[str, str] = Field(default_factory=dict)
    """Tokens and cookies, only as ${CRISISWATCH_...} placeholders."""
    mode: Literal["poll", "stream"] = "poll"
    """``stream``: in ``crisiswatch run --follow`` read the platform's streaming API (Mastodon
    streaming, Bluesky Jetstream) besides the slower polling crawl that backfills; only for
    platforms that have one. ``poll``: crawl on the schedule only."""

    @field_validator("mode")
    @classmethod
    def _platform_streams(cls, value: str, info: ValidationInfo) -> str:
        platform = info.data.get("platform")
        if value == "stream" and platform is not None and getattr(_platform_spec(platform), "stream", None) is None:
            raise ValueError(f"platform '{platform}' has no streaming API: use mode: poll")
        return value

    @field_validator("credentials")
    @classmethod
    def _credentials_from_env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not SECRET_PATTERN.fullmatch(item):
                raise ValueError(f"credential '{key}' must be a ${{CRISISWATCH_...}} placeholder, not a literal")
        return value

    @field_validator("platform")
    @classmethod
    def _registered_platform(cls, value: str) -> str:
        _platform_spec(value)
        return value

    @field_validator("targets")
    @classmethod
    def _targets_of_the_platform(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        platform = info.data.get("platform")
        return value if platform is None else _validate_targets(platform, value)  # None: platform already failed

    @field_validator("name")
    @classmethod
    def _simple_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", value):
            raise ValueError("use lower-case letters, digits, '_' and '-' only")
        return value

    _schedule = field_validator("schedule")(lambda v: check_schedule(v))
    _interval = field_validator("expected_interval")(lambda v: v if v is None else _check_duration(v))

    def stale_after(self) -> timedelta:
        """The one staleness rule: how long this source may go without new data before the
        maintenance health check calls it stale and ``source_silence`` calls it silent —
        ``expected_interval``, else ``STALE_AFTER_RUNS`` times its schedule's longest gap."""
        if self.expected_interval:
            return parse_duration(self.expected_interval)
        return STALE_AFTER_RUNS * longest_gap(self.schedule)


# ---- rules ---------------------------------------------------------------------------
def _detector_spec(name: str) -> Any:
    """The registered detector ``name`` (``crisiswatch.detectors`` entry points), or a clear
    error listing the known ones. The detector's module lives in a component; the registry
    loads it by entry point, so the core never imports it."""
    try:
        return registry.get("detectors", name)
    except registry.ExtensionError as exc:
        raise ValueError(str(exc)) from None


class RuleFilter(_Section):
    watchlists: list[str] | None = None
    sources: list[str] | None = None
    languages: list[str] | None = None
    sentiments: list[str] | None = None
    emotions: list[str] | None = None
    categories: list[str] | None = None
    text: str | None = None
    min_followers: int | None = None
    ratings: list[Annotated[int, Field(ge=1, le=5)]] | None = None
    """Only reviews with one of these star ratings, e.g. ``[1, 2]`` for a one-star wave."""


class RuleConfig(_Section):
    name: str
    detector: str
    """A registered detector: volume_spike, negative_share, keyword_burst, influencer,
    emerging_topic, cross_platform, source_silence, or one a package adds."""
    filter: RuleFilter = Field(default_factory=RuleFilter)
    per_watchlist: bool = True
    """Evaluate once per watchlist (incidents are per watchlist) rather than once overall."""
    bucket: Duration = "15m"
    window: Duration | None = None
    """Look-back window for window-based detectors (keyword_burst, cross_platform ...)."""
    baseline: Duration = "21d"
    """History used for the baseline (three weeks: every weekday seen at least twice)."""
    min_count: int = Field(default=10, ge=0)
    """Below this observed count the rule never fires."""
    thresholds: dict[Level, float] = Field(default_factory=dict)
    """Score needed for each level (e.g. robust z-score for volume_spike)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Detector-specific parameters, checked by the detector's own params model."""
    enabled: bool = True

    _durations = field_validator("bucket", "window", "baseline")(
        lambda v: v if v is None else _check_duration(v))

    @field_validator("detector")
    @classmethod
    def _registered_detector(cls, value: str) -> str:
        _detector_spec(value)
        return value

    @model_validator(mode="after")
    def _detector_settings(self) -> "RuleConfig":
        """Check params and thresholds against the detector, naming the rule in every error."""
        problems: list[str] = []
        try:
            self.detector_params()
        except ValidationError as exc:
            for error in exc.errors():
                key = ".".join(str(k) for k in error["loc"]) or "params"
                problems.append(f"params.{key}: {error['msg'].removeprefix('Value error, ')}")
        levels = [level for level in Level if level in self.thresholds]
        values = [self.thresholds[level] for level in levels]
        if any(v <= 0 for v in values):
            problems.append("thresholds must be positive")
        if any(b <= a for a, b in zip(values, values[1:])):
            problems.append("thresholds must increase from blue to red "
                            f"(got {', '.join(f'{lv.value}={v:g}' for lv, v in zip(levels, values))})")
        bad = [s for s in self.filter.sentiments or [] if s not in ("negative", "neutral", "positive")]
        if bad:
            problems.append(f"filter.sentiments: unknown sentiment {bad[0]!r} (negative, neutral or positive)")
        if parse_duration(self.bucket) <= timedelta(0):
            problems.append("bucket must be longer than 0s")
        if problems:
            raise ValueError("; ".join(f"rule '{self.name}' ({self.detector}): {p}" for p in problems))
        return self

    def spec(self) -> Any:
        """The detector's ``DetectorSpec`` (function, params model, thresholds, family, scope)."""
        return _detector_spec(self.detector)

    def detector_params(self) -> BaseModel:
        """``params`` validated by the detector's own parameter model."""
        return self.spec().params.model_validate(self.params)

    def level_thresholds(self) -> dict[Level, float]:
        """The thresholds, or the detector's defaults (a function of its params) when the rule gives none."""
        if self.thresholds:
            return dict(self.thresholds)
        return self.spec().default_thresholds(self.detector_params())

    def window_td(self) -> timedelta:
        """Look-back window of window-based detectors: ``window``, else one bucket."""
        return parse_duration(self.window) if self.window else parse_duration(self.bucket)


# ---- channels and routing --------------------------------------------------------------
class ChannelConfig(_Section):
    name: str
    url: str
    """An Apprise URL (mailto://, slack://, msteams://, wecombot://, dingtalk://, feishu://,
    tgram://, json://, ...) whose secrets are ${CRISISWATCH_...} placeholders."""
    format: str = "markdown"
    """A registered message format (``crisiswatch.formats`` entry points): text, markdown, html,
    or one a package adds."""
    max_attempts: int = Field(default=5, ge=1)
    timeout: Duration | None = None
    """How long to wait for the channel to connect and to answer (Apprise's ``cto``/``rto``);
    None = Apprise's own default of a few seconds."""
    enabled: bool = True

    _timeout = field_validator("timeout")(lambda v: v if v is None else _check_duration(v))

    @field_validator("url")
    @classmethod
    def _secrets_from_env(cls, value: str, info: ValidationInfo) -> str:
        """A token written into the file leaks through git, backups and screen shares; the
        error names the placeholder to write instead (and never repeats the secret)."""
        problem = literal_secret_problem(value, str(info.data.get("name") or ""))
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("format")
    @classmethod
    def _registered_format(cls, value: str) -> str:
        """Checked here, so a misspelt format is a config error, not a failed delivery at 3 a.m."""
        known = registry.names("formats")
        if value not in known:
            raise ValueError(f"unknown message format '{value}' (known: {', '.join(known) or 'none installed'})")
        return value


class EscalationStep(_Section):
    after: Duration
    """Time without acknowledgement after which these channels are notified."""
    channels: list[str]

    _durations = field_validator("after")(_check_duration)


class Route(_Section):
    name: str
    watchlists: list[str] | None = None
    """None = every watchlist."""
    min_level: Level = Level.blue
    channels: list[str]
    escalation: list[EscalationStep] = Field(default_factory=list)
    fallback: list[str] = Field(default_factory=list)
    """Channels, in order, that get a notification one of this route's channels could not
    deliver in its ``max_attempts`` (the next one when that one fails too); the failing
    channel keeps being retried until ``alerting.delivery_max_age``."""


class AlertingConfig(_Section):
    evaluate_every: Duration = "5m"
    auto_resolve_after_calm: int = Field(default=4, ge=1)
    """Resolve an incident after this many consecutive evaluations without firing."""
    deescalate_after: int = Field(default=3, ge=1)
    """Lower an incident's level only after this many consecutive buckets below it (levels
    go up at once); keeps a crisis hovering at a threshold from flapping between levels."""
    renotify_every: Duration = "1h"
    """Throttle: an unchanged incident is re-announced at most this often."""
    outbox_dir: str = "data/outbox"
    """Every notification is also written here (the local channel)."""
    base_url: str | None = None
    """Link target for 'open in Kibana / local search' in messages."""
    console_url: str | None = None
    """Where ``crisiswatch serve`` is reached (``https://crisis.example.com``). With it, and
    ``CRISISWATCH_SECRET_KEY`` in the environment, every incident message carries a signed,
    expiring, single-use "Acknowledge" link and an "Open incident" link."""
    action_link_ttl: Duration = "24h"
    """How long an "Acknowledge" link in a message stays valid."""
    console_trusted_header: str | None = None
    """Off by default. Behind an SSO reverse proxy (oauth2-proxy, …): the request header that
    carries the signed-in user's name (``X-Forwarded-User``). The console then takes that user
    (who must exist in ``crisiswatch users``) without a password, but only from a request whose
    peer address is in ``console_trusted_proxies``; from anywhere else the header is ignored."""
    console_trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or networks (``10.0.0.5``, ``172.16.0.0/12``) of the proxies allowed to set
    ``console_trusted_header``."""

    @model_validator(mode="after")
    def _trusted_header(self) -> "AlertingConfig":
        if self.console_trusted_header is not None:
            if not self.console_trusted_header.strip():
                raise ValueError("console_trusted_header: give a header name, or leave it out")
            if not self.console_trusted_proxies:
                raise ValueError("console_trusted_header needs console_trusted_proxies: the addresses of the "
                                 "proxies allowed to set it (otherwise anyone could send the header)")
        for item in self.console_trusted_proxies:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"console_trusted_proxies: '{item}' is not an address or network") from None
        return self
    retry_backoff: Duration = "30s"
    """First retry delay of a failed delivery; doubles per attempt up to ``retry_backoff_max``."""
    retry_backoff_max: Duration = "10m"
    """Longest wait between two attempts: a channel that comes back is used again within this."""
    delivery_max_age: Duration = "24h"
    """A notification is retried this long after it was queued (however many attempts that
    takes), then given up and the operations channels told."""
    charts: bool = True
    """Draw an evidence chart (PNG) for each firing and attach it to HTML e-mail."""

    _durations = field_validator("evaluate_every", "renotify_every", "retry_backoff", "retry_backoff_max",
                                 "delivery_max_age", "action_link_ttl")(_check_duration)


class AirflowConfig(_Section):
    """How the Airflow DAGs (``dags/``) run the pipeline; ignored without Airflow."""

    retries: int = Field(default=3, ge=0)
    """Retries of every task before it fails for good (and the operations channels are told)."""
    retry_delay: Duration = "1m"
    """Delay before the first retry; it doubles with each further retry."""
    max_retry_delay: Duration = "30m"
    pool_slots: dict[str, int] = Field(default_factory=dict)
    """Platform -> crawls of that platform allowed at once (Airflow pool ``crisiswatch_<platform>``,
    default 1), so sources that share an API share its rate limit."""
    enrich_slots: int = Field(default=1, ge=1)
    """Enrichment batches allowed at once (pool ``crisiswatch_enrich``; each loads the models)."""
    enrich_batch_size: int = Field(default=512, ge=1)
    """Posts per mapped enrichment task."""
    enrich_queue: str = "default"
    """Executor queue of the enrichment batches: with the Celery executor, a GPU worker started
    with ``airflow celery worker --queues gpu`` takes them when this is ``gpu``."""
    enrich_max_batches: int = Field(default=32, ge=1)
    """Most batches one enrich run plans; the rest waits for the next run."""
    crawl_timeout: Duration = "30m"
    """A crawl running longer than this is stopped and retried."""
    operations_channels: list[str] = Field(default_factory=list)
    """Channels told when a task fails for good and when maintenance finds unhealthy sources."""
    briefing_schedule: str = "0 7 * * *"
    """Cron (UTC) of the daily briefing, which covers the 24 hours before it."""
    briefing_channels: list[str] = Field(default_factory=list)
    """Channels that receive the daily briefing (e-mail channels get the HTML with its charts)."""
    maintenance_schedule: str = "30 3 * * *"
    """Cron (UTC) of retention, topic-model refresh and the source-health summary."""

    _durations = field_validator("retry_delay", "max_retry_delay", "crawl_timeout")(_check_duration)


class Config(_Section):
    """The whole crisiswatch configuration."""

    data_dir: str = "data"
    contact_url: str = "https://github.com/crisiswatch/crisiswatch"
    """Sent in the crawler User-Agent so platforms can reach the operator."""
    kibana_url: str | None = None
    store: StoreConfig = Field(default_factory=StoreConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    watchlists: list[Watchlist] = Field(default_factory=list)
    crisis_lexicon: list[str] = Field(default_factory=list)
    """Crisis terms in any language (recall, lawsuit, 召回, 中毒 ...) for keyword_burst."""
    sources: list[SourceConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    airflow: AirflowConfig = Field(default_factory=AirflowConfig)

    @model_validator(mode="after")
    def _cross_references(self) -> "Config":
        problems: list[str] = []
        for section in ("watchlists", "sources", "rules", "channels", "routes"):
            seen: set[str] = set()
            for index, item in enumerate(getattr(self, section)):
                if item.name in seen:
                    problems.append(f"{section}[{index}].name: duplicate name '{item.name}'")
                seen.add(item.name)
        watchlists = {w.name for w in self.watchlists}
        channels = {c.name for c in self.channels}
        sources = {s.name for s in self.sources}
        for index, rule in enumerate(self.rules):
            for name in rule.filter.watchlists or []:
                if name not in watchlists:
                    problems.append(f"rules[{index}].filter.watchlists: unknown watchlist '{name}'")
            for name in rule.filter.sources or []:
                if name not in sources:
                    problems.append(f"rules[{index}].filter.sources: unknown source '{name}'")
        for index, route in enumerate(self.routes):
            for name in route.watchlists or []:
                if name not in watchlists:
                    problems.append(f"routes[{index}].watchlists: unknown watchlist '{name}'")
            named = [(f"routes[{index}].channels", c) for c in route.channels] + [
                (f"routes[{index}].escalation[{k}].channels", c)
                for k, step in enumerate(route.escalation) for c in step.channels] + [
                (f"routes[{index}].fallback", c) for c in route.fallback]
            for where, name in named:
                if name not in channels:
                    problems.append(f"{where}: unknown channel '{name}'")
        for key in ("operations_channels", "briefing_channels"):
            for name in getattr(self.airflow, key):
                if name not in channels:
                    problems.append(f"airflow.{key}: unknown channel '{name}'")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- helpers used by components ----------------------------------------------------
    def source(self, name: str) -> SourceConfig:
        for item in self.sources:
            if item.name == name:
                return item
        raise KeyError(f"no source named '{name}' in the config")

    def rule(self, name: str) -> RuleConfig:
        for item in self.rules:
            if item.name == name:
                return item
        raise KeyError(f"no rule named '{name}' in the config")

    def elasticsearch_url(self) -> str | None:
        """The Elasticsearch URL, the environment winning over the file; None = SQLite."""
        return os.environ.get("CRISISWATCH_ELASTICSEARCH_URL") or self.store.elasticsearch.url

    def sqlite_path(self) -> Path:
        return Path(self.store.sqlite_path)


def _node_line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Line (1-based) of the YAML node at ``loc``, or of its deepest existing parent."""
    node, line = root, None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _parse_loc(path: str) -> tuple[Any, ...]:
    """``rules[0].filter.watchlists`` -> ('rules', 0, 'filter', 'watchlists')."""
    return tuple(int(index) if index else name for name, index in re.findall(r"(\w+)|\[(\d+)\]", path))


def _format_loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for key in loc:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(top level)"


def parse_config(text: str, filename: str = "<config>") -> Config:
    """Validate YAML text; raises ConfigError listing every problem."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise ConfigError([f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{filename}:1: the file must be a mapping of sections (store, sources, rules ...)"])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(k for k in error["loc"] if not (isinstance(k, str) and k.startswith("function-")))
            message = error["msg"].removeprefix("Value error, ")
            if not loc:  # cross-reference problems carry their own key paths
                for part in message.split("; "):
                    path, _, reason = part.partition(": ")
                    line = _node_line(root, _parse_loc(path))
                    problems.append(f"{filename}:{line}: {part}" if line else f"{filename}: {part}")
                continue
            line = _node_line(root, loc)
            where = f"{filename}:{line}" if line else filename
            problems.append(f"{where}: {_format_loc(loc)}: {message}")
        raise ConfigError(problems) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the file at ``path``, $CRISISWATCH_CONFIG, or ./crisiswatch.yaml; defaults if none exists."""
    candidate = path or os.environ.get(DEFAULT_CONFIG_ENV)
    if candidate is None:
        default = Path("crisiswatch.yaml")
        if not default.exists():
            return Config()
        candidate = default
    file = Path(candidate)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{file}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    return parse_config(text, str(file))


def missing_secrets(path: str | os.PathLike[str], config: Config, environ: dict[str, str] | None = None) -> list[str]:
    """``FILE:LINE: key: reason`` for every ``${CRISISWATCH_...}`` that an enabled channel or the
    Elasticsearch credentials need and the environment lacks: ``config check`` reports it
    before a delivery fails on it at 3 a.m."""
    env = os.environ if environ is None else environ
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        root = None
    places: list[tuple[tuple[Any, ...], str]] = [
        (("channels", index, "url"), channel.url) for index, channel in enumerate(config.channels) if channel.enabled]
    es = config.store.elasticsearch
    places += [(("store", "elasticsearch", key), getattr(es, key)) for key in ("api_key", "password")
               if getattr(es, key)]
    problems = []
    for loc, value in places:
        for name in dict.fromkeys(SECRET_PATTERN.findall(value)):
            if name not in env:
                line = _node_line(root, loc)
                problems.append(f"{path}:{line}: {_format_loc(loc)}: environment variable {name} is not set"
                                if line else f"{path}: {_format_loc(loc)}: environment variable {name} is not set")
    return problems
