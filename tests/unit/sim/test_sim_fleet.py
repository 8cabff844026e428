"""The fleet: determinism, the simulated clock, seasonality, bounds, topology."""
import math

import pytest

from aisre.errors import ValidationError
from aisre.sim import Fleet, list_scenarios, load_scenario
from aisre.sim.scenario import METRICS


def _dump(fleet: Fleet):
    series = {(s, m): fleet.series(s, m) for s in fleet.services for m in fleet.metric_names(s)}
    logs = {s: [(r.ts, r.level, r.message) for r in fleet.logs(s, -math.inf, math.inf)] for s in fleet.services}
    return series, logs


def test_same_seed_same_fleet_different_seed_different_noise():
    a, b, c = (Fleet("memory-leak", seed=s) for s in (7, 7, 8))
    for f in (a, b, c):
        f.advance(20 * 60)
    assert _dump(a) == _dump(b)
    sa, la = _dump(a)
    sc, lc = _dump(c)
    assert sa[("checkout", "cpu_pct")] != sc[("checkout", "cpu_pct")]
    assert la["checkout"] != lc["checkout"]


def test_noise_does_not_depend_on_what_the_agent_queries_or_does_elsewhere():
    a, b = Fleet("bad-deploy", seed=3), Fleet("bad-deploy", seed=3)
    b.apply_action("restart_deployment", "cart")         # an unrelated action on another service
    a.advance(600)
    b.advance(600)
    assert a.series("orders-db", "db_cpu_pct") == b.series("orders-db", "db_cpu_pct")


def test_clock_is_simulated_and_history_covers_the_warmup():
    sc = load_scenario("memory-leak")
    f = Fleet(sc, seed=1)
    assert f.clock() == sc.start_ts
    pts = f.series("checkout", "memory_pct")
    assert pts[0][0] == pytest.approx(sc.start_ts - sc.warmup_s + sc.step_s)
    assert pts[-1][0] == pytest.approx(sc.start_ts)
    assert len(pts) == int(sc.warmup_s / sc.step_s)
    f.advance(10)                      # less than a step: the clock moves, no new point yet
    assert f.clock() == sc.start_ts + 10 and f.series("checkout", "memory_pct")[-1][0] == sc.start_ts
    f.advance(20)
    assert f.series("checkout", "memory_pct")[-1][0] == sc.start_ts + 30
    assert f.series("checkout", "memory_pct", end=f.clock() + 3600)[-1][0] <= f.clock()   # never the future


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_advance_rejects_bad_durations(bad):
    f = Fleet("memory-leak")
    with pytest.raises(ValidationError):
        f.advance(bad)


def test_daily_seasonality_moves_load():
    f = Fleet("steady-state", seed=2)
    f.advance(6 * 3600)
    pts = f.series("storefront", "request_rate")
    by_hour = {}
    for ts, v in pts:
        by_hour.setdefault(int(ts % 86400 // 3600), []).append(v)
    mean = {h: sum(v) / len(v) for h, v in by_hour.items()}
    assert mean[15] > mean[11] * 1.08 and mean[15] > mean[18]   # peak at 15:00 UTC
    assert max(mean.values()) < 120 * 1.5


@pytest.mark.parametrize("name", list_scenarios())
def test_every_scenario_runs_with_values_in_bounds(name):
    sc = load_scenario(name)
    f = Fleet(sc, seed=11)
    f.advance(sc.duration_s)
    assert f.done
    for s in f.services:
        names = f.metric_names(s)
        assert names and set(names) <= set(METRICS)
        for m in names:
            vals = [v for _, v in f.series(s, m)]
            assert all(isinstance(v, float) and math.isfinite(v) and v >= 0 for v in vals), (s, m)
            if m.endswith("_pct"):
                assert max(vals) <= 100.0
            if m in ("error_rate", "uptime"):
                assert max(vals) <= 1.0
            if m == "uptime":
                assert set(vals) <= {0.0, 1.0}


def test_topology_and_changes():
    f = Fleet("bad-deploy")
    assert f.dependents("orders-db") == ["checkout", "cart"]
    assert f.dependency("checkout", "db") == "orders-db"
    assert f.resolve_service("pg_cancel_query", "checkout") == "orders-db"
    assert f.resolve_service("restart_deployment", "checkout") == "checkout"
    assert f.changes_until(f.clock()) == []                 # the deploy is at t+6m
    f.advance(6 * 60)
    changes = f.changes_until(f.clock())
    assert [(c.kind, c.version, c.previous_version) for c in changes] == [("deploy", "v2.14.0", "v2.13.2")]
    assert changes[0].diff_url.startswith("https://") and changes[0].commit == "9f3c2ab"
    assert f.state("checkout").version == "v2.14.0"
    with pytest.raises(ValidationError, match="no service 'nope'"):
        f.state("nope")
