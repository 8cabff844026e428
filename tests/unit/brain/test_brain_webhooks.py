import json
import pathlib

import pytest

from aisre.correlate import Correlator, fingerprint
from aisre.errors import SourceDown, ValidationError
from aisre.models import Severity
from aisre.sources.webhooks import KINDS, normalise
from aisre.sources.webhooks.sns import CertCache, verify
from aisre.state import MemoryStore

FIX = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"
NOW = 1_795_836_000.0


def load(kind, name):
    return json.loads((FIX / kind / f"{name}.json").read_text())


def test_every_kind_has_a_fixture():
    assert {p.name for p in FIX.iterdir() if any(p.glob("*.json"))} == set(KINDS)


def test_datadog_trigger_and_recovery_share_a_fingerprint():
    r = normalise("datadog", json.dumps(load("datadog", "triggered")), now=NOW)
    (s,) = r.signals
    assert (s.service, s.name, s.severity, s.resolved) == ("checkout", "monitor:123456789", Severity.ERROR, False)
    assert s.ts == 1795831500.0 and s.value == 12.3 and s.labels["env"] == "prod"
    (rec,) = normalise("datadog", load("datadog", "recovered"), now=NOW).signals
    assert rec.resolved and fingerprint(rec) == fingerprint(s)
    assert normalise("datadog", {**load("datadog", "triggered"), "alert_transition": "No Data"}).ignored


def test_alertmanager_firing_and_resolved():
    r = normalise("alertmanager", load("alertmanager", "firing"), now=NOW)
    a, b = r.signals
    assert (a.service, a.name, a.severity, a.value) == ("checkout", "HighErrorRate", Severity.CRITICAL, 0.12)
    assert a.onset_ts == pytest.approx(1795831500.123456) and a.labels["namespace"] == "shop"
    assert (b.service, b.severity) == ("cart", Severity.WARNING)
    (res,) = normalise("alertmanager", load("alertmanager", "resolved"), now=NOW).signals
    assert res.resolved and res.ts == 1795833300.0 and fingerprint(res) == fingerprint(a)


def test_cloudwatch_signed_notification(sns_signer):
    cache = CertCache()
    body = sns_signer.sign(load("cloudwatch", "alarm_notification"))
    for _ in range(2):
        r = normalise("cloudwatch", json.dumps(body), {"x-amz-sns-message-type": "Notification"}, now=NOW,
                      cert_fetcher=sns_signer.fetch)
    (s,) = r.signals
    assert (s.service, s.name, s.value, s.upper, s.resolved) == ("checkout", "checkout-alb-5xx", 42.0, 10.0, False)
    assert s.ts == pytest.approx(1795831500.123) and s.labels["metric"] == "HTTPCode_Target_5XX_Count"
    verify(body, sns_signer.fetch, cache)
    verify(body, sns_signer.fetch, cache)
    assert cache.fetches == 1  # cached per URL
    ok = json.loads(body["Message"])
    ok["NewStateValue"] = "OK"
    rec = sns_signer.sign({**body, "Message": json.dumps(ok)})
    assert normalise("cloudwatch", rec, cert_fetcher=sns_signer.fetch).signals[0].resolved


def test_cloudwatch_subscription_confirmation_v2(sns_signer):
    body = sns_signer.sign(load("cloudwatch", "subscription_confirmation"))
    r = normalise("cloudwatch", body, cert_fetcher=sns_signer.fetch)
    assert r.confirm_url.startswith("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription")
    assert not r.signals


@pytest.mark.parametrize("tamper,msg", [
    (lambda b: {**b, "Message": b["Message"].replace("42.0", "1.0")}, "does not verify"),
    (lambda b: {**b, "SigningCertURL": "https://evil.example.com/cert.pem"}, "sns.<region>.amazonaws.com"),
    (lambda b: {**b, "SigningCertURL": "http://sns.us-east-1.amazonaws.com/x.pem"}, "must be https"),
    (lambda b: {**b, "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.io/x.pem"}, "amazonaws.com"),
    (lambda b: {**b, "SigningCertURL": b["SigningCertURL"].replace("us-east-1", "eu-west-1")}, "region"),
    (lambda b: {**b, "SignatureVersion": "3"}, "SignatureVersion"),
    (lambda b: {**b, "Signature": "!!notbase64"}, "base64"),
])
def test_cloudwatch_bad_signatures_are_rejected(sns_signer, tamper, msg):
    body = tamper(sns_signer.sign(load("cloudwatch", "alarm_notification")))
    with pytest.raises(ValidationError, match=msg):
        normalise("cloudwatch", body, cert_fetcher=sns_signer.fetch)


def test_cloudwatch_cert_fetch_failure_and_unverified_mode(sns_signer):
    def down(url):
        raise SourceDown("refused", integration="sns")

    body = sns_signer.sign(load("cloudwatch", "alarm_notification"))
    body["MessageId"] = "other-id"  # not the cached URL path? same URL: use a fresh cache through a new URL
    body["SigningCertURL"] = body["SigningCertURL"].replace(".pem", "-b.pem")
    with pytest.raises(SourceDown):
        normalise("cloudwatch", sns_signer.sign(body), cert_fetcher=down)
    unsigned = load("cloudwatch", "alarm_notification")
    assert normalise("cloudwatch", unsigned, verify_sns=False).signals[0].service == "checkout"
    with pytest.raises(ValidationError, match="not signed"):
        normalise("cloudwatch", unsigned, cert_fetcher=sns_signer.fetch)
    evil = sns_signer.sign({**load("cloudwatch", "subscription_confirmation"),
                            "SubscribeURL": "https://attacker.example/?Action=ConfirmSubscription"})
    with pytest.raises(ValidationError, match="SubscribeURL"):
        normalise("cloudwatch", evil, cert_fetcher=sns_signer.fetch)


def test_statuspage_maps_vendor_to_dependent_service():
    body = load("statuspage", "summary_degraded")
    r = normalise("statuspage", body, service_map={"Stripe/Charges API": "payments", "Webhooks": "payments-webhooks"})
    by_name = {s.name: s for s in r.signals}
    charges = by_name["Stripe/Charges API"]
    assert (charges.kind, charges.source, charges.service, charges.severity) == ("status", "statuspage", "payments", Severity.ERROR)
    assert by_name["Stripe/Webhooks"].resolved and by_name["Stripe/Webhooks"].service == "payments-webhooks"
    assert by_name["Stripe/Dashboard"].service == "vendor:Stripe"
    inc = by_name["Stripe/incident/p31zjtct2jer"]
    assert inc.service == "payments" and inc.severity == Severity.ERROR
    assert "Stripe/API" not in by_name and "Stripe/incident/old1" not in by_name
    calm = {**body, "components": [{**c, "status": "operational"} for c in body["components"]], "incidents": []}
    assert normalise("statuspage", calm).ignored


def test_argocd_flat_and_full_app():
    r = normalise("argocd", load("argocd", "sync_succeeded"), now=NOW)
    (c,) = r.changes
    assert (c.service, c.kind, c.version, c.status) == ("checkout-prod", "deploy", "v1.42.0", "succeeded")
    assert c.diff_url == "https://github.com/acme/checkout-deploy/commit/3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"
    assert r.signals[0].resolved
    r2 = normalise("argocd", load("argocd", "app_degraded"), service_map={}, now=NOW)
    (c2,) = r2.changes
    assert (c2.service, c2.version, c2.previous_version) == ("cart", "9e8d7c6b5a4f", "1a2b3c4d5e6f")
    assert c2.diff_url.startswith("https://github.com/acme/cart-deploy/commit/9e8d7c6b")
    (s,) = r2.signals
    assert (s.name, s.severity, s.resolved) == ("argocd_app_health", Severity.ERROR, False)


def test_jenkins_phases():
    (c,) = normalise("jenkins", load("jenkins", "completed"), now=NOW).changes
    assert (c.service, c.version, c.previous_version, c.status) == ("payments", "2.8.1", "2.8.0", "succeeded")
    assert c.ts == 1795830995.0 and c.diff_url.endswith("/commit/5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29")
    started = load("jenkins", "completed")
    started["build"]["phase"] = "STARTED"
    (s,) = normalise("jenkins", started).changes
    assert s.id == c.id and s.status == "running"
    assert normalise("jenkins", load("jenkins", "queued")).ignored


def test_github_deployment_status_and_hmac():
    raw = (FIX / "github" / "deployment_status_success.json").read_bytes()
    (c,) = normalise("github", raw, {"X-GitHub-Event": "deployment_status"}, now=NOW).changes
    assert (c.service, c.version, c.status, c.author) == ("search", "v3.1.0", "succeeded", "deploy-bot")
    assert c.diff_url == "https://github.com/acme/search/commit/b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8"
    assert normalise("github", {"zen": "hi"}, {"X-GitHub-Event": "ping"}).ignored
    import hashlib
    import hmac
    sig = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    ok = normalise("github", raw, {"X-GitHub-Event": "deployment_status", "X-Hub-Signature-256": sig},
                   github_secret="s3cret")
    assert ok.changes
    with pytest.raises(ValidationError, match="signature"):
        normalise("github", raw, {"X-GitHub-Event": "deployment_status", "X-Hub-Signature-256": "sha256=00"},
                  github_secret="s3cret")


def test_flags_and_config():
    (ld,) = normalise("flags", load("flags", "launchdarkly_flag_on"), now=NOW).changes
    assert (ld.service, ld.kind, ld.previous_version, ld.version) == ("checkout", "feature_flag",
                                                                       "new-checkout-flow=false", "new-checkout-flow=true")
    assert ld.author == "alice@example.com" and ld.ts == 1795831080.0
    (g,) = normalise("flags", load("flags", "generic"), now=NOW).changes
    assert (g.service, g.version, g.source) == ("search", "search-v2-ranker=50%", "unleash")
    (cfg,) = normalise("config", load("config", "config_change"), now=NOW).changes
    assert (cfg.service, cfg.kind, cfg.version) == ("orders-db", "config", "0a1b2c3d4e5f")
    assert "500 -> 200" in cfg.description


@pytest.mark.parametrize("kind,body", [
    ("nope", {}),
    ("datadog", "not json{"),
    ("datadog", [1, 2]),
    ("datadog", {"title": "x"}),
    ("datadog", {"title": "x", "alert_type": "error"}),        # no service
    ("alertmanager", {"version": "4", "alerts": [{"labels": {}}]}),
    ("alertmanager", {"version": "3", "alerts": []}),
    ("alertmanager", {"alerts": "many"}),
    ("cloudwatch", {"Type": "Weird"}),
    ("cloudwatch", {"Type": "Notification", "Message": "not json"}),
    ("statuspage", {"page": {}}),
    ("statuspage", {"page": {"name": "X"}, "components": [{"name": "a", "status": "on fire"}]}),
    ("argocd", {"app": ""}),
    ("jenkins", {"name": "j", "build": {"phase": "EXPLODED"}}),
    ("jenkins", {"name": "j", "build": "yes"}),
    ("github", {"deployment_status": {"state": "maybe"}, "deployment": {}, "repository": {}}),
    ("flags", {"something": 1}),
    ("config", {"changes": [{"service": "x"}]}),
    ("config", {"changes": []}),
    ("datadog", b"\xff\xfe"),
])
def test_malformed_payloads_are_validation_errors(kind, body):
    with pytest.raises(ValidationError):
        normalise(kind, body, {"x-github-event": "deployment_status"} if kind == "github" else None, verify_sns=False)


def test_webhook_storm_correlates_into_one_incident():
    deps = {s: ["orders-db"] for s in ("checkout", "cart", "payments", "search", "accounts")}
    c = Correlator(MemoryStore(), dependencies=deps)
    body = load("alertmanager", "firing")
    template = body["alerts"][0]
    body["alerts"] = [{**template, "fingerprint": f"fp{i}", "labels": {**template["labels"], "service": s}}
                      for i, s in enumerate(deps)]
    for s in normalise("alertmanager", body, now=NOW).signals:
        c.ingest(s)
    (only,) = c.open_incidents()
    assert only.service == "orders-db" and len(only.signals) == 5
