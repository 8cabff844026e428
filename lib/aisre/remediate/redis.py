"""Redis executor: SCAN + UNLINK of one configured non-critical key pattern, bounded per run.

* ``redis_unlink_pattern`` - the pattern must be on ``targets.redis.evictable_patterns`` (exact string)
  and must not match everything; keys are found with ``SCAN MATCH`` (never ``KEYS``) and removed with
  ``UNLINK`` (non-blocking) in batches, at most ``max_keys`` per run. Dry run counts only.
* ``redis_flushall`` - ``FLUSHALL ASYNC``, only when ``targets.redis.allow_flushall`` is true (the registry
  also classes it caution then, forbidden otherwise).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from aisre.errors import AuthError, BadQuery, ExecutorError, ForbiddenAction, SourceDown, Timeout
from aisre.models import ActionRequest, ActionResult, ActionStatus, Check
from aisre.remediate.base import Plan


def from_config(config: Any, store: Any = None) -> "RedisExecutor | None":
    rcfg = (getattr(config, "targets", None) or {}).get("redis")
    if not rcfg or not rcfg.get("url"):
        return None
    import redis as redis_lib

    client = redis_lib.Redis.from_url(rcfg["url"], socket_timeout=5, socket_connect_timeout=5)
    return RedisExecutor(client, evictable_patterns=tuple(rcfg.get("evictable_patterns") or ()),
                         allow_flushall=bool(rcfg.get("allow_flushall")))


class RedisExecutor:
    kind = "redis"
    actions = ("redis_unlink_pattern", "redis_flushall")

    def __init__(self, client: Any, evictable_patterns: Iterable[str] = (), *, allow_flushall: bool = False,
                 max_keys: int = 10_000, scan_count: int = 500, batch: int = 500) -> None:
        self.client = client
        self.evictable_patterns = tuple(evictable_patterns)
        self.allow_flushall = bool(allow_flushall)
        self.max_keys = int(max_keys)
        self.scan_count = int(scan_count)
        self.batch = int(batch)
        self.batch_max = 10_000

    def policy_targets(self) -> dict[str, Any]:
        """This executor's configuration as the registry reads it (``targets.redis``), for run_action."""
        return {"redis": {"evictable_patterns": list(self.evictable_patterns), "allow_flushall": self.allow_flushall}}

    def _call(self, operation: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call the client once (materialising iterators) and map redis errors into the aisre tree."""
        import redis as redis_lib

        try:
            out = fn(*args, **kw)
            return list(out) if operation == "scan" else out
        except redis_lib.exceptions.AuthenticationError as exc:
            raise AuthError(f"redis {operation}: {exc}", integration="redis", operation=operation) from None
        except redis_lib.exceptions.TimeoutError as exc:
            raise Timeout(f"redis {operation} timed out: {exc}", integration="redis", operation=operation) from None
        except redis_lib.exceptions.ConnectionError as exc:
            raise SourceDown(f"redis {operation}: {exc}", integration="redis", operation=operation) from None
        except redis_lib.exceptions.ResponseError as exc:
            raise BadQuery(f"redis {operation}: {exc}", integration="redis", operation=operation) from None

    def _pattern(self, request: ActionRequest) -> str:
        pattern = str((request.params or {}).get("pattern") or "")
        if not pattern.strip("*?[]:") or pattern not in self.evictable_patterns:
            raise ForbiddenAction(f"pattern {pattern!r} is not an evictable pattern",
                                  reasons=[f"evictable: {', '.join(self.evictable_patterns) or 'none configured'}"])
        return pattern

    def _scan(self, pattern: str, limit: int) -> list[bytes]:
        import itertools

        return self._call("scan", lambda: itertools.islice(self.client.scan_iter(match=pattern, count=self.scan_count),
                                                           limit))

    def _result(self, plan: Plan, status: ActionStatus, detail: str, **evidence: Any) -> ActionResult:
        r = plan.request
        return ActionResult(action=r.action, service=r.service, status=status, target=f"redis/{r.target.name}",
                            detail=detail, evidence=evidence)

    def plan(self, request: ActionRequest) -> Plan:
        if request.action == "redis_flushall":
            if not self.allow_flushall:
                raise ForbiddenAction("FLUSHALL is forbidden", reasons=["targets.redis.allow_flushall is off"])
            return Plan(request=request, steps=("FLUSHALL ASYNC",), blast_radius="every key of the instance",
                        facts={"flushall": True})
        if request.action != "redis_unlink_pattern":
            raise ExecutorError(f"redis executor does not implement {request.action}", step="plan")
        pattern = self._pattern(request)
        limit = min(int((request.params or {}).get("max_keys") or self.max_keys), self.max_keys)
        found = len(self._scan(pattern, 2 * limit + 1))
        return Plan(request=request, steps=(f"SCAN MATCH {pattern} + UNLINK, at most {limit} keys",),
                    blast_radius=f"keys matching {pattern} (found {'>' if found > 2 * limit else ''}{found}), "
                                 f"at most {limit} unlinked",
                    facts={"pattern": pattern, "limit": limit, "found": found})

    def precheck(self, plan: Plan) -> Check:
        self._call("ping", self.client.ping)
        if plan.facts.get("flushall"):
            size = self._call("dbsize", self.client.dbsize)
            return Check(ok=True, detail=f"{size} keys in db", observed={"dbsize": size})
        n = len(self._scan(plan.facts["pattern"], 1))
        if n == 0:
            return Check(ok=False, detail=f"no keys match {plan.facts['pattern']}", observed={"matching": 0})
        return Check(ok=True, detail=f"keys match {plan.facts['pattern']}", observed={"matching": plan.facts["found"]})

    def execute(self, plan: Plan, *, dry_run: bool = False) -> ActionResult:
        if plan.facts.get("flushall"):
            if dry_run:
                return self._result(plan, ActionStatus.DRY_RUN, "dry run: would FLUSHALL ASYNC")
            self._call("flushall", self.client.flushall, asynchronous=True)
            return self._result(plan, ActionStatus.SUCCEEDED, "FLUSHALL ASYNC sent")
        pattern, limit = plan.facts["pattern"], plan.facts["limit"]
        keys = self._scan(pattern, limit)
        if dry_run:
            return self._result(plan, ActionStatus.DRY_RUN, f"dry run: would UNLINK {len(keys)} keys matching "
                                                            f"{pattern}", would_unlink=len(keys))
        removed = 0
        batch = min(int((plan.request.params or {}).get("batch") or self.batch), self.batch_max)
        for i in range(0, len(keys), batch):
            removed += int(self._call("unlink", self.client.unlink, *keys[i:i + batch]) or 0)
        return self._result(plan, ActionStatus.SUCCEEDED, f"unlinked {removed} keys matching {pattern}",
                            unlinked=removed, pattern=pattern, capped=len(keys) >= limit)

    def verify(self, plan: Plan) -> Check:
        if plan.facts.get("flushall"):
            size = self._call("dbsize", self.client.dbsize)
            return Check(ok=size == 0, detail=f"{size} keys left", observed={"dbsize": size})
        left = len(self._scan(plan.facts["pattern"], plan.facts["found"] + 1))
        before = plan.facts["found"]
        ok = left == 0 or left < before
        return Check(ok=ok, detail=f"{left} keys still match {plan.facts['pattern']} (were {before})",
                     observed={"left": left, "before": before})


__all__ = ["RedisExecutor", "from_config"]
