"""A drill's escalation reaches the humans in their tools: one Slack thread, one PagerDuty event keyed by the
incident fingerprint, one Jira ticket — each with the full report and the chart of the anomalous metric."""
import json

import httpx2

from aisre.config import load_config
from aisre.notify.dispatch import Dispatcher
from aisre.notify.jira import JiraNotifier
from aisre.notify.pagerduty import PagerDutyNotifier
from aisre.notify.slack import SlackNotifier
from aisre.sim import Fleet, drill
from aisre.state import MemoryStore
from plugins.fake_chat import JIRA_TOKEN, JIRA_USER, SLACK_TOKEN

ROUTING_KEY = "R0UTINGKEY1234567890123456789012"


class PagerDutyEvents:
    def __init__(self):
        self.events = []

    def __call__(self, request):
        body = json.loads(request.content)
        self.events.append(body)
        return httpx2.Response(202, json={"status": "success", "message": "Event processed",
                                          "dedup_key": body.get("dedup_key")})


def test_unknown_critical_drill_pages_with_report_and_chart(fake_slack, fake_jira):
    pd = PagerDutyEvents()
    store = MemoryStore()
    dispatcher = Dispatcher([
        SlackNotifier(SLACK_TOKEN, "#incidents", base_url=fake_slack.url, store=store, environment="drill"),
        PagerDutyNotifier(ROUTING_KEY, transport=httpx2.MockTransport(pd), sleep_timer_s=0.0, environment="drill"),
        JiraNotifier(fake_jira.url, JIRA_USER, JIRA_TOKEN, "INC", store=store),
    ], store=store)
    agents = []

    def factory(fleet, scenario):
        agent = drill.make_agent(fleet, scenario, notifiers=dispatcher)
        agents.append(agent)
        return agent

    suite = drill.run_all(["unknown-latency-collapse"], agent_factory=factory)
    result = suite.results[0]
    assert result.escalated, result.failures
    incident = next(i for i in agents[0].incidents.values() if i.escalated_at)

    # PagerDuty: one trigger, dedup key = the incident fingerprint (stable fields, never LLM text)
    triggers = [e for e in pd.events if e["event_action"] == "trigger"]
    assert len(triggers) == 1 and triggers[0]["dedup_key"] == incident.fingerprint
    assert triggers[0]["payload"]["custom_details"]

    # Slack: one thread whose head names the incident; the chart uploaded into it
    heads = [m for m in fake_slack.messages if not m.get("thread_ts")]
    assert heads and any(incident.service in json.dumps(h) for h in heads)
    assert fake_slack.files, "the chart was not uploaded to Slack"

    # Jira: one ticket with the report, the chart attached
    assert len(fake_jira.issues) == 1
    issue = next(iter(fake_jira.issues.values()))
    assert incident.service in json.dumps(issue)
    assert issue.get("attachments"), "the chart was not attached to the ticket"
