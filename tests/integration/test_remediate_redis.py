"""RedisExecutor against a real redis-server: the pattern's keys go, every other key stays."""
import pytest
import redis

from aisre.models import ActionRequest, ActionStatus, Target
from aisre.remediate.redis import RedisExecutor
from aisre.remediate.registry import run_action

TARGETS = {"redis": {"evictable_patterns": ["cache:sessions:*"]}}


@pytest.fixture
def rds(redis_server):
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    yield client
    client.flushall()
    client.close()


def req(action="redis_unlink_pattern", **params):
    return ActionRequest(action=action, service="checkout", params=params,
                         target=Target(kind="redis", name="cache"))


def seed(client, n=1200):
    pipe = client.pipeline()
    for i in range(n):
        pipe.set(f"cache:sessions:{i}", "x")
    for i in range(50):
        pipe.set(f"user:{i}", "keep")
        pipe.set(f"cache:carts:{i}", "keep")
    pipe.execute()


def test_unlinks_only_the_pattern(rds):
    seed(rds)
    ex = RedisExecutor(rds, ["cache:sessions:*"])
    r = run_action(ex, req(pattern="cache:sessions:*"), targets=TARGETS)
    assert r.status is ActionStatus.SUCCEEDED, r
    assert r.evidence["unlinked"] == 1200
    assert not list(rds.scan_iter(match="cache:sessions:*"))
    assert rds.dbsize() == 100 and rds.get("user:7") == b"keep"


def test_bounded_per_run(rds):
    seed(rds)
    ex = RedisExecutor(rds, ["cache:sessions:*"], max_keys=500)
    r = run_action(ex, req(pattern="cache:sessions:*"), targets=TARGETS)
    assert r.status is ActionStatus.SUCCEEDED and r.evidence["unlinked"] == 500 and r.evidence["capped"]
    assert len(list(rds.scan_iter(match="cache:sessions:*"))) == 700


def test_dry_run_counts_and_keeps(rds):
    seed(rds, 30)
    r = run_action(RedisExecutor(rds, ["cache:sessions:*"]), req(pattern="cache:sessions:*"), dry_run=True,
                   targets=TARGETS)
    assert r.status is ActionStatus.DRY_RUN and r.evidence["would_unlink"] == 30
    assert rds.dbsize() == 130


@pytest.mark.parametrize("pattern", ["*", "user:*", "cache:*"])
def test_patterns_off_the_list_never_run(rds, pattern):
    seed(rds, 10)
    r = run_action(RedisExecutor(rds, ["cache:sessions:*"]), req(pattern=pattern), targets=TARGETS)
    assert r.status is ActionStatus.DENIED
    assert rds.dbsize() == 110


def test_flushall_forbidden_unless_configured(rds):
    seed(rds, 10)
    r = run_action(RedisExecutor(rds, ["cache:sessions:*"]), req("redis_flushall"), targets=TARGETS)
    assert r.status is ActionStatus.DENIED and rds.dbsize() == 110
    # even if the registry were bypassed, the executor refuses on its own
    r = run_action(RedisExecutor(rds, ["cache:sessions:*"]), req("redis_flushall"),
                   targets={"redis": {"allow_flushall": True}})
    assert r.status is ActionStatus.DENIED and "forbidden" in r.error.lower() and rds.dbsize() == 110
    r = run_action(RedisExecutor(rds, allow_flushall=True), req("redis_flushall"),
                   targets={"redis": {"allow_flushall": True}})
    assert r.status is ActionStatus.SUCCEEDED and rds.dbsize() == 0


def test_nothing_to_do_is_skipped(rds):
    r = run_action(RedisExecutor(rds, ["cache:sessions:*"]), req(pattern="cache:sessions:*"), targets=TARGETS)
    assert r.status is ActionStatus.SKIPPED


def test_server_down_is_a_typed_failure():
    from aisre.remediate._net import closed_port

    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    r = run_action(RedisExecutor(client, ["cache:sessions:*"]), req(pattern="cache:sessions:*"), targets=TARGETS)
    assert r.status is ActionStatus.FAILED and "SourceDown" in r.error


def test_runbook_batch_size(rds):
    seed(rds, 250)
    seen = []
    original = rds.unlink
    rds.unlink = lambda *keys: (seen.append(len(keys)), original(*keys))[1]
    r = run_action(RedisExecutor(rds, ["cache:sessions:*"]), req(pattern="cache:sessions:*", batch=100),
                   targets=TARGETS)
    assert r.status is ActionStatus.SUCCEEDED and seen == [100, 100, 50]


def test_run_action_reads_the_policy_from_the_executor_when_no_targets_are_given(rds):
    seed(rds, 20)
    r = run_action(RedisExecutor(rds, ["cache:sessions:*"]), req(pattern="cache:sessions:*"))
    assert r.status is ActionStatus.SUCCEEDED and rds.dbsize() == 100
    r = run_action(RedisExecutor(rds, ["cache:sessions:*"]), req(pattern="user:*"))
    assert r.status is ActionStatus.DENIED and rds.dbsize() == 100
