"""Amazon CloudWatch metrics (``GetMetricData``) and CloudWatch Logs (``FilterLogEvents``) via boto3.

Metric query syntax
-------------------
One or more metric specs separated by ``;`` or newlines, all fetched in one paginated
``GetMetricData`` call (one ``MetricDataQueries`` entry each, ids ``m0``, ``m1``, …)::

    Namespace:MetricName[:Dim=Value[,Dim=Value…]][:Statistic]
    AWS/EC2:CPUUtilization:InstanceId=i-0123:Average
    AWS/ApplicationELB:TargetResponseTime:LoadBalancer=app/web/50dc6c495c0c9188:p99
    AWS/SQS:ApproximateNumberOfMessagesVisible:QueueName=jobs          (statistic defaults to Average)

The period is ``step_s`` rounded up to a period CloudWatch accepts (1, 5, 10, 30 or a multiple of
60 seconds). Each series is keyed by its spec with dimensions sorted, e.g.
``AWS/EC2:CPUUtilization:InstanceId=i-0123:Average``.

Log query syntax
----------------
``"<log group> | <filter pattern>"`` reads one group; a bare ``"<filter pattern>"`` (possibly
empty) reads every group configured on the source (``log_groups``, or all groups whose name starts
with ``log_group_prefix``). Filter patterns are CloudWatch's own (``ERROR``, ``{ $.level = "error" }``).
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any, Sequence

from aisre.errors import AuthError, BadQuery, IntegrationError, SourceDown
from aisre.models import LogRecord, Series
from aisre.sources.aws import make_client, map_aws_error
from aisre.sources.base import LogBatch
from aisre.sources.normalize import json_fields, level_of, lookup, make_series

_STAT = re.compile(r"^(Average|Sum|Minimum|Maximum|SampleCount|IQM|(p|tm|tc|ts|wm|TM|TC|TS|WM|PR)"
                   r"[\d.:%()]*[\d)%])$")
_MAX_QUERIES_PER_CALL = 500


def parse_metric_spec(spec: str) -> dict[str, Any]:
    """``AWS/EC2:CPUUtilization:InstanceId=i-1:Average`` → namespace, metric, dimensions, stat.

    Raises :class:`~aisre.errors.BadQuery` for a spec without namespace and metric name or with a
    malformed dimension.
    """
    text = spec.strip()
    parts = text.split(":")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise BadQuery(f"CloudWatch metric spec {spec!r} is not Namespace:MetricName[:Dim=V,…][:Stat]",
                       integration="cloudwatch", operation="get_metric_data")
    namespace, metric, rest = parts[0], parts[1], parts[2:]
    stat = "Average"
    if rest and _STAT.match(rest[-1]):
        stat = rest.pop()
    dims: dict[str, str] = {}
    dim_text = ":".join(rest).strip()
    if dim_text:
        for pair in dim_text.split(","):
            k, sep, v = pair.partition("=")
            if not sep or not k.strip():
                raise BadQuery(f"CloudWatch dimension {pair!r} in {spec!r} is not Name=Value",
                               integration="cloudwatch", operation="get_metric_data")
            dims[k.strip()] = v.strip()
    return {"namespace": namespace, "metric": metric, "dimensions": dims, "stat": stat}


def canonical_spec(parsed: dict[str, Any]) -> str:
    dims = ",".join(f"{k}={v}" for k, v in sorted(parsed["dimensions"].items()))
    return ":".join(p for p in (parsed["namespace"], parsed["metric"], dims, parsed["stat"]) if p)


def cloudwatch_period(step_s: float) -> int:
    """The smallest period CloudWatch accepts that is ≥ ``step_s``."""
    for p in (1, 5, 10, 30):
        if step_s <= p:
            return p
    return int(math.ceil(step_s / 60.0)) * 60


def _utc(ts: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)


class CloudWatchMetricSource:
    """Metric source over ``cloudwatch:GetMetricData`` (several specs per call, NextToken pages)."""

    name = "cloudwatch"

    def __init__(self, region: str = "us-east-1", *, access_key_id: str | None = None,
                 secret_access_key: str | None = None, endpoint_url: str | None = None,
                 timeout_s: float = 10, client: Any = None) -> None:
        self.region = region
        self._secrets = tuple(s for s in (access_key_id, secret_access_key) if s)
        self.client = client or make_client("cloudwatch", region, endpoint_url=endpoint_url,
                                            access_key_id=access_key_id, secret_access_key=secret_access_key,
                                            timeout_s=timeout_s)

    def query_range(self, query: str, start: float, end: float, step_s: float) -> list[Series]:
        specs = [s for s in re.split(r"[;\n]", query or "") if s.strip()]
        if not specs:
            raise BadQuery("empty CloudWatch metric query", integration="cloudwatch", operation="get_metric_data")
        if end < start or step_s <= 0:
            raise BadQuery(f"bad range start={start} end={end} step_s={step_s}", integration="cloudwatch",
                           operation="get_metric_data")
        parsed = [parse_metric_spec(s) for s in specs]
        period = cloudwatch_period(step_s)
        points: dict[str, list[tuple[float, float]]] = {}
        for offset in range(0, len(parsed), _MAX_QUERIES_PER_CALL):
            batch = parsed[offset: offset + _MAX_QUERIES_PER_CALL]
            queries = [{"Id": f"m{offset + i}", "ReturnData": True,
                        "MetricStat": {"Metric": {"Namespace": p["namespace"], "MetricName": p["metric"],
                                                  "Dimensions": [{"Name": k, "Value": v}
                                                                 for k, v in sorted(p["dimensions"].items())]},
                                       "Period": period, "Stat": p["stat"]}}
                       for i, p in enumerate(batch)]
            self._fetch(queries, start, end + period, points)   # EndTime is exclusive; keep ``end`` itself
        out = []
        for i, p in enumerate(parsed):
            labels = {"namespace": p["namespace"], "metric_name": p["metric"], "stat": p["stat"], **p["dimensions"]}
            pts = [(ts, v) for ts, v in points.get(f"m{i}", []) if start <= ts <= end]
            out.append(make_series(p["metric"], labels, pts, key=canonical_spec(p)))
        return out

    def _fetch(self, queries: list[dict[str, Any]], start: float, end: float,
               points: dict[str, list[tuple[float, float]]]) -> None:
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": _utc(start),
                                      "EndTime": _utc(end), "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            try:
                resp = self.client.get_metric_data(**kwargs)
            except Exception as exc:  # botocore raises many unrelated classes; map_aws_error types them
                raise map_aws_error(exc, integration="cloudwatch", operation="get_metric_data",
                                    target=self.region, secrets=self._secrets) from None
            for result in resp.get("MetricDataResults", []):
                code = result.get("StatusCode")
                if code == "Forbidden":
                    raise AuthError(f"CloudWatch refused metric {result.get('Label', result.get('Id'))}",
                                    integration="cloudwatch", operation="get_metric_data", target=self.region)
                if code == "InternalError":
                    raise SourceDown(f"CloudWatch internal error for {result.get('Label', result.get('Id'))}",
                                     integration="cloudwatch", operation="get_metric_data", target=self.region)
                ts_list = result.get("Timestamps") or []
                vals = result.get("Values") or []
                bucket = points.setdefault(result.get("Id", ""), [])
                bucket.extend((t.timestamp(), v) for t, v in zip(ts_list, vals))
            token = resp.get("NextToken")
            if not token or token in seen_tokens:
                return
            seen_tokens.add(token)


class CloudWatchLogSource:
    """Log source over ``logs:FilterLogEvents`` (nextToken pages), one or more log groups."""

    name = "cloudwatch"

    def __init__(self, region: str = "us-east-1", *, log_groups: Sequence[str] = (), log_group_prefix: str = "",
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 endpoint_url: str | None = None, timeout_s: float = 10, page_size: int = 1000,
                 client: Any = None) -> None:
        self.region = region
        self.log_groups = tuple(log_groups)
        self.log_group_prefix = log_group_prefix
        self.page_size = max(1, min(10_000, page_size))
        self._secrets = tuple(s for s in (access_key_id, secret_access_key) if s)
        self.client = client or make_client("logs", region, endpoint_url=endpoint_url, access_key_id=access_key_id,
                                            secret_access_key=secret_access_key, timeout_s=timeout_s)

    def _err(self, exc: BaseException, operation: str, target: str) -> IntegrationError:
        return map_aws_error(exc, integration="cloudwatch_logs", operation=operation, target=target,
                             secrets=self._secrets)

    def groups(self) -> list[str]:
        """The configured groups, or every group under ``log_group_prefix`` (paginated)."""
        if self.log_groups:
            return list(self.log_groups)
        names: list[str] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {}
            if self.log_group_prefix:
                kwargs["logGroupNamePrefix"] = self.log_group_prefix
            if token:
                kwargs["nextToken"] = token
            try:
                resp = self.client.describe_log_groups(**kwargs)
            except Exception as exc:
                raise self._err(exc, "describe_log_groups", self.log_group_prefix or "*") from None
            names.extend(g["logGroupName"] for g in resp.get("logGroups", []) if g.get("logGroupName"))
            token = resp.get("nextToken")
            if not token:
                return names

    def fetch(self, query: str, start: float, end: float, limit: int = 1000) -> LogBatch:
        if end < start:
            raise BadQuery(f"end ({end}) is before start ({start})", integration="cloudwatch_logs",
                           operation="filter_log_events")
        group, pattern = _split_log_query(query)
        groups = [group] if group else self.groups()
        merged: list[LogRecord] = []
        cutoff = math.inf
        for g in groups:
            recs, truncated = self._fetch_group(g, pattern, start, end, limit)
            merged.extend(recs)
            if truncated and recs:
                cutoff = min(cutoff, recs[-1].ts)
        merged.sort(key=lambda r: (r.ts, r.attributes.get("log_group", ""), r.attributes.get("event_id", "")))
        truncated = cutoff != math.inf
        if truncated:  # a group was cut short: only what is complete up to its last timestamp is safe
            merged = [r for r in merged if r.ts <= cutoff]
        if len(merged) > limit:
            merged, truncated = merged[:limit], True
        return LogBatch(merged, truncated=truncated)

    def _fetch_group(self, group: str, pattern: str, start: float, end: float,
                     limit: int) -> tuple[list[LogRecord], bool]:
        records: list[LogRecord] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            kwargs: dict[str, Any] = {"logGroupName": group, "startTime": int(start * 1000),
                                      "endTime": int(math.ceil(end * 1000)),
                                      "limit": min(self.page_size, max(1, limit - len(records)))}
            if pattern:
                kwargs["filterPattern"] = pattern
            if token:
                kwargs["nextToken"] = token
            try:
                resp = self.client.filter_log_events(**kwargs)
            except Exception as exc:
                raise self._err(exc, "filter_log_events", group) from None
            for ev in resp.get("events", []):
                rec = _event_record(group, ev)
                if rec is not None and start <= rec.ts < end:
                    records.append(rec)
            token = resp.get("nextToken")
            if len(records) >= limit:
                return records[:limit], bool(token) or len(records) > limit
            if not token or token in seen:
                return records, False
            seen.add(token)


def _split_log_query(query: str) -> tuple[str, str]:
    text = (query or "").strip()
    if "|" in text and not text.startswith("{"):
        group, _, pattern = text.partition("|")
        return group.strip(), pattern.strip()
    return "", text


def _event_record(group: str, ev: dict[str, Any]) -> LogRecord | None:
    ts_ms = ev.get("timestamp")
    if not isinstance(ts_ms, (int, float)):
        return None
    message = str(ev.get("message", "")).rstrip("\n")
    fields = json_fields(message)
    service = str(lookup(fields, "service") or lookup(fields, "service.name") or "") if fields else ""
    return LogRecord(ts=ts_ms / 1000.0, message=message, service=service, level=level_of(fields, message),
                     source="cloudwatch", attributes={"log_group": group, "log_stream": ev.get("logStreamName", ""),
                                                      "event_id": ev.get("eventId", "")})
