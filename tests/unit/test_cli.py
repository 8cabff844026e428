"""The aisre command: exit codes and output a user (or a CI job) relies on."""
import json
import pathlib

import pytest

from aisre import cli
from aisre.policy.audit import AuditLog

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_config_validate_ok_and_bad(tmp_path, capsys):
    assert cli.main(["config", "validate", str(ROOT / "aisre.yaml.example")]) == 0
    assert "config OK: environment staging" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("safety: {mode: yolo}\n")
    assert cli.main(["config", "validate", str(bad)]) == 2
    assert "safety.mode" in capsys.readouterr().err


def test_audit_verify_detects_tampering(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(str(path))
    for i in range(3):
        log.append("decision", f"inc-{i}", {"verdict": "act"})
    assert cli.main(["audit", "verify", str(path)]) == 0
    lines = path.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["data"]["verdict"] = "escalate"
    lines[1] = json.dumps(rec)
    path.write_text("\n".join(lines) + "\n")
    assert cli.main(["audit", "verify", str(path)]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def test_drill_prints_the_story_and_scores(capsys):
    rc = cli.main(["drill", "memory-leak", "-q"])
    out = capsys.readouterr().out
    assert "DETECTED" in out and "min before exhaustion" in out
    assert "restart_deployment on checkout: succeeded" in out
    assert "VERIFIED" in out and "memory-leak" in out
    assert rc == 0


def test_unknown_scenario_is_a_clear_error(capsys):
    assert cli.main(["drill", "no-such-scenario", "-q"]) == 2
    assert "no-such-scenario" in capsys.readouterr().err


def test_health_without_config(capsys, tmp_path):
    rc = cli.main(["health", "--no-probe", "--state", str(tmp_path / "s.json")])
    assert "aisre health" in capsys.readouterr().out and rc in (0, 1)
