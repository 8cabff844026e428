"""Build the configured sources from ``config.sources`` (the pack's ``sources.*`` section).

Metric sources, keyed by name: ``prometheus``, ``datadog``, ``cloudwatch``, ``http`` (from
``sources.http_checks``), ``csv`` (from ``sources.files.metrics_csv``).
Log sources: ``elasticsearch``, ``datadog``, ``cloudwatch``, ``loki``, ``files`` (from
``sources.files.log_paths``).

Only configured sections produce a source. Constructors do no network I/O, so building sources
never fails because a system is down; a bad value raises :class:`~aisre.errors.ConfigError`
naming the key. :data:`METRIC_SOURCES` / :data:`LOG_SOURCES` are the explicit registries.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from aisre.errors import ConfigError
from aisre.sources.base import LogSource, MetricSource
from aisre.state import StateStore

#: name -> "module:Class" (the registry other code and tests enumerate).
METRIC_SOURCES = {
    "prometheus": "aisre.sources.prometheus:PrometheusSource",
    "datadog": "aisre.sources.datadog:DatadogMetricSource",
    "cloudwatch": "aisre.sources.cloudwatch:CloudWatchMetricSource",
    "http": "aisre.sources.http_check:HttpCheckSource",
    "csv": "aisre.sources.csv_replay:CsvReplaySource",
}
LOG_SOURCES = {
    "elasticsearch": "aisre.sources.elasticsearch:ElasticsearchLogSource",
    "datadog": "aisre.sources.datadog:DatadogLogSource",
    "cloudwatch": "aisre.sources.cloudwatch:CloudWatchLogSource",
    "loki": "aisre.sources.loki:LokiLogSource",
    "files": "aisre.sources.files:FileTailSource",
}


def _load(ref: str) -> Callable[..., Any]:
    import importlib

    module, _, cls = ref.partition(":")
    return getattr(importlib.import_module(module), cls)


def _sources_section(config: Any) -> Mapping[str, Any]:
    sources = getattr(config, "sources", config)
    return sources if isinstance(sources, Mapping) else {}


def _build(name: str, path: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"cannot build the {name} source: {exc}", path=path) from None


def build_metric_sources(config: Any) -> dict[str, MetricSource]:
    """Every configured metric source, keyed by name. ``config`` is an :class:`aisre.config.Config`
    (or its ``sources`` mapping)."""
    src = _sources_section(config)
    out: dict[str, MetricSource] = {}
    if src.get("prometheus"):
        c = src["prometheus"]
        out["prometheus"] = _build("prometheus", "sources.prometheus", lambda: _load(METRIC_SOURCES["prometheus"])(
            c["url"], timeout_s=c.get("timeout_s", 10), bearer_token=c.get("bearer_token"),
            verify_ssl=c.get("verify_ssl", True)))
    if src.get("datadog"):
        c = src["datadog"]
        out["datadog"] = _build("datadog", "sources.datadog", lambda: _load(METRIC_SOURCES["datadog"])(
            c["api_key"], c["app_key"], site=c.get("site", "datadoghq.com"), timeout_s=c.get("timeout_s", 10)))
    if src.get("cloudwatch"):
        c = src["cloudwatch"]
        out["cloudwatch"] = _build("cloudwatch", "sources.cloudwatch", lambda: _load(METRIC_SOURCES["cloudwatch"])(
            c.get("region", "us-east-1"), access_key_id=c.get("access_key_id"),
            secret_access_key=c.get("secret_access_key"), endpoint_url=c.get("endpoint_url"),
            timeout_s=c.get("timeout_s", 10)))
    if src.get("http_checks"):
        checks = src["http_checks"]
        out["http"] = _build("http", "sources.http_checks", lambda: _load(METRIC_SOURCES["http"])(checks))
    files = src.get("files") or {}
    if files.get("metrics_csv"):
        out["csv"] = _build("csv", "sources.files.metrics_csv",
                            lambda: _load(METRIC_SOURCES["csv"])(files["metrics_csv"]))
    return out


def build_log_sources(config: Any, state_store: StateStore | None = None) -> dict[str, LogSource]:
    """Every configured log source, keyed by name. ``state_store`` keeps the file-tail offsets
    (pass the st2 datastore or a FileStore so they survive restarts)."""
    src = _sources_section(config)
    out: dict[str, LogSource] = {}
    if src.get("elasticsearch"):
        c = src["elasticsearch"]
        out["elasticsearch"] = _build("elasticsearch", "sources.elasticsearch",
                                      lambda: _load(LOG_SOURCES["elasticsearch"])(
                                          c["url"], c.get("index", "logs-*"), api_key=c.get("api_key"),
                                          username=c.get("username"), password=c.get("password"),
                                          timeout_s=c.get("timeout_s", 10), verify_ssl=c.get("verify_ssl", True),
                                          time_field=c.get("time_field", "@timestamp")))
    if src.get("datadog"):
        c = src["datadog"]
        out["datadog"] = _build("datadog", "sources.datadog", lambda: _load(LOG_SOURCES["datadog"])(
            c["api_key"], c["app_key"], site=c.get("site", "datadoghq.com"), timeout_s=c.get("timeout_s", 10)))
    if src.get("cloudwatch"):
        c = src["cloudwatch"]
        out["cloudwatch"] = _build("cloudwatch", "sources.cloudwatch", lambda: _load(LOG_SOURCES["cloudwatch"])(
            c.get("region", "us-east-1"), log_groups=tuple(c.get("log_groups") or ()),
            log_group_prefix=c.get("log_group_prefix", ""), access_key_id=c.get("access_key_id"),
            secret_access_key=c.get("secret_access_key"), endpoint_url=c.get("endpoint_url"),
            timeout_s=c.get("timeout_s", 10)))
    if src.get("loki"):
        c = src["loki"]
        out["loki"] = _build("loki", "sources.loki", lambda: _load(LOG_SOURCES["loki"])(
            c["url"], bearer_token=c.get("bearer_token"), tenant=c.get("tenant"), timeout_s=c.get("timeout_s", 10)))
    files = src.get("files") or {}
    if files.get("log_paths"):
        out["files"] = _build("files", "sources.files.log_paths", lambda: _load(LOG_SOURCES["files"])(
            list(files["log_paths"]), state_store, start_at=files.get("start_at", "end")))
    return out
