"""aisre.correlate: signals -> incidents (fingerprints, dependency grouping, change scoring)."""
from aisre.correlate.correlator import ChangePolicy, Correlator
from aisre.correlate.fingerprint import SIGNAL_FINGERPRINT_FIELDS, fingerprint, incident_fingerprint
from aisre.correlate.topology import Topology

def correlator_from_config(store, config, clock=None) -> Correlator:
    """A :class:`Correlator` configured from ``services[].depends_on``, ``environment`` and ``correlation.*``."""
    import time as _time

    section = dict((getattr(config, "raw", {}) or {}).get("correlation", {}))
    deps = {s.name: tuple(s.depends_on) for s in config.services}
    return Correlator(store, clock=clock or _time.time, window_s=float(section.get("window_s", 900)),
                      dependencies=deps, environment=config.environment,
                      min_dependants=int(section.get("min_dependants", 3)),
                      stale_s=float(section.get("stale_hours", 24)) * 3600.0)


__all__ = ["correlator_from_config", "ChangePolicy", "Correlator", "SIGNAL_FINGERPRINT_FIELDS", "Topology", "fingerprint",
           "incident_fingerprint"]
