"""Routine log lines: what the acceptance model must not lift (``text.routine_log_lines``)."""
import pytest

from aisre.knowledge.text import routine_log_lines


@pytest.mark.parametrize("text", [
    "2026-12-05T01:00:00Z INFO request completed path=/api/v1/items status=200 duration_ms=21",
    "2026-12-05 01:00:00,123 DEBUG [main] c.a.Pool - pool stats active=3 idle=7\n"
    "2026-12-05 01:00:05,001 INFO  [main] c.a.Api - GET /health 200 2ms",
    '{"ts":"2026-12-05T01:00:00Z","level":"info","msg":"cache warmed","keys":48211}',
    "Dec  5 01:00:00 web-1 nginx[812]: NOTICE signal process started\n\n",
])
def test_healthy_output_is_routine(text):
    assert routine_log_lines(text)


@pytest.mark.parametrize("text", [
    "",                                                                           # nothing at all
    "checkout is slow since this morning",                                        # prose
    "Notice: SAP maintenance window Saturday 22:00-02:00",                        # a notice, not a log line
    "INFO request completed status=200",                                          # no timestamp
    "2026-12-05T01:00:00Z INFO request completed status=200\n"
    "2026-12-05T01:00:01Z ERROR pool exhausted",                                  # one bad line spoils it
    "2026-12-05T01:00:00Z INFO GET /api/items 503 12ms",                          # a 5xx at INFO
    "2026-12-05T01:00:00Z INFO Maximum number of threads (200) created for connector",
    "2026-12-05 04:41:03 INFO kernel: task kworker/u16:2 blocked for more than 120 seconds",
    "2026-12-05T01:00:00Z INFO retrying connection to db-primary (attempt 4)",
    "2026-12-05T01:00:00Z INFO request completed\nsomething went wrong with the batch",  # a line that is no log
])
def test_anything_worth_a_look_is_not_routine(text):
    assert not routine_log_lines(text)
