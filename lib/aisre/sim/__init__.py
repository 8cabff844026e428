"""aisre.sim — a simulated fleet for drills: fault models that react to remediation, scenarios, scoring.

::

    from aisre.sim import Fleet, load_scenario, SimMetricSource, SimLogSource, SimExecutor
    fleet = Fleet(load_scenario("memory-leak"), seed=7)
    SimMetricSource(fleet).query_range("checkout:memory_pct", start, end, 60)   # MetricSource
    SimLogSource(fleet).fetch("checkout", start, end, 500)                      # LogSource
    SimExecutor(fleet)                                                           # Executor, kind "sim"
    fleet.advance(60); fleet.clock()

The drill runner and report (:mod:`aisre.sim.drill`, :mod:`aisre.sim.report`) score an agent against
each scenario's ``expect`` block.
"""
from aisre.sim.executor import ACTIONS, SimExecutor
from aisre.sim.faults import FAULT_TYPES, Fault
from aisre.sim.fleet import Fleet, TakenAction
from aisre.sim.scenario import (METRICS, Expect, FaultSpec, Scenario, ServiceSpec, list_scenarios, load_scenario,
                                scenario_from_dict)
from aisre.sim.sources import SimLogSource, SimMetricSource

__all__ = [
    "ACTIONS", "Expect", "FAULT_TYPES", "Fault", "FaultSpec", "Fleet", "METRICS", "Scenario", "ServiceSpec",
    "SimExecutor", "SimLogSource", "SimMetricSource", "TakenAction", "list_scenarios", "load_scenario",
    "scenario_from_dict",
]
