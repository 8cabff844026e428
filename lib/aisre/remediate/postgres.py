"""PostgreSQL executor: cancel (or terminate) runaway queries. Runs a fixed set of SQL statements, never DDL.

A query is *runaway* when, in ``pg_stat_activity``, it is a client backend in state ``active`` whose
``query_start`` is older than ``runaway_seconds`` (or ``params.min_age_s``/``older_than_s``), its user is not
protected, and it is not our own backend. With ``params.state: "idle in transaction"`` the same holds for
sessions idle in a transaction since ``state_change`` (connection exhaustion). ``params.target_role:
replica`` runs against ``targets.postgres.replica_dsn``. ``pg_cancel_query`` calls ``pg_cancel_backend``; ``pg_terminate_query`` (caution, after a
cancel did not help) calls ``pg_terminate_backend``. Both re-check every condition in the same
statement that signals the backend (a pid that finished or was reused in between is left alone), and
both act on at most ``max_queries`` backends, oldest first. Verify polls until those (pid, query_start)
pairs are no longer active.
"""
from __future__ import annotations

import re
import time
from typing import Any, Callable, Iterable

from aisre.errors import AuthError, BadQuery, ExecutorError, PolicyDenied, SourceDown, Timeout
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check
from aisre.remediate.base import Plan

_RUNAWAY_WHERE = """
    pid <> pg_backend_pid()
    AND backend_type = 'client backend'
    AND state = %(state)s::text
    AND (CASE WHEN state = 'active' THEN query_start ELSE state_change END)
        < now() - make_interval(secs => %(seconds)s)
    AND NOT (coalesce(usename, '') = ANY(%(protected)s))
    AND (%(database)s::text IS NULL OR datname = %(database)s::text)
    AND (%(pid)s::int IS NULL OR pid = %(pid)s::int)
"""
#: The only statements this executor ever sends.
SQL = {
    "find": "SELECT pid, usename, datname, state, extract(epoch FROM now() - query_start)::float8 AS seconds, "
            "query_start, state_change, left(query, 300) AS query FROM pg_stat_activity WHERE" + _RUNAWAY_WHERE +
            " ORDER BY query_start LIMIT %(limit)s",
    "pg_cancel_query": "SELECT pid, pg_cancel_backend(pid) AS signalled FROM pg_stat_activity WHERE" + _RUNAWAY_WHERE
                       + " AND pid = ANY(%(pids)s)",
    "pg_terminate_query": "SELECT pid, pg_terminate_backend(pid) AS signalled FROM pg_stat_activity WHERE"
                          + _RUNAWAY_WHERE + " AND pid = ANY(%(pids)s)",
    "still": "SELECT pid, query_start FROM pg_stat_activity WHERE state = %(state)s::text AND pid = ANY(%(pids)s)",
}


_LITERAL = re.compile(r"'(?:[^']|'')*'|\$\$.*?\$\$", re.S)


def mask_literals(query: str) -> str:
    """Query text for evidence: string literals (where secrets hide) replaced by '?'."""
    return _LITERAL.sub("'?'", query)


def from_config(config: Any, store: Any = None) -> "PostgresExecutor | None":
    pcfg = (getattr(config, "targets", None) or {}).get("postgres")
    if not pcfg or not pcfg.get("dsn"):
        return None
    return PostgresExecutor(pcfg["dsn"], runaway_seconds=pcfg.get("runaway_seconds", 300),
                            protected_users=tuple(pcfg.get("protected_users") or ("postgres", "replication")),
                            replica_dsn=pcfg.get("replica_dsn") or None)


class PostgresExecutor:
    kind = "postgres"
    actions = ("pg_cancel_query", "pg_terminate_query")

    def __init__(self, dsn: str, *, runaway_seconds: float = 300, protected_users: Iterable[str] = ("postgres",
                 "replication"), max_queries: int = 5, statement_timeout_ms: int = 5000,
                 verify_timeout_s: float = 10.0, poll_interval_s: float = 0.2,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 connect: Callable[..., Any] | None = None, replica_dsn: str | None = None) -> None:
        self.dsn = dsn
        self.replica_dsn = replica_dsn
        self.runaway_seconds = float(runaway_seconds)
        self.protected_users = list(protected_users)
        self.max_queries = int(max_queries)
        self.statement_timeout_ms = int(statement_timeout_ms)
        self.verify_timeout_s = float(verify_timeout_s)
        self.poll_interval_s = float(poll_interval_s)
        self.sleep = sleep
        self.clock = clock
        self._connect = connect

    def _dsn(self, role: str) -> str:
        if role == "replica":
            if not self.replica_dsn:
                raise PolicyDenied("no replica configured", reasons=["set targets.postgres.replica_dsn"])
            return self.replica_dsn
        return self.dsn

    def _query(self, name: str, role: str = "primary", **params: Any) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        connect = self._connect or psycopg.connect
        try:
            with connect(self._dsn(role), autocommit=True, row_factory=dict_row, application_name="aisre",
                         options=f"-c statement_timeout={self.statement_timeout_ms}") as conn:
                return list(conn.execute(SQL[name], params).fetchall())
        except psycopg.errors.QueryCanceled as exc:
            raise Timeout(f"postgres {name} timed out: {exc}", integration="postgres", operation=name) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise AuthError(f"postgres {name}: {exc}", integration="postgres", operation=name) from None
        except psycopg.OperationalError as exc:
            raise SourceDown(f"postgres {name}: {str(exc).splitlines()[0] if str(exc) else exc}",
                             integration="postgres", operation=name) from None
        except psycopg.Error as exc:
            raise BadQuery(f"postgres {name}: {exc}", integration="postgres", operation=name) from None

    def _filters(self, request: ActionRequest) -> dict[str, Any]:
        """Selection: ``state`` (active | idle in transaction), age (``min_age_s``/``older_than_s``, else
        runaway_seconds), the database in ``target.extra.database``, one ``pid``, and which server."""
        p = dict(request.params or {})
        age = p.get("min_age_s") or p.get("older_than_s") or self.runaway_seconds
        return {"seconds": float(age), "protected": self.protected_users, "state": p.get("state") or "active",
                "database": request.target.extra.get("database"), "pid": p.get("pid"),
                "role": p.get("target_role") or "primary"}

    def _limit(self, request: ActionRequest) -> int:
        return min(int((request.params or {}).get("max_queries") or self.max_queries), self.max_queries)

    def plan(self, request: ActionRequest) -> Plan:
        if request.action not in self.actions:
            raise ExecutorError(f"postgres executor does not implement {request.action}", step="plan")
        if request.action == "pg_cancel_query" and (request.params or {}).get("state") == "idle in transaction":
            raise ExecutorError("pg_cancel_backend does nothing to an idle session; idle-in-transaction sessions "
                                "need pg_terminate_query", step="plan")
        rows = self._query("find", **self._filters(request), limit=self._limit(request))
        fn = "pg_cancel_backend" if request.action == "pg_cancel_query" else "pg_terminate_backend"
        found = [{"pid": r["pid"], "user": r["usename"], "db": r["datname"], "seconds": round(r["seconds"], 1),
                  "query_start": str(r["query_start"]), "state_change": str(r["state_change"]),
                  "query": mask_literals(r["query"] or "")} for r in rows]
        return Plan(request=request, steps=tuple(f"{fn}({q['pid']}) user={q['user']} {q['seconds']}s"
                                                 for q in found),
                    blast_radius=f"{len(found)} runaway backends (> {self.runaway_seconds:g}s), protected users "
                                 f"{', '.join(self.protected_users)} excluded",
                    facts={"queries": found, "pids": [q["pid"] for q in found], "role": self._filters(request)["role"],
                           "state": self._filters(request)["state"]})

    def precheck(self, plan: Plan) -> Check:
        rows = self._query("find", **self._filters(plan.request), limit=self._limit(plan.request))
        live = sorted(set(r["pid"] for r in rows) & set(plan.facts["pids"]))
        if not live:
            return Check(ok=False, detail=f"no runaway query older than {self.runaway_seconds:g}s",
                         observed={"runaway": 0})
        return Check(ok=True, detail=f"{len(live)} runaway queries", observed={"pids": live})

    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult:
        r = plan.request
        if dry_run:
            return ActionResult(action=r.action, service=r.service, status=ActionStatus.DRY_RUN,
                                target=f"postgres/{r.target.name}",
                                detail=f"dry run: would signal {len(plan.facts['pids'])} backends",
                                evidence={"queries": plan.facts["queries"]})
        rows = self._query(r.action, **self._filters(r), pids=plan.facts["pids"])
        signalled = [row["pid"] for row in rows if row["signalled"]]
        verb = "cancelled" if r.action == "pg_cancel_query" else "terminated"
        return ActionResult(action=r.action, service=r.service,
                            status=ActionStatus.SUCCEEDED if signalled else ActionStatus.FAILED,
                            target=f"postgres/{r.target.name}", detail=f"{verb} {len(signalled)} runaway queries",
                            error="" if signalled else "no backend could be signalled",
                            evidence={"signalled": signalled, "queries": plan.facts["queries"]})

    def verify(self, plan: Plan) -> Check:
        wanted = {(q["pid"], q["query_start"]) for q in plan.facts["queries"]}
        deadline = self.clock() + self.verify_timeout_s
        while True:
            rows = self._query("still", role=plan.facts["role"], state=plan.facts["state"], pids=plan.facts["pids"])
            left = sorted(pid for pid, start in ((r["pid"], str(r["query_start"])) for r in rows)
                          if (pid, start) in wanted)
            if not left:
                return Check(ok=True, detail="runaway queries gone", observed={"left": []})
            if self.clock() >= deadline:
                return Check(ok=False, detail=f"still running after {self.verify_timeout_s:g}s: {left}",
                             observed={"left": left})
            self.sleep(self.poll_interval_s)


__all__ = ["PostgresExecutor", "SQL", "from_config"]
