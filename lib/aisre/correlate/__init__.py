"""aisre.correlate: signals -> incidents (fingerprints, dependency grouping, change scoring)."""
from aisre.correlate.correlator import ChangePolicy, Correlator
from aisre.correlate.fingerprint import SIGNAL_FINGERPRINT_FIELDS, fingerprint, incident_fingerprint
from aisre.correlate.topology import Topology

__all__ = ["ChangePolicy", "Correlator", "SIGNAL_FINGERPRINT_FIELDS", "Topology", "fingerprint",
           "incident_fingerprint"]
