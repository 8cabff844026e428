"""Knowledge-base actions through the st2 action base class: ingest is idempotent, search explains itself,
a resolved incident is learned, the postmortem draft comes from the incident and the audit log."""
import tempfile

from st2tests.base import BaseActionTestCase

from correlate_signal import CorrelateSignal
from draft_postmortem import DraftPostmortem
from kb_ingest import KbIngest
from kb_record_incident import KbRecordIncident
from kb_search import KbSearch

from aisre.models import Severity, Signal


def _config():
    d = tempfile.mkdtemp()
    return {"knowledge": {"store_dir": d + "/chroma", "embedding": "hashing"},
            "services": [{"name": "checkout"}], "audit": {"path": d + "/audit.jsonl"}}


class TestKbIngest(BaseActionTestCase):
    action_cls = KbIngest

    def test_ingest_twice_counts_unchanged(self):
        cfg = _config()
        ok, first = self.get_action_instance(config=cfg).run(directory="", prune=False)
        assert ok and len(first["added"]) >= 25 and not first["errors"], first
        ok, second = self.get_action_instance(config=cfg).run(directory="", prune=False)
        assert ok and second["added"] == [] and sorted(second["unchanged"]) == sorted(first["added"])


class TestKbSearch(BaseActionTestCase):
    action_cls = KbSearch

    def test_search_ranks_and_answers_unknown(self):
        action = self.get_action_instance(config=_config())
        ok, res = action.run(query="java.lang.OutOfMemoryError: Java heap space on checkout", k=3)
        assert ok and res["best"]["runbook_id"] in ("memory-leak", "oom-killed")
        assert res["matches"][0]["reasons"]
        ok, res = action.run(query="the office coffee machine is out of beans", k=3)
        assert ok and res["best"] is None and "none" in res["text"]


class TestLearnAndPostmortem(BaseActionTestCase):
    action_cls = KbRecordIncident

    def test_resolved_incident_is_learned_and_postmortem_drafted(self):
        cfg = _config()
        record = self.get_action_instance(config=cfg)
        shared = record.action_service
        corr = CorrelateSignal(config=cfg, action_service=shared)
        sig = Signal(id="sig-1", kind="log", source="elasticsearch", service="checkout", name="java-oom",
                     summary="java.lang.OutOfMemoryError: Java heap space", severity=Severity.CRITICAL, ts=1000.0,
                     signature="java-oom", samples=("java.lang.OutOfMemoryError: Java heap space",))
        ok, c = corr.run(signal=sig.to_dict())
        assert ok
        ok, learned = record.run(incident_id=c["incident_id"], outcome="resolved")
        assert ok and learned["outcome"] == "resolved"
        ok, pm = DraftPostmortem(config=cfg, action_service=shared).run(incident_id=c["incident_id"])
        assert ok and c["incident_id"] in pm["markdown"] and "Timeline" in pm["markdown"]
