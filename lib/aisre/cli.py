"""The ``aisre`` command: the same agent outside StackStorm — drills, shadow mode, knowledge base, audit.

    aisre drill <scenario|all> [--seed N] [--html FILE]   incident drills on the simulated fleet
    aisre watch --config FILE [--once]                    shadow mode against real sources (acts on nothing)
    aisre kb ingest DIR | kb search TEXT                  the runbook knowledge base
    aisre audit verify FILE                               check the audit log's hash chain
    aisre config validate FILE                            validate a config file against config.schema.yaml
    aisre health | report ID | postmortem ID | weekly     operating aisre itself
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any, Sequence

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

from aisre import __version__  # noqa: E402
from aisre.errors import SreError  # noqa: E402


def _err(msg: str) -> int:
    print(f"aisre: error: {msg}", file=sys.stderr)
    return 2


# ------------------------------------------------------------------------------------------- drill


def cmd_drill(args: argparse.Namespace) -> int:
    from aisre.analysis import build_analyst
    from aisre.config import load_config
    from aisre.knowledge import build_retriever
    from aisre.sim import drill as drills

    defaults = load_config({})
    retriever = build_retriever(defaults)      # loaded once, shared by every drill
    analyst = build_analyst(defaults)
    agents: list[tuple[str, Any]] = []

    def factory(fleet: Any, scenario: Any) -> Any:
        agent = drills.make_agent(fleet, scenario, mode=args.mode, retriever=retriever, analyst=analyst)
        agents.append((scenario.name, agent))
        return agent

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    names = None if args.scenario == "all" else [args.scenario]
    suite = drills.run_all(names, seed=args.seed, agent_factory=factory, progress=progress)
    if args.scenario != "all" or args.reports:
        from aisre.notify.report import render_report
        for name, agent in agents:
            for incident in sorted(agent.incidents.values(), key=lambda i: i.opened_at):
                incident = agent.correlator.get(incident.id) or incident
                print(f"\n===== {name}: incident {incident.id} =====")
                story = incident_story(incident)
                if story:
                    print(story + "\n")
                print(render_report(incident, "text", environment=agent.config.environment))
    print(suite.table())
    if args.html:
        os.makedirs(os.path.dirname(os.path.abspath(args.html)), exist_ok=True)
        drills.render_html(suite, args.html)
        print(f"HTML report: {args.html}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(suite.to_dict(), fh, indent=2, default=str)
    ok = suite.targets_met() if args.scenario == "all" else all(r.passed for r in suite.results)
    return 0 if ok else 1


def incident_story(incident: Any) -> str:
    """Five lines for the headline of a drill: detected (and how early), runbook, action, verification, outcome."""
    from aisre.models import iso

    def hm(ts: float | None) -> str:
        return iso(ts)[11:16] if ts else "--:--"

    lines = []
    first = min(incident.signals, key=lambda s: s.ts) if incident.signals else None
    trend = next((s for s in sorted(incident.signals, key=lambda s: s.ts) if s.exhaustion_ts), None)
    if first is not None:
        detected = incident.opened_at or first.ts
        text = f"DETECTED  {hm(detected)}  {first.service} {first.name}" + (
            f" {first.anomaly_class.value}" if first.anomaly_class else "")
        if trend is not None:
            ahead = (trend.exhaustion_ts - detected) / 60
            text += f"; forecast to run out at {hm(trend.exhaustion_ts)}: detected {ahead:.0f} min before exhaustion"
        lines.append(text)
    d = incident.diagnosis
    if d is not None:
        lines.append(f"DIAGNOSED {d.classification.value}" + (f", runbook {d.runbook_id} (confidence {d.confidence:.2f})"
                                                              if d.runbook_id else ", no runbook matched"))
    for a in incident.actions:
        lines.append(f"ACTED     {hm(a.started_at)}  {a.action} on {a.service}: {a.status.value}")
    for t in incident.timeline:
        if t.kind in ("verified", "escalated", "resolved"):
            lines.append(f"{t.kind.upper():9s} {hm(t.ts)}  {t.text[:150]}")
    if incident.resolved_at and incident.opened_at:
        lines.append(f"MTTR      {(incident.resolved_at - incident.opened_at) / 60:.0f} min, "
                     f"{'no human woken' if not incident.escalated_at else 'escalated to a human'}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- watch


def cmd_watch(args: argparse.Namespace) -> int:
    from aisre.agent import build_agent
    from aisre.config import load_config
    from aisre.models import Mode
    from aisre.state import FileStore, key

    config = load_config(path=args.config)
    state_path = args.state or os.path.join(".aisre", f"state-{config.environment}.json")
    store = FileStore(state_path)
    store.set(key("mode"), Mode.SHADOW.value)          # shadow mode: record what it would do, act on nothing
    agent = build_agent(config, store=store, executors={}, notifiers=[],
                        audit_path=args.audit or os.path.join(".aisre", "audit.jsonl"))
    os.makedirs(os.path.dirname(os.path.abspath(args.ledger)), exist_ok=True)
    interval = args.interval or float(config.detection.get("poll_interval_s", 60))
    print(f"aisre watch: shadow mode, {len(config.services)} services, every {interval:g}s; ledger {args.ledger}",
          file=sys.stderr)
    written = 0
    while True:
        started = time.time()
        try:
            report = agent.tick()
        except SreError as exc:     # a broken store or source must not end shadow mode: say so, keep going
            print(f"tick failed: {exc}", file=sys.stderr)
            if args.once:
                return 1
            time.sleep(max(0.0, interval - (time.time() - started)))
            continue
        with open(args.ledger, "a", encoding="utf-8") as fh:
            for entry in agent.ledger[written:]:
                fh.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
                print(f"would: {entry['would']} on {entry['service']} ({entry['classification']}, runbook "
                      f"{entry['runbook']}): {'; '.join(entry['reasons'])}", file=sys.stderr)
        written = len(agent.ledger)
        stats = agent.metric_watch.stats
        print(f"tick: {stats.polled} series, {stats.points} points, {len(report.signals)} signals, "
              f"{len(stats.errors)} errors", file=sys.stderr)
        for e in stats.errors[:3]:
            print(f"  source error: {e}", file=sys.stderr)
        if args.once:
            return 0
        time.sleep(max(0.0, interval - (time.time() - started)))


# ------------------------------------------------------------------------------------------- kb


def cmd_kb(args: argparse.Namespace) -> int:
    from aisre import knowledge
    from aisre.config import load_config

    config = load_config(path=args.config) if args.config else load_config({})
    if args.kb_cmd == "ingest":
        report = knowledge.ingest_cli(config, args.dir, store_dir=args.store, out=sys.stderr)
        print(json.dumps(report, indent=2, default=str))
        return 0 if not report.get("errors") else 1
    if args.kb_cmd in ("unmatched", "health"):
        from aisre.knowledge.store import open_store
        store = open_store(config.knowledge)
        if args.kb_cmd == "unmatched":
            rep = knowledge.unmatched_report(store)
            print(json.dumps(rep.to_dict() if hasattr(rep, "to_dict") else rep, indent=2, default=str))
        else:
            for rid, h in sorted(knowledge.runbook_health(store).items()):
                print(f"{rid:28s} {h}")
        return 0
    retriever = knowledge.build_retriever(config)
    res = retriever.search(args.text, k=args.k)
    if not res.matches:
        print("no runbooks matched")
    for i, m in enumerate(res.matches, 1):
        star = "*" if res.best is not None and res.best.runbook_id == m.runbook_id else " "
        accept = f"  acceptance {m.acceptance:.2f}" if m.acceptance is not None else ""
        print(f"{star}{i}. {m.runbook_id:28s} confidence {m.confidence:.2f}{accept}  score {m.score:.3f}  {m.title}")
        for r in m.reasons[:4]:
            print(f"      - {r}")
    print("best match: " + (res.best.runbook_id if res.best else "none (unknown incident: escalate)"))
    return 0


# ------------------------------------------------------------------------------------------- audit, config


def cmd_audit(args: argparse.Namespace) -> int:
    from aisre.policy.audit import AuditLog
    result = AuditLog(args.file).verify()
    if result.ok:
        print(f"audit log OK: {result.count} records, hash chain intact")
        return 0
    print(f"audit log TAMPERED: first bad record seq={result.first_bad_seq}: {result.reason}")
    return 1


def cmd_config(args: argparse.Namespace) -> int:
    from aisre.config import load_config
    cfg = load_config(path=args.file)
    print(f"config OK: environment {cfg.environment}, {len(cfg.services)} services, "
          f"{sum(len(s.metrics) for s in cfg.services)} metric series, mode {cfg.safety.mode}")
    return 0


def _standalone(args: argparse.Namespace) -> tuple[Any, Any]:
    from aisre.config import load_config
    from aisre.runtime import Runtime
    from aisre.state import FileStore

    config = load_config(path=args.config) if args.config else load_config({})
    state = args.state or os.path.join(".aisre", f"state-{config.environment}.json")
    return config, Runtime(config, FileStore(state))


def cmd_health(args: argparse.Namespace) -> int:
    _, rt = _standalone(args)
    result = rt.health(probe_sources=not args.no_probe)
    print(result["text"])
    return 0 if result["ok"] else 1


def cmd_report(args: argparse.Namespace) -> int:
    from aisre.notify.report import render_report
    config, rt = _standalone(args)
    incident = rt.incident(args.incident_id)
    if args.what == "postmortem":
        from aisre.notify.postmortem import draft_postmortem
        print(draft_postmortem(incident, [r for r in rt.audit.records() if r.incident_id == incident.id],
                               environment=config.environment))
    else:
        print(render_report(incident, args.format, environment=config.environment))
    return 0


def cmd_weekly(args: argparse.Namespace) -> int:
    from aisre.notify.weekly import weekly_report
    _, rt = _standalone(args)
    incidents = [rt.correlator.get(k.split(".")[-1]) for k in rt.store.keys("aisre.incident.")]
    rep = weekly_report([i for i in incidents if i is not None], list(rt.audit.records()), now=time.time(),
                        days=args.days)
    print(rep.to_markdown())
    return 0


# ------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aisre", description="Autonomous SRE agent (standalone mode).")
    p.add_argument("--version", action="version", version=f"aisre {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("drill", help="run incident drills against the simulated fleet")
    d.add_argument("scenario", help="scenario name (see lib/aisre/sim/scenarios/) or 'all'")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--mode", default="autonomous", choices=["shadow", "advisory", "limited", "autonomous"])
    d.add_argument("--html", help="write the self-contained HTML report here")
    d.add_argument("--json", help="write the scores as JSON here")
    d.add_argument("--reports", action="store_true", help="print every incident report (default for one scenario)")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    d.set_defaults(fn=cmd_drill)

    w = sub.add_parser("watch", help="shadow mode against real sources: a ledger of what it would do")
    w.add_argument("--config", required=True)
    w.add_argument("--once", action="store_true", help="one poll cycle, then exit")
    w.add_argument("--interval", type=float, help="seconds between polls (default: detection.poll_interval_s)")
    w.add_argument("--ledger", default=os.path.join(".aisre", "ledger.jsonl"))
    w.add_argument("--state", help="state file (default .aisre/state-<environment>.json)")
    w.add_argument("--audit", help="audit log (default .aisre/audit.jsonl)")
    w.set_defaults(fn=cmd_watch)

    k = sub.add_parser("kb", help="runbook knowledge base")
    k.add_argument("--config")
    ksub = k.add_subparsers(dest="kb_cmd", required=True)
    ki = ksub.add_parser("ingest", help="load YAML runbooks and Markdown pages (idempotent)")
    ki.add_argument("dir")
    ki.add_argument("--store", help="Chroma directory (default knowledge.store_dir)")
    ks = ksub.add_parser("search", help="ranked matches with scores and reasons")
    ks.add_argument("text")
    ks.add_argument("-k", type=int, default=5)
    ksub.add_parser("unmatched", help="recorded incidents that matched no runbook (candidates for new runbooks)")
    ksub.add_parser("health", help="per-runbook successes and failures (runbooks flagged for review)")
    k.set_defaults(fn=cmd_kb)

    a = sub.add_parser("audit", help="audit log tools")
    asub = a.add_subparsers(dest="audit_cmd", required=True)
    av = asub.add_parser("verify", help="check the hash chain")
    av.add_argument("file")
    a.set_defaults(fn=cmd_audit)

    c = sub.add_parser("config", help="configuration tools")
    csub = c.add_subparsers(dest="config_cmd", required=True)
    cv = csub.add_parser("validate", help="validate a config file against config.schema.yaml")
    cv.add_argument("file")
    c.set_defaults(fn=cmd_config)
    h = sub.add_parser("health", help="is aisre itself healthy? sensors, sources, LLM, knowledge base, mode")
    h.add_argument("--config")
    h.add_argument("--state", help="state file of `aisre watch` (default .aisre/state-<environment>.json)")
    h.add_argument("--no-probe", action="store_true", help="do not query the sources")
    h.set_defaults(fn=cmd_health)

    for what in ("report", "postmortem"):
        r = sub.add_parser(what, help=f"the {what} of an incident recorded by `aisre watch`")
        r.add_argument("incident_id")
        r.add_argument("--config")
        r.add_argument("--state")
        r.add_argument("--format", default="markdown", choices=["markdown", "text", "html"])
        r.set_defaults(fn=cmd_report, what=what)

    wk = sub.add_parser("weekly", help="weekly report: incidents, auto-resolved share, MTTA/MTTR, recurring problems")
    wk.add_argument("--config")
    wk.add_argument("--state")
    wk.add_argument("--days", type=int, default=7)
    wk.set_defaults(fn=cmd_weekly)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("LiteLLM", "litellm", "httpx", "chromadb", "cmdstanpy", "prophet"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return args.fn(args)
    except SreError as exc:
        return _err(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
