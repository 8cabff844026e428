import threading

import pytest

from aisre.config import load_config, secret_values, validate_config
from aisre.errors import ConfigError
from aisre.state import FileStore, MemoryStore, get_json, key, set_json


class Clock:
    def __init__(self): self.t = 1000.0
    def __call__(self): return self.t


@pytest.mark.parametrize("make", [lambda tmp, c: MemoryStore(clock=c), lambda tmp, c: FileStore(str(tmp / "s.json"), clock=c)])
def test_store_contract(tmp_path, make):
    clock = Clock()
    store = make(tmp_path, clock)
    store.set("aisre.a", 5)  # stringified like the st2 datastore
    assert store.get("aisre.a") == "5"
    set_json(store, "aisre.b", {"x": [1, 2]}, ttl_s=10)
    assert get_json(store, "aisre.b") == {"x": [1, 2]}
    assert store.keys("aisre.") == ["aisre.a", "aisre.b"]
    clock.t += 11
    assert store.get("aisre.b") is None  # expired
    store.delete("aisre.a")
    assert store.get("aisre.a") is None
    assert get_json(store, "missing", default=[]) == []


def test_file_store_survives_a_new_instance_and_concurrent_writers(tmp_path):
    path = str(tmp_path / "state.json")
    threads = [threading.Thread(target=lambda i=i: FileStore(path).set(f"k{i}", str(i))) for i in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(FileStore(path).keys("k")) == 20


def test_key_layout():
    assert key("lease", service="checkout") == "aisre.lease.checkout"


def test_config_defaults_and_secrets():
    cfg = load_config({"services": [{"name": "checkout", "metrics": [{"name": "memory_pct", "query": "q"}]}],
                       "notify": {"slack": {"token": "xoxb-secret-1"}}, "llm": {"api_key": "sk-abc"}})
    assert cfg.safety.max_attempts == 2 and cfg.safety.mode == "shadow"
    assert cfg.services[0].metrics[0].detector == "default"
    assert cfg.service("checkout").target.name == "checkout"
    assert set(secret_values(cfg)) == {"xoxb-secret-1", "sk-abc"}


@pytest.mark.parametrize("bad,where", [
    ({"safety": {"mode": "yolo"}}, "safety.mode"),
    ({"services": [{"owner": "x"}]}, "services.0"),
    ({"sources": {"prometheus": {"url": "http://p", "tmeout_s": 3}}}, "sources.prometheus"),
    ({"detection": {"poll_interval_s": 1}}, "detection.poll_interval_s"),
])
def test_invalid_config_names_the_key(bad, where):
    with pytest.raises(ConfigError) as exc:
        validate_config(bad)
    assert where in str(exc.value)


def test_duplicate_services_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="duplicate"):
        load_config({"services": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ConfigError, match="not found"):
        load_config(path=str(tmp_path / "nope.yaml"))
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(path=str(tmp_path / "bad.yaml"))


def test_one_file_serves_several_environments():
    doc = {
        "environment": "production",
        "sources": {"prometheus": {"url": "http://prom-dev:9090"}},
        "services": [{"name": "checkout"}],
        "safety": {"mode": "shadow", "allow_list": ["restart_deployment"]},
        "notify": {"slack": {"token": "xoxb-1", "channel": "#dev-alerts"}},
        "environments": {
            "production": {"sources": {"prometheus": {"url": "http://prom-prod:9090"}},
                           "safety": {"mode": "limited", "allow_list": ["restart_deployment", "scale_deployment"]},
                           "notify": {"slack": {"approval_channel": "#prod-approvals"}}},
            "staging": {"safety": {"mode": "autonomous"}},
        },
    }
    prod = load_config(doc)
    assert prod.environment == "production"
    assert prod.sources["prometheus"]["url"] == "http://prom-prod:9090"
    assert prod.safety.mode == "limited" and prod.safety.allow_list == ("restart_deployment", "scale_deployment")
    assert prod.notify["slack"] == {"token": "xoxb-1", "channel": "#dev-alerts", "approval_channel": "#prod-approvals"}
    staging = load_config({**doc, "environment": "staging"})
    assert staging.safety.mode == "autonomous" and staging.sources["prometheus"]["url"] == "http://prom-dev:9090"
    with pytest.raises(ConfigError, match="no entry under environments"):
        load_config({**doc, "environment": "qa"})
    with pytest.raises(ConfigError, match="safety.mode"):
        load_config({**doc, "environments": {"production": {"safety": {"mode": "yolo"}}}})
