"""CloudWatch metrics and logs: moto (mock_aws) for behaviour, botocore's Stubber for pages and errors."""
from __future__ import annotations

import datetime as dt
import time

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from aisre.errors import AuthError, BadQuery, NotFound, RateLimited, SourceDown
from aisre.sources.cloudwatch import (CloudWatchLogSource, CloudWatchMetricSource, canonical_spec,
                                      cloudwatch_period, parse_metric_spec)

REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield


def _minute(offset_min: int) -> float:
    base = (int(time.time()) // 3600 - 2) * 3600      # two hours ago, on the hour
    return float(base + 60 * offset_min)


def test_parse_metric_spec():
    p = parse_metric_spec("AWS/ApplicationELB:TargetResponseTime:LoadBalancer=app/web/50dc,AvailabilityZone=eu-1a:p99")
    assert p == {"namespace": "AWS/ApplicationELB", "metric": "TargetResponseTime",
                 "dimensions": {"LoadBalancer": "app/web/50dc", "AvailabilityZone": "eu-1a"}, "stat": "p99"}
    assert parse_metric_spec("AWS/SQS:ApproximateNumberOfMessagesVisible:QueueName=jobs")["stat"] == "Average"
    assert parse_metric_spec("Custom:Errors:Sum")["dimensions"] == {}
    assert parse_metric_spec("AWS/Lambda:Duration:FunctionName=arn:aws:lambda:fn:Maximum")["dimensions"] == {
        "FunctionName": "arn:aws:lambda:fn"}
    assert canonical_spec(parse_metric_spec("A:B:z=1,a=2:Sum")) == "A:B:a=2,z=1:Sum"
    for bad in ("justone", ":Metric", "AWS/EC2:CPU:InstanceId"):
        with pytest.raises(BadQuery):
            parse_metric_spec(bad)


def test_cloudwatch_period():
    assert [cloudwatch_period(s) for s in (1, 3, 10, 45, 60, 61, 300)] == [1, 5, 10, 60, 60, 120, 300]


def test_metrics_several_specs_in_one_call(aws):
    cw = boto3.client("cloudwatch", region_name=REGION)
    for inst, base in (("i-1", 10.0), ("i-2", 50.0)):
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
            {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": inst}],
             "Timestamp": dt.datetime.fromtimestamp(_minute(i), tz=dt.timezone.utc), "Value": base + i}
            for i in range(10)])
    src = CloudWatchMetricSource(REGION)
    got = src.query_range("AWS/EC2:CPUUtilization:InstanceId=i-1:Average; AWS/EC2:CPUUtilization:InstanceId=i-2:Maximum"
                          "\nAWS/EC2:CPUUtilization:InstanceId=i-none", _minute(0), _minute(9), 60)
    assert [s.key for s in got] == ["AWS/EC2:CPUUtilization:InstanceId=i-1:Average",
                                    "AWS/EC2:CPUUtilization:InstanceId=i-2:Maximum",
                                    "AWS/EC2:CPUUtilization:InstanceId=i-none:Average"]
    assert got[0].points == tuple((_minute(i), 10.0 + i) for i in range(10))
    assert got[1].points[-1] == (_minute(9), 59.0)
    assert got[2].points == ()
    assert got[0].labels == {"namespace": "AWS/EC2", "metric_name": "CPUUtilization", "stat": "Average",
                             "InstanceId": "i-1"}


def _stubbed_metrics():
    client = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")
    return client, Stubber(client)


def test_metrics_follow_next_token_and_merge_pages():
    client, stub = _stubbed_metrics()
    t = [dt.datetime.fromtimestamp(1_700_000_000 + 60 * i, tz=dt.timezone.utc) for i in range(4)]
    stub.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "m0", "Label": "CPU", "Timestamps": t[:2], "Values": [1.0, 2.0], "StatusCode": "PartialData"}],
        "NextToken": "page2"})
    stub.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "m0", "Label": "CPU", "Timestamps": t[2:], "Values": [3.0, 4.0], "StatusCode": "Complete"}]},
        expected_params={"MetricDataQueries": ANY, "StartTime": t[0], "EndTime": t[3] + dt.timedelta(seconds=60),
                         "ScanBy": "TimestampAscending", "NextToken": "page2"})
    with stub:
        got = CloudWatchMetricSource(REGION, client=client).query_range("AWS/EC2:CPUUtilization:Average",
                                                                        1_700_000_000, 1_700_000_180, 60)
    stub.assert_no_pending_responses()
    assert [v for _, v in got[0].points] == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("code,status,cls", [
    ("AccessDenied", 403, AuthError), ("Throttling", 400, RateLimited), ("InvalidParameterValue", 400, BadQuery),
    ("InternalServiceError", 500, SourceDown)])
def test_metric_errors_are_typed_without_secrets(code, status, cls):
    client, stub = _stubbed_metrics()
    stub.add_client_error("get_metric_data", service_error_code=code, service_message="nope", http_status_code=status)
    with stub, pytest.raises(cls) as ei:
        CloudWatchMetricSource(REGION, client=client, secret_access_key="SUPERSECRET", access_key_id="AKIA1").query_range(
            "AWS/EC2:CPUUtilization:Average", 0, 600, 60)
    assert ei.value.integration == "cloudwatch" and "SUPERSECRET" not in str(ei.value)


def test_unreachable_endpoint_is_source_down(refused_url):
    src = CloudWatchMetricSource(REGION, endpoint_url=refused_url, access_key_id="a", secret_access_key="b",
                                 timeout_s=1)
    with pytest.raises(SourceDown):
        src.query_range("AWS/EC2:CPUUtilization:Average", 0, 600, 60)


def _put_logs(logs, group, stream, events):
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(ts * 1000), "message": m} for ts, m in events])


def test_logs_paginate_across_groups_oldest_first(aws):
    logs = boto3.client("logs", region_name=REGION)
    base = _minute(0)
    _put_logs(logs, "/app/checkout", "pod-1", [(base + i, f'{{"level":"error","service":"checkout","n":{i}}}')
                                               for i in range(0, 10, 2)])
    _put_logs(logs, "/app/payments", "pod-1", [(base + i, f"WARN payments slow {i}") for i in range(1, 10, 2)])
    _put_logs(logs, "/other/x", "s", [(base, "not selected")])
    src = CloudWatchLogSource(REGION, log_group_prefix="/app/", page_size=2)
    batch = src.fetch("", base, base + 60)
    assert len(batch) == 10 and not batch.truncated
    assert [r.ts for r in batch] == [base + i for i in range(10)]
    assert batch[0].level == "error" and batch[0].service == "checkout"
    assert batch[1].level == "warning" and batch[1].attributes["log_group"] == "/app/payments"
    one = src.fetch("/app/payments | WARN", base, base + 60)
    assert {r.attributes["log_group"] for r in one} == {"/app/payments"} and len(one) == 5


def test_logs_limit_across_groups_never_skips_a_record(aws):
    logs = boto3.client("logs", region_name=REGION)
    base = _minute(0)
    _put_logs(logs, "/g/a", "s", [(base + i, f"a{i}") for i in range(0, 20, 2)])
    _put_logs(logs, "/g/b", "s", [(base + i, f"b{i}") for i in range(1, 20, 2)])
    src = CloudWatchLogSource(REGION, log_groups=["/g/a", "/g/b"], page_size=3)
    seen, start = [], base
    for _ in range(20):
        batch = src.fetch("", start, base + 60, limit=4)
        seen.extend(r.message for r in batch if r.message not in seen)
        if not batch.truncated:
            break
        start = batch.resume_ts
    assert seen == [f"{'ab'[i % 2]}{i}" for i in range(20)]


def test_logs_missing_group_is_not_found(aws):
    with pytest.raises(NotFound):
        CloudWatchLogSource(REGION).fetch("/nope | ERROR", 0, 60)
