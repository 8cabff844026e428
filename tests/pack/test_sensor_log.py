"""The log sensor through the st2 sensor base class: a fatal signature in a tailed file becomes one
aisre.signal (payload valid against the schema st2 enforces), redacted, and never twice across a restart."""
import json

import jsonschema
import yaml

import packlint
from st2tests.base import BaseSensorTestCase

from log_sensor import LogSensor

OOM = [
    "2026-11-28 02:00:01 ERROR [main] c.a.checkout.OrderWorker - request failed password=hunter2",
    "java.lang.OutOfMemoryError: Java heap space",
    "\tat com.acme.checkout.Cache.put(Cache.java:42)",
    "\tat com.acme.checkout.OrderWorker.run(OrderWorker.java:88)",
]


class TestLogSensor(BaseSensorTestCase):
    sensor_cls = LogSensor

    def _config(self, path):
        return {"sources": {"files": {"log_paths": [str(path)], "start_at": "end"}},
                "services": [{"name": "checkout", "logs": {"source": "files", "query": ""}}]}

    def test_fatal_signature_dispatched_once_and_redacted(self):
        import tempfile, pathlib
        d = pathlib.Path(tempfile.mkdtemp())
        log = d / "checkout.log"
        log.write_text("2026-11-28 01:59:00 INFO started\n")
        cfg = self._config(log)
        sensor = self.get_sensor_instance(config=cfg, poll_interval=30)
        sensor.setup()
        sensor.poll()                                   # starts at the end of the file: nothing yet
        assert self.get_dispatched_triggers() == []
        with open(log, "a") as fh:
            fh.write("\n".join(OOM) + "\n")
        sensor.poll()
        sigs = [t for t in self.get_dispatched_triggers() if t["trigger"] == "aisre.signal"]
        assert sigs, "the OutOfMemoryError was not signalled"
        schema = yaml.safe_load(open(packlint.ROOT / "sensors" / "log_sensor.yaml"))["trigger_types"][0]["payload_schema"]
        for t in sigs:
            jsonschema.validate(t["payload"], schema)
        fatal = [t["payload"] for t in sigs if t["payload"].get("signature")]
        assert fatal and fatal[0]["service"] == "checkout" and fatal[0]["kind"] == "log"
        assert fatal[0]["evidence"].get("runbook_id") in ("memory-leak", "oom-killed")
        assert "hunter2" not in json.dumps(sigs)
        # a new sensor process over the same datastore dispatches nothing twice
        before = len(self.get_dispatched_triggers())
        again = self.get_sensor_instance(config=cfg, poll_interval=30)
        again.setup()
        again.poll()
        assert len(self.get_dispatched_triggers()) == before
