"""Conduct an aisre Orquesta workflow with the real Orquesta engine and scripted action results.

Runs in its own virtualenv (``.venv-orquesta``: ``orquesta==1.2.0``, whose ``jsonschema<3`` pin cannot share
the main venv). Orquesta 1.2.0 predates Python 3.10; three documented shims make it import on 3.11.

stdin:  {"workflow": "<path>", "inputs": {...}, "mocks": {"<task>": [{"status": "succeeded", "result": {...}}, ...]},
         "max_steps": 200}
stdout: {"status": "...", "sequence": [["task", "status"], ...], "output": {...}, "errors": [...], "inspect": {...}}
A task without a mock succeeds with result {"result": {}}; a task's mocks are consumed in order (the last repeats).
"""
import collections
import collections.abc
import fractions
import json
import math
import sys

fractions.gcd = math.gcd
for _n in collections.abc.__all__:
    setattr(collections, _n, getattr(collections.abc, _n))

from orquesta.utils import parameters as _p  # noqa: E402

_p.REGEX_INLINE_PARAMS = _p.REGEX_INLINE_PARAMS.replace("(?i)true", "(?i:true)").replace("(?i)false", "(?i:false)")

import yaml  # noqa: E402
from orquesta import conducting, events, statuses  # noqa: E402
from orquesta.specs import native as native_specs  # noqa: E402


def main():
    req = json.load(sys.stdin)
    with open(req["workflow"]) as fh:
        spec = native_specs.WorkflowSpec(yaml.safe_load(fh))
    app_ctx = {"st2": {"user": "stanley", "action_execution_id": "x", "api_url": "http://st2/api/v1"}}
    errors = spec.inspect(app_ctx=app_ctx, raise_exception=False)
    if errors:
        print(json.dumps({"status": "invalid", "inspect": errors, "sequence": [], "output": None, "errors": []}))
        return
    conductor = conducting.WorkflowConductor(spec, inputs=req.get("inputs", {}), context=app_ctx)
    conductor.request_workflow_status(statuses.RUNNING)
    mocks = {k: list(v) for k, v in req.get("mocks", {}).items()}
    used = {}
    sequence = []
    for _ in range(req.get("max_steps", 200)):
        tasks = conductor.get_next_tasks()
        if not tasks:
            break
        for t in tasks:
            tid, route = t["id"], t["route"]
            script = mocks.get(tid) or [{"status": "succeeded", "result": {"result": {}}}]
            i = used.get(tid, 0)
            step = script[min(i, len(script) - 1)]
            used[tid] = i + 1
            status = step.get("status", "succeeded")
            items = [a for a in t.get("actions", []) if "item_id" in a and a.get("item_id") is not None]
            if items:  # with-items: every item runs the action; the task completes when all are done
                for a in items:
                    conductor.update_task_state(tid, route, events.TaskItemActionExecutionEvent(
                        a["item_id"], statuses.RUNNING))
                for a in items:
                    conductor.update_task_state(tid, route, events.TaskItemActionExecutionEvent(
                        a["item_id"], status, result=step.get("result", {})))
                sequence.append([tid, status, len(items)])
                continue
            conductor.update_task_state(tid, route, events.ActionExecutionEvent(statuses.RUNNING))
            if status == "pending":  # core.ask waiting for a human, then answered
                conductor.update_task_state(tid, route, events.ActionExecutionEvent(statuses.PENDING))
                conductor.request_workflow_status(statuses.RESUMING)
                status = step.get("then", "succeeded")
            conductor.update_task_state(tid, route, events.ActionExecutionEvent(status, result=step.get("result", {})))
            sequence.append([tid, status])
    conductor.render_workflow_output()
    print(json.dumps({"status": conductor.get_workflow_status(), "sequence": sequence,
                      "output": conductor.get_workflow_output(), "errors": conductor.errors, "inspect": {}},
                     default=str))


if __name__ == "__main__":
    main()
