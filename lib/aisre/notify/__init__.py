"""aisre.notify - incident reports, charts, notifiers (Slack, PagerDuty, Jira, console, e-mail, webhook),
the dispatcher that routes and deduplicates, postmortem drafts and weekly reports.

Heavy vendor clients are imported by the modules that need them, so ``import aisre.notify`` stays cheap.
"""
from aisre.notify.base import Notifier
from aisre.notify.dispatch import DispatchResult, Dispatcher, build_dispatcher, build_notifiers
from aisre.notify.postmortem import draft_postmortem
from aisre.notify.report import FORMATS, IncidentReport, build_report, render_report
from aisre.notify.weekly import WeeklyReport, weekly_report

__all__ = ["Notifier", "Dispatcher", "DispatchResult", "build_notifiers", "build_dispatcher", "render_report",
           "build_report", "IncidentReport", "FORMATS", "draft_postmortem", "weekly_report", "WeeklyReport",
           "render_chart", "ConsoleNotifier", "SlackNotifier", "PagerDutyNotifier", "JiraNotifier",
           "EmailNotifier", "WebhookNotifier"]

_LAZY = {"render_chart": "aisre.notify.charts", "ConsoleNotifier": "aisre.notify.console",
         "SlackNotifier": "aisre.notify.slack", "PagerDutyNotifier": "aisre.notify.pagerduty",
         "JiraNotifier": "aisre.notify.jira", "EmailNotifier": "aisre.notify.mail",
         "WebhookNotifier": "aisre.notify.webhook"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aisre.notify' has no attribute {name!r}")
