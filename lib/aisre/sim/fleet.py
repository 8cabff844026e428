"""The simulated fleet: services, a load model, fault models, noise and a simulated clock.

``Fleet(scenario, seed)`` builds the services of a scenario and generates ``warmup_s`` of healthy
history before ``t = 0`` (so detectors have a baseline). ``advance(seconds)`` moves the simulated
clock, producing one metric frame and the log lines of every service each ``step_s``. Remediation
goes through :meth:`Fleet.apply_action` (the :class:`~aisre.sim.executor.SimExecutor` calls it):
generic effects (a rolling restart replaces pods after ``RESTART_S``, scaling adds replicas after
``SCALE_S``, a rollback restores the previous version) plus each fault model's own reaction.

Determinism: everything random comes from ``numpy.random.Generator`` streams seeded from
``(seed, scenario name)``; metric noise draws a fixed number of values per step, so the same seed
gives the same noise whatever the agent does.

The ``restarts`` metric is the number of container restarts in the last 3 minutes (like
``increase(kube_pod_container_status_restarts_total[3m])``), so it falls back to 0 once a crash
loop is fixed.

Load model (services with ``request_rate``): load = daily season x fault load factors; per-replica
load = load x base replicas / ready replicas; ``cpu_pct`` = base x per-replica load x CPU cost
factors; above 70 % CPU latency and busy threads grow quadratically, above 92 % errors appear.
"""
from __future__ import annotations

import bisect
import dataclasses
import math
import zlib
from typing import Any, Mapping, NamedTuple

import numpy as np

from aisre.errors import ValidationError
from aisre.models import Change, LogRecord, stable_hash
from aisre.sim import logtext as lt
from aisre.sim.faults import ROLLBACKS, Fault, Frame, _ssm_commands, build_fault
from aisre.sim.scenario import METRICS, Scenario, ServiceSpec, load_scenario

LOG_WARMUP_S = 3600.0     # log lines exist for the last hour of the warm-up (metrics for all of it)
RESTART_S = 45.0          # a rolling restart completes (new pods ready) after this long
SCALE_S = 30.0            # new replicas are ready after this long
ROLLBACK_S = 45.0
THREAD_POOL_MAX = 200.0   # request threads per service (Tomcat's default maxThreads)
DEFAULT_MAX_CONNECTIONS = 200.0
RESTART_WINDOW_S = 180.0  # the restarts metric counts container restarts in the last 3 minutes

PCT_METRICS = ("cpu_pct", "memory_pct", "db_cpu_pct", "disk_pct", "cache_memory_pct")
# (relative sigma, absolute sigma) of the noise per metric, before the service's noise multiplier
NOISE: Mapping[str, tuple[float, float]] = {
    "cpu_pct": (0.04, 0.3), "memory_pct": (0.0, 0.6), "p95_latency_ms": (0.06, 0.0), "error_rate": (0.1, 0.0006),
    "request_rate": (0.03, 0.0), "db_cpu_pct": (0.05, 0.3), "db_connections": (0.0, 2.0), "disk_pct": (0.0, 0.08),
    "queue_depth": (0.08, 3.0), "cache_memory_pct": (0.0, 0.4), "replica_lag_s": (0.1, 0.08), "restarts": (0.0, 0.0),
    "uptime": (0.0, 0.0), "job_runtime_s": (0.0, 0.0), "thread_pool_active": (0.03, 0.5),
}
INTEGER_METRICS = ("restarts", "uptime", "db_connections", "thread_pool_active", "queue_depth")
# DB and cache actions act on the datastore a service depends on, as their real executors do
ACTION_ROLES: Mapping[str, str] = {"pg_cancel_query": "db", "pg_terminate_query": "db", "rds_failover": "db",
                                   "rds_reboot_failover": "db", "redis_unlink_pattern": "cache"}
BACKGROUND_PER_MIN: Mapping[str, float] = {"app": 6.0, "queue": 3.0, "db": 1.0, "cache": 0.5, "batch": 0.5, "host": 0.5}


class TakenAction(NamedTuple):
    """One remediation applied to the fleet: unpacks as ``(ts, action, service, params)``."""
    ts: float
    action: str
    service: str
    params: Mapping[str, Any]


@dataclasses.dataclass
class ServiceState:
    """Mutable run-time state of one simulated service."""
    spec: ServiceSpec
    replicas: int
    version: str
    started: float
    restart_events: list[float] = dataclasses.field(default_factory=list)    # container restarts (crashes)
    previous_versions: list[str] = dataclasses.field(default_factory=list)
    pod_generations: list[float] = dataclasses.field(default_factory=list)   # times new pods became ready
    replica_changes: list[tuple[float, int]] = dataclasses.field(default_factory=list)  # (ready_at, replicas)
    rollout_until: float = -math.inf

    def pods_since(self, t: float) -> float:
        """When the pods serving at ``t`` started (a restart counts once it has completed)."""
        done = [g for g in self.pod_generations if g <= t]
        return max(done) if done else self.started

    def add_restarts(self, t: float, count: int = 1) -> None:
        """Containers crashed and were restarted by the kubelet at ``t``."""
        self.restart_events.extend([t] * int(count))

    def restarts_in(self, t: float, window_s: float = RESTART_WINDOW_S) -> int:
        """Container restarts in ``(t - window_s, t]`` — what the ``restarts`` metric reports."""
        return sum(1 for x in self.restart_events if t - window_s < x <= t)

    @property
    def restarts(self) -> int:
        return len(self.restart_events)

    def effective_replicas(self, t: float) -> int:
        ready = self.spec.replicas
        for at, n in self.replica_changes:
            if at <= t:
                ready = n
        return max(1, ready)


class Fleet:
    """A simulated fleet driven by one scenario; a metric source, a log source and an action target."""

    def __init__(self, scenario: Scenario | str, seed: int = 7) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        sc = self.scenario
        self.seed = int(seed)
        self.start_ts = sc.start_ts
        self.step_s = sc.step_s
        self._states = {s.name: ServiceState(spec=s, replicas=s.replicas, version=s.version,
                                             started=sc.start_ts - sc.warmup_s - 86400.0) for s in sc.services}
        self._dependents = {s.name: [d.name for d in sc.services if s.name in d.depends_on] for s in sc.services}
        name_key = zlib.crc32(sc.name.encode())
        seq = np.random.SeedSequence([self.seed, name_key])
        kids = seq.spawn(len(sc.services) + 1)
        self._noise_rng = {s.name: np.random.default_rng(k) for s, k in zip(sc.services, kids)}
        self._log_rng = np.random.default_rng(kids[-1])
        self.faults: list[Fault] = [build_fault(f, self) for f in sc.faults]
        self._ts: dict[tuple[str, str], list[float]] = {}
        self._vals: dict[tuple[str, str], list[float]] = {}
        self._last: dict[str, dict[str, float]] = {s.name: dict(s.baseline) for s in sc.services}
        self._logs: dict[str, list[LogRecord]] = {s.name: [] for s in sc.services}
        self._log_ts: dict[str, list[float]] = {s.name: [] for s in sc.services}
        self._pods = {s.name: f"{s.name}-{stable_hash(s.name, self.seed, length=9)}" for s in sc.services}
        self.actions_taken: list[TakenAction] = []
        self.dry_runs: list[TakenAction] = []
        self.effects: list[tuple[float, str]] = []          # what each action did, for reports
        self._changes: list[Change] = []
        self._pending_changes = sorted(sc.changes, key=lambda c: c.at_s)
        self._frame_ts = sc.start_ts - sc.warmup_s
        self._clock = self._frame_ts
        self.advance(sc.warmup_s)

    # ------------------------------------------------------------------ clock
    def clock(self) -> float:
        """Simulated time, epoch seconds."""
        return self._clock

    def advance(self, seconds: float) -> float:
        """Move the clock forward, generating every step that falls due. Returns the new time."""
        if not (seconds >= 0) or math.isinf(seconds):
            raise ValidationError(f"advance needs a finite, non-negative number of seconds, got {seconds!r}",
                                  what="advance")
        target = self._clock + seconds
        while self._frame_ts + self.step_s <= target + 1e-9:
            self._frame_ts += self.step_s
            self._step(self._frame_ts)
        self._clock = target
        return self._clock

    @property
    def elapsed_s(self) -> float:
        """Seconds since the scenario's t = 0 (negative during warm-up)."""
        return self._clock - self.start_ts

    @property
    def done(self) -> bool:
        return self._clock >= self.scenario.end_ts - 1e-9

    # ------------------------------------------------------------------ topology and read access
    @property
    def services(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scenario.services)

    def metric_names(self, service: str) -> tuple[str, ...]:
        return tuple(m for m in METRICS if m in self._spec(service).baseline)

    def state(self, service: str) -> ServiceState:
        try:
            return self._states[service]
        except KeyError:
            raise ValidationError(f"no service {service!r} in scenario {self.scenario.name} "
                                  f"(services: {', '.join(self.services)})", what="service") from None

    def _spec(self, service: str) -> ServiceSpec:
        return self.state(service).spec

    def dependents(self, service: str) -> list[str]:
        """Services that depend on ``service``."""
        return list(self._dependents.get(service, ()))

    def dependency(self, service: str, role: str) -> str | None:
        """The first service of ``role`` that ``service`` depends on (itself if it has that role)."""
        spec = self._spec(service)
        if spec.role == role:
            return service
        return next((d for d in spec.depends_on if self._spec(d).role == role), None)

    def series(self, service: str, metric: str, start: float = -math.inf,
               end: float = math.inf) -> list[tuple[float, float]]:
        """Stored points of one metric in ``[start, end]`` (only what the clock has reached)."""
        ts = self._ts.get((service, metric))
        if ts is None:
            return []
        vals = self._vals[(service, metric)]
        lo = bisect.bisect_left(ts, start)
        hi = bisect.bisect_right(ts, min(end, self._clock))
        return list(zip(ts[lo:hi], vals[lo:hi]))

    def capacity(self, service: str, metric: str) -> float | None:
        """The hard limit a metric runs into (100 for percentages, the pool size, max_connections), or None."""
        if metric in PCT_METRICS:
            return 100.0
        if metric in ("error_rate", "uptime"):
            return 1.0
        if metric == "thread_pool_active":
            return THREAD_POOL_MAX
        if metric == "db_connections":
            limits = [float(f.p["max_connections"]) for f in self.faults
                      if "max_connections" in f.p and getattr(f, "db", f.service) == service]
            return limits[0] if limits else DEFAULT_MAX_CONNECTIONS
        return None

    def last_value(self, service: str, metric: str) -> float:
        return self._last.get(service, {}).get(metric, 0.0)

    def logs(self, service: str, start: float, end: float) -> list[LogRecord]:
        """Log records of ``service`` in ``[start, end)``, oldest first."""
        ts = self._log_ts.get(service)
        if ts is None:
            return []
        lo = bisect.bisect_left(ts, start)
        hi = bisect.bisect_left(ts, min(end, self._clock + 1e-9))
        return self._logs[service][lo:hi]

    def changes_until(self, ts: float) -> list[Change]:
        """Deploys, rollbacks, flag flips and config changes that happened at or before ``ts``."""
        limit = min(ts, self._clock)
        return [c for c in self._changes if c.ts <= limit]

    # ------------------------------------------------------------------ remediation
    def resolve_service(self, action: str, service: str) -> str:
        """The service an action really touches (DB/cache actions go to the datastore behind ``service``)."""
        self.state(service)
        role = ACTION_ROLES.get(action)
        if role is None:
            return service
        return self.dependency(service, role) or service

    def apply_action(self, action: str, service: str, params: Mapping[str, Any] | None = None,
                     *, dry_run: bool = False) -> list[str]:
        """Apply one remediation now; returns what it did (``[]`` effects = it changed nothing that mattered).

        Dry runs are recorded in :attr:`dry_runs` and change nothing.
        """
        params = dict(params or {})
        t = self._clock
        st = self.state(service)
        record = TakenAction(t, action, service, params)
        if dry_run:
            self.dry_runs.append(record)
            return [f"dry run: would {action} {service}"]
        self.actions_taken.append(record)
        did: list[str] = []
        if action == "restart_deployment" or action == "ssm_run_command" and "service_restart" in _ssm_commands(params):
            st.pod_generations.append(t + RESTART_S)
            st.rollout_until = t + RESTART_S
            did.append(f"rolling restart of {service}: {st.replicas} new pods ready at +{RESTART_S:.0f}s")
        elif action in ("scale_deployment", "asg_set_capacity"):
            new = scaled_replicas(st.replicas, params)
            st.replicas = new
            st.replica_changes.append((t + SCALE_S, new))
            did.append(f"{service} scaled to {new} replicas (ready at +{SCALE_S:.0f}s)")
        elif action in ROLLBACKS:
            if st.previous_versions:
                bad = st.version
                st.version = st.previous_versions.pop()
                st.pod_generations.append(t + ROLLBACK_S)
                st.rollout_until = t + ROLLBACK_S
                self._record_change(service, "rollback", t, version=st.version, previous_version=bad,
                                    description=f"{action} by aisre")
                did.append(f"{service} rolled back {bad} -> {st.version}")
            else:
                did.append(f"{service} has no previous version to roll back to")
        elif action == "delete_pod":
            did.append(f"one pod of {service} deleted and rescheduled")
        elif action == "flag_toggle":
            self._record_change(service, "feature_flag", t, description=f"flag {params.get('flag', '?')} -> "
                                f"{params.get('value', False)} by aisre")
        elif action == "config_revert":
            self._record_change(service, "config", t, description="config reverted by aisre")
        for fault in self.faults:
            effect = fault.on_action(t, action, service, params, self)
            if effect:
                did.append(effect)
        for text in did:
            self.effects.append((t, text))
        return did

    def _record_change(self, service: str, kind: str, ts: float, **fields: Any) -> None:
        cid = "chg-" + stable_hash(self.scenario.name, service, kind, ts, fields.get("version", ""), length=10)
        self._changes.append(Change(id=cid, service=service, kind=kind, source=fields.pop("source", "sim"), ts=ts,
                                    **fields))

    # ------------------------------------------------------------------ generation
    def _step(self, t: float) -> None:
        while self._pending_changes and self.start_ts + self._pending_changes[0].at_s <= t:
            c = self._pending_changes.pop(0)
            ts = self.start_ts + c.at_s
            st = self._states[c.service]
            prev = c.previous_version or (st.version if c.kind == "deploy" else "")
            if c.kind == "deploy" and c.version:
                st.previous_versions.append(prev)
                st.version = c.version
                st.pod_generations.append(ts + RESTART_S)
            self._record_change(c.service, c.kind, ts, version=c.version, previous_version=prev, commit=c.commit,
                                diff_url=c.diff_url, author=c.author, description=c.description, source=c.source)
        frame: Frame = {name: self._clean(st, t) for name, st in self._states.items()}
        for fault in self.faults:
            fault.apply(t, frame, self)
        for name, st in self._states.items():
            self._finish(name, st, frame[name], t)
        if t > self.start_ts - LOG_WARMUP_S:
            self._emit_logs(t)

    def _clean(self, st: ServiceState, t: float) -> dict[str, float]:
        spec = st.spec
        b = spec.baseline
        hour = (t % 86400.0) / 3600.0
        season = 1.0 + spec.seasonality * math.sin(2 * math.pi * (hour - 9.0) / 24.0)   # peak 15:00 UTC
        load = season
        cpu_cost = 1.0
        for f in self.faults:
            load *= f.load_factor(t, spec.name)
            cpu_cost *= f.cpu_factor(t, spec.name)
        per_replica = load * spec.replicas / st.effective_replicas(t)
        v: dict[str, float] = {}
        for m, base in b.items():
            if m == "request_rate":
                v[m] = base * load
            elif m == "cpu_pct":
                v[m] = min(100.0, base * (per_replica if "request_rate" in b else season) * cpu_cost)
            elif m in ("db_cpu_pct", "queue_depth"):
                v[m] = base * season
            elif m == "db_connections":
                v[m] = base * (0.8 + 0.2 * season)
            elif m == "thread_pool_active":
                v[m] = base * per_replica
            elif m == "p95_latency_ms":
                v[m] = base * (1.0 + 0.15 * (season - 1.0))
            elif m == "memory_pct":
                v[m] = base + 2.0 * (season - 1.0)
            elif m == "restarts":
                v[m] = float(st.restarts_in(t))
            else:
                v[m] = base
        if "cpu_pct" in v and "request_rate" in b:
            hot = max(0.0, (v["cpu_pct"] - 70.0) / 30.0)
            congestion = 1.0 + 6.0 * hot * hot
            if "p95_latency_ms" in v:
                v["p95_latency_ms"] *= congestion
            if "thread_pool_active" in v:
                v["thread_pool_active"] *= congestion
            if "error_rate" in v:
                v["error_rate"] += 0.25 * max(0.0, (v["cpu_pct"] - 92.0) / 8.0) ** 2
        if t < st.rollout_until:      # pods turning over: a little slower while caches warm
            if "p95_latency_ms" in v:
                v["p95_latency_ms"] *= 1.15
        return v

    def _finish(self, name: str, st: ServiceState, v: dict[str, float], t: float) -> None:
        rng = self._noise_rng[name]
        draws = rng.standard_normal(len(METRICS)).tolist()
        k = st.spec.noise
        for i, m in enumerate(METRICS):
            if m not in v:
                continue
            rel, ab = NOISE[m]
            x = v[m]
            x = x * (1.0 + k * rel * draws[i]) + k * ab * draws[i]
            if m in PCT_METRICS:
                x = min(100.0, max(0.0, x))
            elif m == "error_rate":
                x = min(1.0, max(0.0, x))
            elif m == "uptime":
                x = 1.0 if x >= 0.5 else 0.0
            elif m == "thread_pool_active":
                x = min(THREAD_POOL_MAX, max(0.0, x))
            else:
                x = max(0.0, x)
            if m in INTEGER_METRICS:
                x = float(round(x))
            if not math.isfinite(x):
                continue
            key = (name, m)
            self._ts.setdefault(key, []).append(t)
            self._vals.setdefault(key, []).append(round(float(x), 6))
            self._last[name][m] = float(x)

    def _emit_logs(self, t: float) -> None:
        rng = self._log_rng
        dt = self.step_s
        batch: dict[str, list[tuple[float, str, str]]] = {n: [] for n in self._states}
        for name, st in self._states.items():
            last = self._last[name]
            ctx = {"service": name, "role": st.spec.role, "latency_ms": last.get("p95_latency_ms", 120.0),
                   "error_rate": last.get("error_rate", 0.0), "version": st.version, **last}
            n = int(rng.poisson(BACKGROUND_PER_MIN.get(st.spec.role, 1.0) * dt / 60.0))
            for _ in range(n):
                level, msg = lt.background_line(rng, ctx)
                batch[name].append((t - dt + float(rng.random()) * dt, level, msg))
        for fault in self.faults:
            specs = fault.log_lines(t, self)
            if not specs:
                continue
            fctx = fault.log_context(t, self)
            for svc, fn, per_min in specs:
                if svc not in batch or per_min <= 0:
                    continue
                last = self._last[svc]
                ctx = {"service": svc, "role": self._states[svc].spec.role, "version": self._states[svc].version,
                       **last, **fctx}
                ctx["service"] = svc
                for _ in range(int(rng.poisson(per_min * dt / 60.0))):
                    level, msg = fn(rng, ctx)
                    batch[svc].append((t - dt + float(rng.random()) * dt, level, msg))
        for name, lines in batch.items():
            lines.sort(key=lambda x: x[0])
            pod_base = self._pods[name]
            for ts, level, msg in lines:
                rec = LogRecord(ts=round(ts, 3), message=msg, service=name, level=level, source="sim",
                                attributes={"pod": pod_base, "version": self._states[name].version})
                self._logs[name].append(rec)
                self._log_ts[name].append(rec.ts)

    def describe(self) -> dict[str, Any]:
        """A snapshot for reports: per service replicas, version, restarts; faults and their state."""
        return {"clock": self._clock, "services": {n: {"replicas": st.replicas, "version": st.version,
                                                        "restarts": st.restarts} for n, st in self._states.items()},
                "faults": [f.describe() for f in self.faults]}


def scaled_replicas(current: int, params: Mapping[str, Any]) -> int:
    """Replica count a scale request asks for (``replicas`` wins over ``factor``); at least 1."""
    for key in ("replicas", "desired", "capacity"):
        if params.get(key) is not None:
            return max(1, int(params[key]))
    factor = float(params.get("factor", 2.0))
    return max(1, int(math.ceil(current * factor)))

