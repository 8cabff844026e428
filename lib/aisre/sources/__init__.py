"""aisre.sources: where telemetry comes in (metric and log sources, one module per vendor).

Every source honours the protocols in :mod:`aisre.sources.base` and raises only
:class:`aisre.errors.IntegrationError` subclasses. Build the configured ones with
:func:`build_metric_sources` / :func:`build_log_sources`.
"""
from aisre.sources.base import LogBatch, LogSource, MetricSource
from aisre.sources.cloudwatch import CloudWatchLogSource, CloudWatchMetricSource
from aisre.sources.csv_replay import CsvReplaySource
from aisre.sources.cursor import Cursor, NewRecords, fetch_new
from aisre.sources.datadog import DatadogLogSource, DatadogMetricSource
from aisre.sources.elasticsearch import ElasticsearchLogSource
from aisre.sources.files import FileTailSource
from aisre.sources.http import HttpClient, RetryPolicy
from aisre.sources.http_check import HttpCheck, HttpCheckSource
from aisre.sources.loki import LokiLogSource
from aisre.sources.prometheus import PrometheusSource
from aisre.sources.registry import LOG_SOURCES, METRIC_SOURCES, build_log_sources, build_metric_sources

__all__ = [
    "CloudWatchLogSource", "CloudWatchMetricSource", "CsvReplaySource", "Cursor", "NewRecords", "fetch_new", "DatadogLogSource", "DatadogMetricSource",
    "ElasticsearchLogSource", "FileTailSource", "HttpCheck", "HttpCheckSource", "HttpClient", "LOG_SOURCES",
    "LogBatch", "LogSource", "LokiLogSource", "METRIC_SOURCES", "MetricSource", "PrometheusSource", "RetryPolicy",
    "build_log_sources", "build_metric_sources",
]
