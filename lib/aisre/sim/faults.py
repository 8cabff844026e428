"""Fault models: what goes wrong in the simulated fleet, and how it reacts to remediation.

Each fault type is a class with

* ``PARAMS`` — its parameters and defaults (a scenario may override any of them);
* ``apply(t, frame, fleet)`` — changes this step's metric values (``frame[service][metric]``);
* ``log_lines(t, fleet)`` — what the affected services print, as ``(service, logtext function, rate/min)``;
* ``on_action(t, action, service, params, fleet)`` — the effect of a remediation, or ``None`` when
  the action does nothing for this fault (the agent fixed the wrong thing).

The reactions follow real systems: a restart clears a leak that then regrows; a rollback fixes
a bad deploy; scaling lowers CPU and latency through the load model in :mod:`aisre.sim.fleet`;
cancelling the runaway query drops DB CPU (only when the right pid is named); a transient glitch
heals itself; an unknown fault ignores every fix; a failover restores a dead primary after it
completes. ``fixed_by`` (a list of action names) overrides which actions fix a step fault.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Mapping, TYPE_CHECKING

from aisre.sim import logtext as lt

if TYPE_CHECKING:   # pragma: no cover
    from aisre.sim.fleet import Fleet
    from aisre.sim.scenario import FaultSpec

Frame = dict[str, dict[str, float]]
LogSpec = tuple[str, "lt.LineFn", float]          # (service, line function, lines per minute)

ROLLBACKS = ("rollback_deployment", "argocd_rollback", "jenkins_rollback")


def _put(frame: Frame, service: str, metric: str, value: float) -> None:
    if metric in frame.get(service, {}):
        frame[service][metric] = value


def _toward(frame: Frame, service: str, metric: str, target: float, weight: float) -> None:
    if metric in frame.get(service, {}):
        v = frame[service][metric]
        frame[service][metric] = v + weight * (target - v)


def _scale(frame: Frame, service: str, metric: str, factor: float, weight: float) -> None:
    if metric in frame.get(service, {}):
        frame[service][metric] *= 1.0 + weight * (factor - 1.0)


def _add(frame: Frame, service: str, metric: str, delta: float) -> None:
    if metric in frame.get(service, {}):
        frame[service][metric] += delta


class Fault:
    """A fault on one service, starting at ``start_s`` after the scenario start.

    Step faults ramp in over ``ramp_s``, stay until fixed (``fixed_by`` on ``fix_service``) or
    healed (``heals_after_s``), then ramp out over ``recover_s`` once the fix has taken
    ``fix_delay_s`` to complete.
    """
    TYPE: ClassVar[str] = ""
    RUNBOOK: ClassVar[str] = ""
    PARAMS: ClassVar[Mapping[str, Any]] = {}
    COMMON: ClassVar[Mapping[str, Any]] = {"ramp_s": 120.0, "recover_s": 60.0, "fix_delay_s": 30.0,
                                           "heals_after_s": None, "fixed_by": None, "fix_service": None}
    DURATION_PARAMS: ClassVar[tuple[str, ...]] = ("ramp_s", "recover_s", "fix_delay_s", "heals_after_s")
    FIXED_BY: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        cls.PARAMS = {**Fault.COMMON, **cls.PARAMS}

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Parameters a scenario may set for this fault type."""
        return tuple(cls.PARAMS)

    def __init__(self, spec: "FaultSpec", fleet: "Fleet") -> None:
        self.spec = spec
        self.service = spec.service
        self.p: dict[str, Any] = {**self.PARAMS, **dict(spec.params)}
        self.start = fleet.start_ts + spec.start_s
        self.fixed_by: tuple[str, ...] = tuple(self.p["fixed_by"]) if self.p["fixed_by"] is not None else self.FIXED_BY
        self.fix_service: str = self.p["fix_service"] or self.service
        self.fixed_at: float | None = None       # when the fix completes (effects then ramp out)
        self.fixed_with: str | None = None
        if self.p["heals_after_s"] is not None:
            self.fixed_at = self.start + float(self.p["heals_after_s"])
            self.fixed_with = "self-healed"

    # ------------------------------------------------------------------ timing
    def weight(self, t: float) -> float:
        """0 before the fault, ramping to 1, back to 0 after the fix completes."""
        if t < self.start:
            return 0.0
        ramp = max(float(self.p["ramp_s"]), 1e-9)
        w = min(1.0, (t - self.start) / ramp) if ramp > 1e-6 else 1.0
        if self.fixed_at is not None and t >= self.fixed_at:
            rec = max(float(self.p["recover_s"]), 1e-9)
            w *= max(0.0, 1.0 - (t - self.fixed_at) / rec)
        return w

    def active(self, t: float) -> bool:
        return self.weight(t) > 0.0

    @property
    def fixed(self) -> bool:
        return self.fixed_at is not None

    # ------------------------------------------------------------------ hooks
    def load_factor(self, t: float, service: str) -> float:
        """Multiplier on the request load of ``service`` (before the load model)."""
        return 1.0

    def cpu_factor(self, t: float, service: str) -> float:
        """Multiplier on CPU cost per request of ``service``."""
        return 1.0

    def apply(self, t: float, frame: Frame, fleet: "Fleet") -> None:
        """Change this step's metric values."""

    def log_lines(self, t: float, fleet: "Fleet") -> list[LogSpec]:
        return []

    def log_context(self, t: float, fleet: "Fleet") -> dict[str, Any]:
        return {k: v for k, v in self.p.items() if isinstance(v, (str, int, float))}

    def on_action(self, t: float, action: str, service: str, params: Mapping[str, Any], fleet: "Fleet") -> str | None:
        if t < self.start or self.fixed_at is not None and self.fixed_at <= t:
            return None
        if action in self.fixed_by and service == self.fix_service and self.accepts(action, params):
            self.fixed_at = t + float(self.p["fix_delay_s"])
            self.fixed_with = action
            return f"{self.TYPE} on {self.service} fixed by {action} (effective in {self.p['fix_delay_s']:.0f}s)"
        return None

    def _due(self, t: float, every_s: float) -> list[float]:
        """Times of periodic events (crashes, kills) due up to ``t``, at their own times, not per step."""
        last = getattr(self, "_last_event", None)
        if last is None:
            last = t - every_s            # the first event happens now
        due = []
        while last + every_s <= t + 1e-9:
            last += every_s
            due.append(last)
        self._last_event = last
        return due

    def _reset_due(self) -> None:
        self._last_event = None

    def accepts(self, action: str, params: Mapping[str, Any]) -> bool:
        """Parameter check for the fixing action (e.g. the right pid, the right flag)."""
        return True

    def describe(self) -> dict[str, Any]:
        return {"type": self.TYPE, "service": self.service, "start": self.start, "fixed_at": self.fixed_at,
                "fixed_with": self.fixed_with}


# --------------------------------------------------------------------------- growth faults


class MemoryLeak(Fault):
    """Memory grows since the pods last started; a restart clears it and the leak regrows.

    At ``oom_at`` the JVM dies (OutOfMemoryError, restart counter up, a step of downtime) and
    the cycle starts again.
    """
    TYPE = "memory_leak"
    RUNBOOK = "memory-leak"
    PARAMS = {"rate_pct_per_min": 1.5, "oom_at": 98.0}

    def __init__(self, spec: "FaultSpec", fleet: "Fleet") -> None:
        super().__init__(spec, fleet)
        self.grow_from = self.start
        self.crashes = 0

    def _excess(self, t: float, fleet: "Fleet") -> float:
        since = max(self.grow_from, fleet.state(self.service).pods_since(t))
        return max(0.0, (t - since) / 60.0 * float(self.p["rate_pct_per_min"]))

    def apply(self, t: float, frame: Frame, fleet: "Fleet") -> None:
        if t < self.start or self.fixed_at is not None and t >= self.fixed_at:
            return
        mem = frame[self.service].get("memory_pct", 45.0) + self._excess(t, fleet)
        if mem >= float(self.p["oom_at"]):
            self.crashes += 1
            st = fleet.state(self.service)
            st.add_restarts(t, st.replicas)
            st.pod_generations.append(t)
            _put(frame, self.service, "uptime", 0.0)
            _add(frame, self.service, "error_rate", 0.3)
            mem = 100.0
        _put(frame, self.service, "memory_pct", min(100.0, mem))
        over = max(0.0, mem - 80.0) / 20.0
        _scale(frame, self.service, "p95_latency_ms", 1.0 + 2.0 * over, 1.0)
        _add(frame, self.service, "error_rate", 0.02 * over)

    def log_lines(self, t: float, fleet: "Fleet") -> list[LogSpec]:
        mem = fleet.last_value(self.service, "memory_pct")
        out: list[LogSpec] = []
        if mem >= 80:
            out.append((self.service, lt.gc_overhead, 2.0))
        if mem >= 92:
            out.append((self.service, lt.java_oom, 3.0))
        return out


class DiskFill(Fault):
    """Disk usage climbs (runaway log/spool files). ``disk_cleanup`` or ``log_rotate`` frees it."""
    TYPE = "disk_fill"
    RUNBOOK = "disk-full"
    PARAMS = {"rate_pct_per_min": 1.0, "after_cleanup_rate": 0.05}
    COMMANDS = ("disk_cleanup", "log_rotate")

    def __init__(self, spec: "FaultSpec", fleet: "Fleet") -> None:
        super().__init__(spec, fleet)
        self.grow_from = self.start
        self.rate = float(self.p["rate_pct_per_min"])

    def apply(self, t: float, frame: Frame, fleet: "Fleet") -> None:
        if t < self.grow_from:
            return
        disk = min(100.0, frame[self.service].get("disk_pct", 50.0) + (t - self.grow_from) / 60.0 * self.rate)
        _put(frame, self.service, "disk_pct", disk)
        if disk >= 99.5:
            _add(frame, self.service, "error_rate", 0.15)

    def log_lines(self, t: float, fleet: "Fleet") -> list[LogSpec]:
        disk = fleet.last_value(self.service, "disk_pct")
        out: list[LogSpec] = []
        if disk >= 90:
            out.append((self.service, lt.disk_warning, 1.0))
        if disk >= 97:
            out.append((self.service, lt.disk_full, 4.0))
        return out

    def on_action(self, t, action, service, params, fleet):
        if action != "ssm_run_command" or service != self.fix_service or t < self.start:
            return None
        commands = _ssm_commands(params)
        if not set(commands) & set(self.COMMANDS):
            return None
        command = next(c for c in commands if c in self.COMMANDS)
        self.grow_from = t + float(self.p["fix_delay_s"])
        self.rate = float(self.p["after_cleanup_rate"])
        self.fixed_at, self.fixed_with = self.grow_from, action
        return f"{command} on {service} frees the disk (effective in {self.p['fix_delay_s']:.0f}s)"


def _ssm_commands(params: Mapping[str, Any]) -> list[str]:
    """The catalogued command names an ``ssm_run_command`` request carries (``command`` or ``commands``)."""
    for key in ("commands", "command"):
        v = params.get(key)
        if isinstance(v, str) and v:
            return [v]
        if isinstance(v, (list, tuple)) and v:
            return [str(x) for x in v]
    return []


class DbConnectionLeak(Fault):
    """An app leaks DB connections; at ``max_connections`` every dependent of the DB errors.

    ``service`` is the leaking app; ``db`` the database (default: the app's first DB dependency).
    Restarting the app releases its connections; the leak then regrows.
    """
    TYPE = "db_connection_leak"
    RUNBOOK = "db-connection-exhaustion"
    PARAMS = {"rate_per_min": 4.0, "max_connections": 200.0, "db": "", "pool_size": 150.0}

    def __init__(self, spec: "FaultSpec", fleet: "Fleet") -> None:
        super().__init__(spec, fleet)
        self.db = self.p["db"] or fleet.dependency(self.service, "db") or self.service
        self.released_at = -math.inf     # leaked sessions terminated on the database side

    def _since(self, t: float, fleet: "Fleet") -> float:
        released = self.released_at if self.released_at <= t else -math.inf
        return max(self.start, fleet.state(self.service).pods_since(t), released)

    def _level(self, t: float, frame: Frame, fleet: "Fleet") -> float:
        base = frame[self.db].get("db_connections", 60.0)
        return min(float(self.p["max_connections"]), base + self._leaked(t, fleet))

    def _leaked(self, t: float, fleet: "Fleet") -> float:
        return max(0.0, t - self._since(t, fleet)) / 60.0 * float(self.p["rate_per_min"])

    def idle_sessions(self, t: float, fleet: "Fleet") -> list[dict[str, Any]]:
        """The leaked sessions as ``pg_stat_activity`` shows them: idle in transaction, oldest first."""
        n = int(min(self._leaked(t, fleet), float(self.p["max_connections"])))
        rate = float(self.p["rate_per_min"]) / 60.0
        since = self._since(t, fleet)
        return [{"pid": 60000 + i, "user": self.service.replace("-", "_"), "application": self.service,
                 "state": "idle in transaction", "duration_s": round(t - (since + i / rate), 1),
                 "query": "SELECT o.* FROM orders o WHERE o.id = $1 FOR UPDATE"} for i in range(n)]

    def apply(self, t: float, frame: Frame, fleet: "Fleet") -> None:
        if t < self.start:
            return
        conns = self._level(t, frame, fleet)
        _put(frame, self.db, "db_connections", conns)
        # the leaker's own pool runs dry first: its requests wait for a connection and time out
        starving = min(1.0, self._leaked(t, fleet) / float(self.p["pool_size"]))
        if starving > 0.7:
            w = (starving - 0.7) / 0.3
            _add(frame, self.service, "error_rate", 0.08 * w)
            _scale(frame, self.service, "p95_latency_ms", 3.0, w)
            _scale(frame, self.service, "thread_pool_active", 3.0, w)
        if conns >= float(self.p["max_connections"]) - 0.5:
            for svc in [self.service, *fleet.dependents(self.db)]:
                _add(frame, svc, "error_rate", 0.2)
                _scale(frame, svc, "p95_latency_ms", 2.5, 1.0)

    def log_lines(self, t: float, fleet: "Fleet") -> list[LogSpec]:
        out: list[LogSpec] = []
        if t >= self.start and self._leaked(t, fleet) > 0.7 * float(self.p["pool_size"]):
            out.append((self.service, lt.pool_timeout, 4.0))
        if fleet.last_value(self.db, "db_connections") >= float(self.p["max_connections"]) - 0.5:
            out += [(svc, lt.too_many_connections, 4.0) for svc in dict.fromkeys([self.service, *fleet.dependents(self.db)])]
            out.append((self.db, lt.db_too_many, 3.0))
        return out

    def on_action(self, t, action, service, params, fleet):
        if t < self.start:
            return None
        # the restart itself (fleet-level) resets pods_since, which releases the connections
        if action == "restart_deployment" and service == self.service:
            return f"restart of {service} releases its leaked connections to {self.db} (the leak regrows)"
        if action == "pg_terminate_query" and service == self.db and params.get("pid") is None \
                and params.get("state", "idle in transaction") == "idle in transaction":
            self.released_at = t + float(self.p["fix_delay_s"])
            return (f"idle-in-transaction sessions of {self.service} on {self.db} terminated "
                    f"(the leak regrows until {self.service} is fixed)")
        return None


class ReplicationLag(Fault):
    """Replay on a replica is blocked by a long query; lag grows until that query is cancelled."""
    TYPE = "replication_lag"
    RUNBOOK = "replication-lag"
    PARAMS = {"rate_s_per_s": 0.8, "pid": 51177, "running_for_s": 600.0}
    FIXED_BY = ("pg_cancel_query", "pg_terminate_query")

    def apply(self, t: float, frame: Frame, fleet: "Fleet") -> None:
        if t < self.start:
            return
        end = self.fixed_at if self.fixed_at is not None and t >= self.fixed_at else t
        lag = max(0.0, end - self.start) * float(self.p["rate_s_per_s"])
        if self.fixed_at is not None and t >= self.fixed_at:
            lag *= math.exp(-(t - self.fixed_at) / 40.0)      # replay catches up
        _add(frame, self.service, "replica_lag_s", lag)

    def log_lines(self, t, fleet):
        return [(self.service, lt.replication_lag, 2.0)] if fleet.last_value(self.service, "replica_lag_s") > 30 else []

    def accepts(self, action, params):
        pid = params.get("pid")
        return pid is None or int(pid) == int(self.p["pid"])


class QueueBacklog(Fault):
    """Consumers slow down (``slowdown`` of capacity); depth integrates in - out. Scaling drains it."""
    TYPE = "queue_backlog"
    RUNBOOK = "queue-backlog"
    PARAMS = {"slowdown": 0.45, "headroom": 1.5}

    def __init__(self, spec: "FaultSpec", fleet: "Fleet") -> None:
        super().__init__(spec, fleet)
        self.backlog = 0.0
        self.last_t: float | None = None

    def apply(self, t: float, frame: Frame, fleet: "Fleet") -> None:
        if t < self.start:
            return
        st = fleet.state(self.service)
        incoming = frame[self.service].get("request_rate", 80.0)
        base_in = st.spec.baseline.get("request_rate", 80.0)
        capacity = base_in * float(self.p["headroom"]) * st.effective_replicas(t) / st.spec.replicas
        capacity *= 1.0 - float(self.p["slowdown"])
        dt = 0.0 if self.last_t is None else t - self.last_t
        self.last_t = t
        self.backlog = max(0.0, self.backlog + (incoming - capacity) * dt)
        _add(frame, self.service, "queue_depth", self.backlog)
        if self.backlog > 0:
            _scale(frame, self.service, "cpu_pct", 1.6, 1.0)

    def log_lines(self, t, fleet):
        return [(self.service, lt.queue_lag, 2.0)] if self.backlog > 2000 else []


class StuckBatchJob(Fault):
    """A batch run hangs on a lock; its runtime grows until the job is killed (the next run is fine)."""
    TYPE = "stuck_batch_job"
    RUNBOOK = "stuck-batch-job"
    PARAMS = {"job": "nightly-settlement", "already_running_s": 300.0, "run_id": "r-20261124-0200"}
    FIXED_BY = ("kill_batch_job",)

    def apply(self, t, frame, fleet):
        if t < self.start or self.fixed_at is not None and t >= self.fixed_at:
            return
        _put(frame, self.service, "job_runtime_s", float(self.p["already_running_s"]) + (t - self.start))

    def log_lines(self, t, fleet):
        if self.fixed_at is not None and t >= self.fixed_at or t < self.start:
            return []
        return [(self.service, lt.stuck_job, 1.0)]

    def log_context(self, t, fleet):
        return {**super().log_context(t, fleet), "job_runtime_s": float(self.p["already_running_s"]) + (t - self.start)}

    def accepts(self, action, params):
        job = params.get("job") or params.get("name")
        return job in (None, "", self.p["job"])


# --------------------------------------------------------------------------- load faults


class TrafficSpike(Fault):
    """Requests multiply by ``factor``; CPU and latency follow through the load model. Scaling fixes it."""
    TYPE = "traffic_spike"
    RUNBOOK = "traffic-spike"
    PARAMS = {"factor": 2.6, "ramp_s": 180.0}

    def load_factor(self, t, service):
        return 1.0 + self.weight(t) * (float(self.p["factor"]) - 1.0) if service == self.service else 1.0

    def log_lines(self, t, fleet):
        if fleet.last_value(self.service, "cpu_pct") <= 80:
            return []
        return [(self.service, lt.cpu_hot, 2.0), (self.service, lt.rate_limited, 3.0)]


class CpuSaturation(Fault):
    """Each request costs ``factor`` times more CPU (a hot code path); scaling out absorbs it."""
    TYPE = "cpu_saturation"
    RUNBOOK = "cpu-saturation"
    PARAMS = {"factor": 2.4}

    def cpu_factor(self, t, service):
        return 1.0 + self.weight(t) * (float(self.p["factor"]) - 1.0) if service == self.service else 1.0

    def log_lines(self, t, fleet):
        return [(self.service, lt.cpu_hot, 2.0)] if fleet.last_value(self.service, "cpu_pct") > 80 else []


class OomKilled(Fault):
    """Per-pod memory demand exceeds the limit (``demand_pct`` of it at the base replica count);
    the kernel kills containers. More replicas spread the demand below the limit."""
    TYPE = "oom_killed"
    RUNBOOK = "oom-killed"
    PARAMS = {"demand_pct": 140.0, "kill_every_s": 45.0, "ramp_s": 60.0}

    def _demand(self, t, fleet) -> float:
        st = fleet.state(self.service)
        base = st.spec.baseline.get("memory_pct", 45.0)
        extra = (float(self.p["demand_pct"]) - base) * st.spec.replicas / st.effective_replicas(t)
        return base + self.weight(t) * extra

    def apply(self, t, frame, fleet):
        if t < self.start:
            return
        demand = self._demand(t, fleet)
        _put(frame, self.service, "memory_pct", min(99.0, demand))
        if demand >= 100.0:
            kills = self._due(t, float(self.p["kill_every_s"]))
            for at in kills:
                fleet.state(self.service).add_restarts(at)
            if kills:
                _add(frame, self.service, "error_rate", 0.08)
        else:
            self._reset_due()

    def log_lines(self, t, fleet):
        return [(self.service, lt.oom_killed, 1.0)] if t >= self.start and self._demand(t, fleet) >= 100 else []


# --------------------------------------------------------------------------- step faults (data-driven)


class StepFault(Fault):
    """Metric effects ramped by :meth:`weight`; ``EFFECTS`` on the service, ``DEP_EFFECTS`` on its dependents.

    Effects are ``(op, value)`` with op ``to`` (move toward value), ``mul`` (multiply) or ``add``.
    """
    EFFECTS: ClassVar[Mapping[str, tuple[str, float]]] = {}
    DEP_EFFECTS: ClassVar[Mapping[str, tuple[str, float]]] = {}
    LOGS: ClassVar[tuple[tuple["lt.LineFn", float], ...]] = ()
    DEP_LOGS: ClassVar[tuple[tuple["lt.LineFn", float], ...]] = ()

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """PARAMS plus one parameter per affected metric (overrides that effect's value)."""
        return tuple(dict.fromkeys((*cls.PARAMS, *cls.EFFECTS)))

    def effects(self) -> Mapping[str, tuple[str, float]]:
        """EFFECTS, with a parameter named like a metric overriding that metric's value."""
        eff = dict(self.EFFECTS)
        for metric in list(eff):
            if metric in self.p:
                eff[metric] = (eff[metric][0], float(self.p[metric]))
        return eff

    def apply(self, t, frame, fleet):
        w = self.weight(t)
        if w <= 0:
            return
        targets = [(self.service, self.effects())]
        if self.DEP_EFFECTS:
            targets += [(d, self.DEP_EFFECTS) for d in fleet.dependents(self.service)]
        for svc, eff in targets:
            for metric, (op, value) in eff.items():
                if op == "to":
                    _toward(frame, svc, metric, value, w)
                elif op == "mul":
                    _scale(frame, svc, metric, value, w)
                else:
                    _add(frame, svc, metric, w * value)

    def log_lines(self, t, fleet):
        w = self.weight(t)
        if w < 0.3:
            return []
        out = [(self.service, fn, rate * w) for fn, rate in self.LOGS]
        for dep in fleet.dependents(self.service):
            out += [(dep, fn, rate * w) for fn, rate in self.DEP_LOGS]
        return out


class BadDeploy(StepFault):
    """A release that fails requests; a rollback restores the previous version."""
    TYPE = "bad_deploy"
    RUNBOOK = "bad-deploy"
    PARAMS = {"version": "", "error_rate": 0.18, "ramp_s": 60.0}
    EFFECTS = {"error_rate": ("add", 0.18), "p95_latency_ms": ("mul", 1.6), "cpu_pct": ("mul", 1.2)}
    LOGS = ((lt.deploy_error, 6.0),)
    FIXED_BY = ROLLBACKS

    def log_context(self, t, fleet):
        return {**super().log_context(t, fleet), "version": self.p["version"] or fleet.state(self.service).version}


class CrashLoop(StepFault):
    """One pod's container fails at start (corrupt local cache) and backs off; replacing the pod fixes it."""
    TYPE = "crash_loop"
    RUNBOOK = "crash-loop"
    PARAMS = {"restart_every_s": 40.0, "ramp_s": 30.0}
    EFFECTS = {"error_rate": ("add", 0.06), "p95_latency_ms": ("mul", 1.3), "cpu_pct": ("mul", 1.25)}
    LOGS = ((lt.crash_backoff, 3.0),)
    FIXED_BY = ("delete_pod", *ROLLBACKS)

    def apply(self, t, frame, fleet):
        super().apply(t, frame, fleet)
        broken = self.weight(t) > 0.5 and (self.fixed_at is None or t < self.fixed_at)
        if broken:
            for at in self._due(t, float(self.p["restart_every_s"])):
                fleet.state(self.service).add_restarts(at)
        else:
            self._reset_due()

    def log_context(self, t, fleet):
        return {**super().log_context(t, fleet), "restarts": fleet.state(self.service).restarts}


class RunawayQuery(StepFault):
    """One query (a report) eats the database CPU; its dependents slow down. Cancelling *that* pid fixes it."""
    TYPE = "runaway_query"
    RUNBOOK = "db-runaway-query"
    PARAMS = {"pid": 48213, "user": "report_ro", "application": "metabase", "running_for_s": 420.0,
              "query": "/* quarterly_revenue_report */ SELECT c.region, date_trunc('day', o.created_at) AS day, "
                       "sum(o.total) FROM orders o JOIN customers c ON c.id = o.customer_id "
                       "JOIN order_items oi ON oi.order_id = o.id GROUP BY 1, 2 ORDER BY 3 DESC",
              "ramp_s": 60.0}
    EFFECTS = {"db_cpu_pct": ("to", 97.0), "p95_latency_ms": ("mul", 6.0), "db_connections": ("mul", 1.5)}
    DEP_EFFECTS = {"p95_latency_ms": ("mul", 3.2), "error_rate": ("add", 0.03)}
    LOGS = ((lt.runaway_query, 2.0), (lt.slow_query, 1.5))
    FIXED_BY = ("pg_cancel_query", "pg_terminate_query")

    def accepts(self, action, params):
        pid = params.get("pid")
        try:
            return pid is None or int(pid) == int(self.p["pid"])
        except (TypeError, ValueError):
            return False

    def log_context(self, t, fleet):
        return {**super().log_context(t, fleet), "query_elapsed_s": float(self.p["running_for_s"]) + max(0.0, t - self.start)}


class DbPrimaryFailure(StepFault):
    """The primary dies; dependents cannot connect. A failover restores it once it completes."""
    TYPE = "db_primary_failure"
    RUNBOOK = "db-primary-failure"
    PARAMS = {"ramp_s": 15.0, "fix_delay_s": 75.0}
    EFFECTS = {"uptime": ("to", 0.0), "db_connections": ("to", 0.0), "db_cpu_pct": ("to", 0.0)}
    DEP_EFFECTS = {"error_rate": ("add", 0.55), "p95_latency_ms": ("mul", 4.0)}
    LOGS = ((lt.db_down, 1.0),)
    DEP_LOGS = ((lt.connection_refused, 6.0),)
    FIXED_BY = ("rds_failover", "rds_reboot_failover")

    def apply(self, t, frame, fleet):
        super().apply(t, frame, fleet)
        if self.weight(t) > 0.5:
            _put(frame, self.service, "uptime", 0.0)

    def log_context(self, t, fleet):
        return {**super().log_context(t, fleet), "db": self.service}


class CacheSaturation(StepFault):
    """Redis fills to maxmemory (a runaway key pattern); writes fail and callers slow down.
    Unlinking the offending non-critical pattern frees the memory."""
    TYPE = "cache_saturation"
    RUNBOOK = "cache-saturation"
    PARAMS = {"pattern": "tmp:*", "ramp_s": 600.0}
    EFFECTS = {"cache_memory_pct": ("to", 99.0), "p95_latency_ms": ("mul", 3.0), "cpu_pct": ("mul", 1.8)}
    DEP_EFFECTS = {"p95_latency_ms": ("mul", 1.8), "error_rate": ("add", 0.04)}
    LOGS = ((lt.cache_oom, 2.0),)
    DEP_LOGS = ((lt.cache_oom, 3.0),)
    FIXED_BY = ("redis_unlink_pattern",)

    def accepts(self, action, params):
        pattern = params.get("pattern")
        return pattern in (None, self.p["pattern"])


class ThreadPoolExhaustion(StepFault):
    """Request threads pile up on a hung downstream socket; a restart clears the pool."""
    TYPE = "thread_pool_exhaustion"
    RUNBOOK = "thread-pool-exhaustion"
    PARAMS = {"ramp_s": 180.0, "fix_delay_s": 45.0}
    EFFECTS = {"thread_pool_active": ("to", 200.0), "p95_latency_ms": ("mul", 5.0), "error_rate": ("add", 0.09)}
    LOGS = ((lt.thread_pool, 4.0),)
    FIXED_BY = ("restart_deployment",)


class UnhealthyNode(StepFault):
    """A node goes NotReady; the pods on it fail probes. Cordoning it (the NotReady taint then evicts the
    pod elsewhere), draining it or replacing the pod fixes it."""
    TYPE = "unhealthy_node"
    RUNBOOK = "unhealthy-node"
    PARAMS = {"node": "ip-10-0-3-17", "ramp_s": 60.0}
    EFFECTS = {"error_rate": ("add", 0.1), "p95_latency_ms": ("mul", 1.8)}
    LOGS = ((lt.node_not_ready, 3.0),)
    FIXED_BY = ("cordon_node", "drain_node", "delete_pod")

    def apply(self, t, frame, fleet):
        super().apply(t, frame, fleet)
        broken = self.weight(t) > 0.5 and (self.fixed_at is None or t < self.fixed_at)
        if broken:                                       # the liveness probe kills the pod on the bad node
            for at in self._due(t, 90.0):
                fleet.state(self.service).add_restarts(at)
        else:
            self._reset_due()

    def accepts(self, action, params):
        node = params.get("node")
        return action == "delete_pod" or node in (None, "", self.p["node"])


class FeatureFlagRegression(StepFault):
    """A flag flip enables a broken code path; toggling the flag off fixes it."""
    TYPE = "feature_flag_regression"
    RUNBOOK = "feature-flag-regression"
    PARAMS = {"flag": "new-pricing-engine", "ramp_s": 60.0, "fix_delay_s": 10.0}
    EFFECTS = {"error_rate": ("add", 0.14), "p95_latency_ms": ("mul", 1.3)}
    LOGS = ((lt.flag_error, 5.0),)
    FIXED_BY = ("flag_toggle",)

    def accepts(self, action, params):
        flag = params.get("flag")
        value = params.get("enabled", params.get("value", False))
        return flag in (None, self.p["flag"]) and value in (False, "off", "false", 0)


class ConfigRegression(StepFault):
    """A config push sets a bad value (a 50 ms client timeout); reverting the config fixes it."""
    TYPE = "config_regression"
    RUNBOOK = "config-regression"
    PARAMS = {"key": "inventory.client.timeout_ms", "timeout_ms": 50, "ramp_s": 60.0, "fix_delay_s": 20.0}
    EFFECTS = {"error_rate": ("add", 0.12), "p95_latency_ms": ("mul", 0.8)}
    LOGS = ((lt.config_error, 5.0),)
    FIXED_BY = ("config_revert",)


class TransientGlitch(StepFault):
    """A short blip (connection resets) that heals by itself within ``heals_after_s``; no fix needed."""
    TYPE = "transient_glitch"
    RUNBOOK = "transient-glitch"
    PARAMS = {"heals_after_s": 90.0, "ramp_s": 15.0, "recover_s": 30.0}
    EFFECTS = {"error_rate": ("add", 0.05), "p95_latency_ms": ("mul", 2.5)}
    LOGS = ((lt.transient_reset, 4.0),)


class ThirdPartyOutage(StepFault):
    """A payment provider times out; nothing we run fixes it (``heals_after_s`` ends it, if set)."""
    TYPE = "third_party_outage"
    RUNBOOK = "third-party-outage"
    PARAMS = {"host": "api.paygate.example", "ramp_s": 60.0}
    EFFECTS = {"error_rate": ("add", 0.22), "p95_latency_ms": ("mul", 8.0), "thread_pool_active": ("mul", 2.5)}
    LOGS = ((lt.third_party_timeout, 6.0),)


class CertificateExpiry(StepFault):
    """A partner's TLS certificate expired; calls fail. Needs a human (renewal), nothing to run."""
    TYPE = "certificate_expiry"
    RUNBOOK = "certificate-expiry"
    PARAMS = {"host": "api.partner.example", "ramp_s": 30.0}
    EFFECTS = {"error_rate": ("add", 0.3)}
    LOGS = ((lt.cert_expired, 5.0),)

    def log_context(self, t, fleet):
        from aisre.models import iso
        return {**super().log_context(t, fleet), "now_iso": iso(t)}


class DnsFailure(StepFault):
    """An internal name stops resolving; calls to it fail. Needs a human."""
    TYPE = "dns_failure"
    RUNBOOK = "dns-failure"
    PARAMS = {"host": "inventory.internal", "ramp_s": 30.0}
    EFFECTS = {"error_rate": ("add", 0.25), "p95_latency_ms": ("mul", 1.5)}
    LOGS = ((lt.dns_fail, 6.0),)


class DbSlowQueries(StepFault):
    """A missing index makes a hot query slow; latency rises everywhere. Needs a human (an index)."""
    TYPE = "db_slow_queries"
    RUNBOOK = "db-slow-queries"
    PARAMS = {"ramp_s": 300.0}
    EFFECTS = {"db_cpu_pct": ("to", 78.0), "p95_latency_ms": ("mul", 12.0)}
    DEP_EFFECTS = {"p95_latency_ms": ("mul", 2.4)}
    LOGS = ((lt.slow_query, 8.0),)


class AzNetworkPartition(StepFault):
    """One availability zone loses connectivity; several services time out. Needs a human."""
    TYPE = "az_network_partition"
    RUNBOOK = "az-network-partition"
    PARAMS = {"az": "us-east-1b", "subnet": 2, "also": [], "ramp_s": 30.0}
    EFFECTS = {"error_rate": ("add", 0.2), "p95_latency_ms": ("mul", 3.0)}
    DEP_EFFECTS = {"error_rate": ("add", 0.12), "p95_latency_ms": ("mul", 2.0)}
    LOGS = ((lt.az_timeout, 5.0),)
    DEP_LOGS = ((lt.az_timeout, 3.0),)

    def apply(self, t, frame, fleet):
        super().apply(t, frame, fleet)
        w = self.weight(t)
        for svc in self.p["also"] or ():
            _add(frame, svc, "error_rate", 0.2 * w)
            _scale(frame, svc, "p95_latency_ms", 3.0, w)

    def log_lines(self, t, fleet):
        out = super().log_lines(t, fleet)
        if self.weight(t) >= 0.3:
            out += [(svc, lt.az_timeout, 3.0) for svc in self.p["also"] or ()]
        return out


class UnknownFault(StepFault):
    """Something no runbook describes (ledger checksum mismatches); every fix is ignored."""
    TYPE = "unknown"
    RUNBOOK = ""
    PARAMS = {"ramp_s": 45.0, "error_rate": 0.3}
    EFFECTS = {"error_rate": ("add", 0.3), "p95_latency_ms": ("mul", 2.5), "cpu_pct": ("mul", 1.3)}
    LOGS = ((lt.unknown_error, 8.0),)

    def on_action(self, t, action, service, params, fleet):
        return None


class LogInjection(Fault):
    """Hostile text in log lines ("ignore previous instructions ..."); no metric effect at all."""
    TYPE = "log_injection"
    PARAMS = {"rate_per_min": 3.0}

    def log_lines(self, t, fleet):
        return [(self.service, lt.injected, float(self.p["rate_per_min"]))] if t >= self.start else []


FAULT_TYPES: dict[str, type[Fault]] = {cls.TYPE: cls for cls in (
    MemoryLeak, DiskFill, DbConnectionLeak, ReplicationLag, QueueBacklog, StuckBatchJob, TrafficSpike,
    CpuSaturation, OomKilled, BadDeploy, CrashLoop, RunawayQuery, DbPrimaryFailure, CacheSaturation,
    ThreadPoolExhaustion, UnhealthyNode, FeatureFlagRegression, ConfigRegression, TransientGlitch,
    ThirdPartyOutage, CertificateExpiry, DnsFailure, DbSlowQueries, AzNetworkPartition, UnknownFault, LogInjection)}
for _cls in FAULT_TYPES.values():     # every "..._s" parameter accepts "90s", "10m", ...
    _cls.DURATION_PARAMS = tuple(k for k in _cls.PARAMS if k.endswith("_s") and not k.startswith("rate"))


def build_fault(spec: "FaultSpec", fleet: "Fleet") -> Fault:
    return FAULT_TYPES[spec.type](spec, fleet)
