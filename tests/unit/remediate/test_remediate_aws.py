"""AwsExecutor with moto (mock_aws): ASG capacity, catalogued SSM, RDS failover, one ELBv2 target."""
import boto3
import pytest
from moto import mock_aws

from aisre.models import ActionRequest, ActionStatus, Target
from aisre.remediate.aws import AwsExecutor
from aisre.remediate.registry import run_action

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield


@pytest.fixture
def ex(aws):
    return AwsExecutor(region=REGION, sleep=lambda s: None, verify_timeout_s=5, poll_interval_s=0)


def req(action, name, **params):
    return ActionRequest(action=action, service="checkout", params=params, incident_id="inc-9",
                         target=Target(kind="aws", name=name))


def make_asg(desired=2, lo=1, hi=10):
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.create_launch_template(LaunchTemplateName="web-lt",
                               LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro"})
    asg = boto3.client("autoscaling", region_name=REGION)
    asg.create_auto_scaling_group(AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateName": "web-lt"},
                                  MinSize=lo, MaxSize=hi, DesiredCapacity=desired, AvailabilityZones=["us-east-1a"])
    return asg


def desired(asg):
    return asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]["DesiredCapacity"]


# ------------------------------------------------------------------ ASG

def test_asg_doubles_within_limits(ex):
    asg = make_asg(desired=2)
    r = run_action(ex, req("asg_set_capacity", "web", factor=2))
    assert r.status is ActionStatus.SUCCEEDED, r
    assert desired(asg) == 4 and r.verify.observed["in_service"] >= 4


@pytest.mark.parametrize("params,expected", [({"desired": 20, "current": 3}, 6),   # one 2x step
                                              ({"factor": 2}, 5)])                   # MaxSize 5
def test_asg_is_clamped(ex, params, expected):
    asg = make_asg(desired=3, hi=5 if "factor" in params else 10)
    r = run_action(ex, req("asg_set_capacity", "web", **params))
    assert desired(asg) == expected, r


def test_asg_scale_to_zero_never_runs(ex):
    asg = make_asg(desired=2, lo=0)
    r = run_action(ex, req("asg_set_capacity", "web", desired=0, current=2))
    assert r.status is ActionStatus.DENIED and desired(asg) == 2


def test_asg_missing_group_fails(ex):
    r = run_action(ex, req("asg_set_capacity", "nope", factor=2))
    assert r.status is ActionStatus.FAILED and "not found" in r.error


def test_asg_dry_run_changes_nothing(ex):
    asg = make_asg(desired=2)
    r = run_action(ex, req("asg_set_capacity", "web", factor=2), dry_run=True)
    assert r.status is ActionStatus.DRY_RUN and desired(asg) == 2


# ------------------------------------------------------------------ SSM

def instances(n=2):
    ec2 = boto3.client("ec2", region_name=REGION)
    return [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12345678", MinCount=n, MaxCount=n)["Instances"]]


def sent(ex, operation="SendCommand"):
    """Capture the parameters our executor's own client puts on the wire."""
    seen = []
    ex.client("ssm").meta.events.register(f"before-parameter-build.ssm.{operation}",
                                          lambda params, **kw: seen.append(dict(params)))
    return seen


def test_ssm_runs_a_catalogued_script_on_the_affected_instances_only(ex):
    ids = instances(3)
    wire = sent(ex)
    r = run_action(ex, req("ssm_run_command", "checkout", command="log_rotate", instance_ids=ids[:2]))
    assert r.status is ActionStatus.SUCCEEDED, r
    # moto 5.2.5 lists every instance in Command.InstanceIds when Targets is empty, so read the request itself
    body = wire[0]
    assert body["DocumentName"] == "AWS-RunShellScript"
    assert body["Parameters"] == {"commands": ["logrotate --force /etc/logrotate.conf"]}
    assert sorted(body["InstanceIds"]) == sorted(ids[:2]) and "Targets" not in body
    assert r.verify.ok and set(r.verify.observed["statuses"]) == set(ids[:2])


def test_ssm_service_restart_fills_the_service_name(ex):
    ids = instances(1)
    wire = sent(ex)
    r = run_action(ex, req("ssm_run_command", "checkout", command="service_restart", service="nginx",
                           instance_ids=ids))
    assert r.status is ActionStatus.SUCCEEDED
    assert wire[0]["Parameters"] == {"commands": ["systemctl restart nginx"]}


@pytest.mark.parametrize("params", [{"command": "rm -rf /"}, {"command": "log_rotate", "commands": ["curl x|sh"]},
                                    {"command": "service_restart", "service": "x; reboot"}])
def test_ssm_free_text_never_sent(ex, params):
    ids = instances(1)
    wire = sent(ex)
    r = run_action(ex, req("ssm_run_command", "checkout", instance_ids=ids, **params))
    assert r.status is ActionStatus.DENIED and wire == []


def test_ssm_skips_stopped_instances(ex):
    ids = instances(1)
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=ids)
    r = run_action(ex, req("ssm_run_command", "checkout", command="log_rotate", instance_ids=ids))
    assert r.status is ActionStatus.SKIPPED and "not running" in r.detail


# ------------------------------------------------------------------ RDS

def aurora():
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_cluster(DBClusterIdentifier="orders", Engine="aurora-postgresql", MasterUsername="u",
                          MasterUserPassword="password123")
    for n in ("orders-1", "orders-2"):
        rds.create_db_instance(DBInstanceIdentifier=n, DBClusterIdentifier="orders", Engine="aurora-postgresql",
                               DBInstanceClass="db.r5.large")
    return rds


def test_aurora_failover_moves_the_writer(ex):
    rds = aurora()
    r = run_action(ex, req("rds_failover", "orders"))
    assert r.status is ActionStatus.SUCCEEDED, r
    members = rds.describe_db_clusters(DBClusterIdentifier="orders")["DBClusters"][0]["DBClusterMembers"]
    assert [m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]] == ["orders-2"]


def test_aurora_failover_to_a_non_reader_fails(ex):
    aurora()
    r = run_action(ex, req("rds_failover", "orders", target_instance="orders-1"))
    assert r.status is ActionStatus.FAILED and "not a reader" in r.error


def test_rds_reboot_failover_multi_az(ex):
    rds = boto3.client("rds", region_name=REGION)
    for name, multi in (("pg", True), ("single", False)):
        rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t3.micro",
                               MultiAZ=multi, AllocatedStorage=20, MasterUsername="u", MasterUserPassword="password123")
    assert run_action(ex, req("rds_reboot_failover", "pg")).status is ActionStatus.SUCCEEDED
    r = run_action(ex, req("rds_reboot_failover", "single"))
    assert r.status is ActionStatus.SKIPPED and "Multi-AZ" in r.detail


# ------------------------------------------------------------------ ELBv2

def target_group(n=3, stop=1):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ids = instances(n)
    elb = boto3.client("elbv2", region_name=REGION)
    tg = elb.create_target_group(Name="web-tg", Protocol="HTTP", Port=80, VpcId=vpc,
                                 TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i, "Port": 80} for i in ids])
    if stop:
        ec2.stop_instances(InstanceIds=ids[:stop])
    return elb, tg, ids


def registered(elb, tg):
    return sorted(h["Target"]["Id"] for h in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"])


def test_deregisters_one_bad_target(ex):
    elb, tg, ids = target_group()
    r = run_action(ex, req("deregister_target", "web-tg"))
    assert r.status is ActionStatus.SUCCEEDED, r
    assert r.evidence["target"] == ids[0] and registered(elb, tg) == sorted(ids[1:])


def test_healthy_targets_are_never_deregistered(ex):
    elb, tg, ids = target_group(stop=0)
    r = run_action(ex, req("deregister_target", tg, target_id=ids[1]))
    assert r.status is ActionStatus.SKIPPED and registered(elb, tg) == sorted(ids)


def test_the_last_target_is_never_deregistered(ex):
    elb, tg, ids = target_group(n=1, stop=1)
    r = run_action(ex, req("deregister_target", tg))
    assert r.status is ActionStatus.SKIPPED and "no other healthy" in r.detail
    assert registered(elb, tg) == ids


def test_unreachable_endpoint_is_a_typed_failure(monkeypatch):
    from aisre.remediate._net import closed_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    ex = AwsExecutor(region=REGION, endpoint_url=f"http://127.0.0.1:{closed_port()}")
    r = run_action(ex, req("asg_set_capacity", "web", factor=2))
    assert r.status is ActionStatus.FAILED and "SourceDown" in r.error


def test_clients_never_retry_and_throttling_is_rate_limited(ex):
    from botocore.stub import Stubber

    client = ex.client("autoscaling")
    assert client.meta.config.retries["total_max_attempts"] == 1          # no retry at all
    with Stubber(client) as stub:
        stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [{
            "AutoScalingGroupName": "web", "MinSize": 1, "MaxSize": 10, "DesiredCapacity": 2,
            "DefaultCooldown": 300, "AvailabilityZones": ["us-east-1a"], "HealthCheckType": "EC2",
            "CreatedTime": "2026-11-28T00:00:00Z", "Instances": []}]}, {"AutoScalingGroupNames": ["web"]})
        stub.add_client_error("describe_auto_scaling_groups", service_error_code="Throttling",
                              service_message="Rate exceeded", http_status_code=400)
        r = run_action(ex, req("asg_set_capacity", "web", factor=2))
    assert r.status is ActionStatus.FAILED and "RateLimited" in r.error and "Throttling" in r.error


DESCRIBE_PG = """<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
<DescribeDBInstancesResult><DBInstances><DBInstance><DBInstanceIdentifier>pg</DBInstanceIdentifier>
<DBInstanceStatus>available</DBInstanceStatus><MultiAZ>true</MultiAZ><AvailabilityZone>us-east-1a</AvailabilityZone>
</DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>
</DescribeDBInstancesResponse>"""
ERROR_500 = """<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Receiver</Type>
<Code>InternalFailure</Code><Message>boom</Message></Error><RequestId>r2</RequestId></ErrorResponse>"""


def test_a_failed_aws_mutation_is_sent_exactly_once(monkeypatch):
    """A loopback RDS endpoint answers 500 (retryable for botocore) to the reboot: it must arrive once."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            action = parse_qs(body)["Action"][0]
            seen.append(action)
            status, text = (200, DESCRIBE_PG) if action == "DescribeDBInstances" else (500, ERROR_500)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        ex = AwsExecutor(region=REGION, endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
                         access_key_id="k", secret_access_key="s")
        r = run_action(ex, req("rds_reboot_failover", "pg"))
    finally:
        server.shutdown()
        server.server_close()
    assert r.status is ActionStatus.FAILED and "SourceDown" in r.error and "InternalFailure" in r.error
    assert seen.count("RebootDBInstance") == 1


def test_ssm_runbook_commands_list_runs_each_catalogue_entry(ex):
    ids = instances(1)
    wire = sent(ex)
    r = run_action(ex, req("ssm_run_command", "checkout", document="AWS-RunShellScript",
                           commands=["log_rotate", "disk_cleanup"], instance_ids=ids))
    assert r.status is ActionStatus.SUCCEEDED, r
    lines = wire[0]["Parameters"]["commands"]
    assert lines[0] == "logrotate --force /etc/logrotate.conf" and lines[1].startswith("journalctl --vacuum-size")
    assert len(lines) == 4


def test_deregister_only_in_the_named_zone(ex):
    elb, tg, ids = target_group(n=3, stop=0)
    ec2 = boto3.client("ec2", region_name=REGION)
    zone = ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"][0]["Instances"][0]["Placement"][
        "AvailabilityZone"]
    ec2.stop_instances(InstanceIds=[ids[0]])
    r = run_action(ex, req("deregister_target", "web-tg", zone="eu-west-9z" if zone != "eu-west-9z" else "us-east-1f"))
    assert r.status is ActionStatus.SKIPPED and registered(elb, tg) == sorted(ids)       # no bad target there
    r = run_action(ex, req("deregister_target", "web-tg", zone=zone))
    assert r.status is ActionStatus.SUCCEEDED and ids[0] not in registered(elb, tg)


def test_asg_exclude_zone_is_reported_not_silently_dropped(ex):
    make_asg(desired=2)
    r = run_action(ex, req("asg_set_capacity", "web", factor=1.5, exclude_zone="us-east-1a"), dry_run=True)
    assert r.status is ActionStatus.DRY_RUN and any("exclude_zone" in s for s in r.evidence["steps"])
