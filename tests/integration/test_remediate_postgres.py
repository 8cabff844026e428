"""PostgresExecutor against a real PostgreSQL 15: a runaway pg_sleep is cancelled, idle and protected are not."""
import threading
import time

import psycopg
import pytest

from aisre.models import ActionRequest, ActionStatus, Target
from aisre.remediate.postgres import SQL, PostgresExecutor
from aisre.remediate.registry import run_action


@pytest.fixture(scope="module")
def app_dsn(postgres_server):
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS app")
        conn.execute("CREATE ROLE app LOGIN")
    return postgres_server.replace("user=postgres", "user=app")


class Sleeper:
    """A connection running ``SELECT pg_sleep(n)`` in a thread; records how it ended."""

    def __init__(self, dsn, seconds=60):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.pid = self.conn.info.backend_pid
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(seconds,), daemon=True)
        self.thread.start()

    def _run(self, seconds):
        try:
            self.conn.execute("SELECT pg_sleep(%s)", (seconds,))
        except psycopg.Error as exc:
            self.error = exc

    def stop(self, admin_dsn):
        with psycopg.connect(admin_dsn, autocommit=True) as c:
            c.execute("SELECT pg_cancel_backend(%s)", (self.pid,))
        self.thread.join(10)
        self.conn.close()


def req(action="pg_cancel_query", **params):
    return ActionRequest(action=action, service="orders", params=params,
                         target=Target(kind="postgres", name="orders-db"))


def state_of(dsn, pid):
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row[0] if row else None


def test_runaway_query_cancelled_idle_and_protected_left_alone(postgres_server, app_dsn):
    runaway = Sleeper(app_dsn)
    protected = Sleeper(postgres_server)                 # user postgres is protected
    idle = psycopg.connect(app_dsn, autocommit=True)
    idle.execute("SELECT 1")
    try:
        time.sleep(1.2)
        ex = PostgresExecutor(postgres_server, runaway_seconds=1)
        r = run_action(ex, req())
        assert r.status is ActionStatus.SUCCEEDED, r
        assert r.evidence["signalled"] == [runaway.pid]
        assert r.evidence["queries"][0]["user"] == "app" and "pg_sleep" in r.evidence["queries"][0]["query"]
        runaway.thread.join(10)
        assert isinstance(runaway.error, psycopg.errors.QueryCanceled)
        assert state_of(postgres_server, idle.info.backend_pid) == "idle"
        assert state_of(postgres_server, protected.pid) == "active"
    finally:
        protected.stop(postgres_server)
        runaway.stop(postgres_server)
        idle.close()


def test_terminate_ends_the_backend(postgres_server, app_dsn):
    runaway = Sleeper(app_dsn)
    try:
        time.sleep(1.2)
        r = run_action(PostgresExecutor(postgres_server, runaway_seconds=1), req("pg_terminate_query"))
        assert r.status is ActionStatus.SUCCEEDED, r
        runaway.thread.join(10)
        assert runaway.error is not None
        assert state_of(postgres_server, runaway.pid) is None
    finally:
        runaway.conn.close()


def test_young_queries_are_skipped_and_dry_run_touches_nothing(postgres_server, app_dsn):
    runaway = Sleeper(app_dsn)
    try:
        time.sleep(0.3)
        r = run_action(PostgresExecutor(postgres_server, runaway_seconds=30), req())
        assert r.status is ActionStatus.SKIPPED
        time.sleep(0.9)
        r = run_action(PostgresExecutor(postgres_server, runaway_seconds=1), req(), dry_run=True)
        assert r.status is ActionStatus.DRY_RUN and r.evidence["queries"][0]["pid"] == runaway.pid
        assert state_of(postgres_server, runaway.pid) == "active"
    finally:
        runaway.stop(postgres_server)


def test_pid_param_limits_to_one_backend(postgres_server, app_dsn):
    a, b = Sleeper(app_dsn), Sleeper(app_dsn)
    try:
        time.sleep(1.2)
        r = run_action(PostgresExecutor(postgres_server, runaway_seconds=1), req(pid=b.pid))
        assert r.status is ActionStatus.SUCCEEDED and r.evidence["signalled"] == [b.pid]
        assert state_of(postgres_server, a.pid) == "active"
    finally:
        a.stop(postgres_server)
        b.stop(postgres_server)


def test_only_fixed_select_statements():
    for name, sql in SQL.items():
        assert sql.lstrip().upper().startswith("SELECT"), name
        for word in ("DROP", "ALTER", "CREATE", "TRUNCATE", "DELETE", "INSERT", "UPDATE", "GRANT"):
            assert f" {word} " not in f" {sql.upper()} ", (name, word)


def test_unreachable_server_is_a_typed_failure():
    from aisre.remediate._net import closed_port

    ex = PostgresExecutor(f"host=127.0.0.1 port={closed_port()} user=postgres connect_timeout=1")
    r = run_action(ex, req())
    assert r.status is ActionStatus.FAILED and "SourceDown" in r.error


def test_literals_are_masked_in_evidence():
    from aisre.remediate.postgres import mask_literals

    assert mask_literals("SELECT * FROM u WHERE pw = 'hunter2' AND x = 'it''s'") == \
        "SELECT * FROM u WHERE pw = '?' AND x = '?'"


def test_idle_in_transaction_sessions_are_terminated_active_ones_are_not(postgres_server, app_dsn):
    idle_tx = psycopg.connect(app_dsn)                 # not autocommit: BEGIN stays open
    idle_tx.execute("SELECT 1")
    runaway = Sleeper(app_dsn)
    try:
        time.sleep(1.2)
        ex = PostgresExecutor(postgres_server, runaway_seconds=3600)
        r = run_action(ex, req("pg_terminate_query", state="idle in transaction", older_than_s=10))
        assert r.status is ActionStatus.SKIPPED                    # younger than 10 s
        pid = idle_tx.info.backend_pid
        r = run_action(PostgresExecutor(postgres_server, runaway_seconds=1),
                       req("pg_terminate_query", state="idle in transaction"))
        assert r.status is ActionStatus.SUCCEEDED and r.evidence["signalled"] == [pid], r
        assert state_of(postgres_server, pid) is None
        assert state_of(postgres_server, runaway.pid) == "active"
        r = run_action(PostgresExecutor(postgres_server, runaway_seconds=1),
                       req("pg_cancel_query", state="idle in transaction"))
        assert r.status is ActionStatus.FAILED and "pg_terminate_query" in r.error
    finally:
        runaway.stop(postgres_server)
        idle_tx.close()


def test_replica_role_uses_the_replica_dsn(postgres_server, app_dsn):
    r = run_action(PostgresExecutor(postgres_server, runaway_seconds=1), req(target_role="replica", min_age_s=10))
    assert r.status is ActionStatus.DENIED and "replica_dsn" in r.error
    runaway = Sleeper(app_dsn)
    try:
        time.sleep(1.2)
        # the throwaway cluster stands in for the replica; the primary DSN is unreachable on purpose
        from aisre.remediate._net import closed_port

        ex = PostgresExecutor(f"host=127.0.0.1 port={closed_port()} user=postgres connect_timeout=1",
                              runaway_seconds=1, replica_dsn=postgres_server)
        r = run_action(ex, req(target_role="replica", min_age_s=10))
        assert r.status is ActionStatus.SKIPPED                    # younger than 10 s, but it reached the replica
        r = run_action(ex, req(target_role="replica"))
        assert r.status is ActionStatus.SUCCEEDED and r.evidence["signalled"] == [runaway.pid]
    finally:
        runaway.stop(postgres_server)
