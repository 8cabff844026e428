"""fetch_new: polls deliver every record exactly once across limits, restarts and failures."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from aisre.errors import SourceDown
from aisre.sources.cursor import cursor_key, fetch_new, load_cursor
from aisre.sources.files import FileTailSource
from aisre.sources.http import RetryPolicy
from aisre.sources.loki import LokiLogSource
from aisre.state import MemoryStore

LOKI = "http://loki.test"
QR = f"{LOKI}/loki/api/v1/query_range"
T0 = 1_700_000_000


class LokiStore:
    """What a Loki server holds; answers query_range like Loki (start inclusive, end exclusive)."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str]] = []
        self.fail = False

    def add(self, t: float, line: str) -> None:
        self.entries.append((int(t * 1e9), line))
        self.entries.sort()

    def __call__(self, request):
        if self.fail:
            return 503, {}, "overloaded"
        q = parse_qs(urlsplit(request.url).query)
        start, end, limit = int(q["start"][0]), int(q["end"][0]), int(q["limit"][0])
        page = [[str(ns), line] for ns, line in self.entries if start <= ns < end][:limit]
        return 200, {}, json.dumps({"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": {"app": "a"}, "values": page}]}})


@pytest.fixture
def loki():
    server = LokiStore()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(responses.GET, QR, callback=server)
        yield server


def poll(src, store, now, **kw):
    return [r.message for r in fetch_new(src, '{app="a"}', store, now=now, **kw).records]


def test_every_record_exactly_once_with_small_limits_and_equal_timestamps(loki):
    for i in range(10):
        loki.add(T0 + i // 3, f"l{i}")              # three records share each second
    src = LokiLogSource(LOKI, page_size=2)
    store = MemoryStore()
    got: list[str] = []
    for _ in range(20):
        got += poll(src, store, T0 + 100, limit=2, initial_lookback_s=200)
    assert got == [f"l{i}" for i in range(10)]
    loki.add(T0 + 150, "late")
    assert poll(src, store, T0 + 200, limit=2) == ["late"]
    assert poll(src, store, T0 + 200, limit=2) == []


def test_cursor_survives_restart_and_failures_do_not_move_it(loki):
    loki.add(T0 + 1, "a")
    store = MemoryStore()
    assert poll(LokiLogSource(LOKI), store, T0 + 10, initial_lookback_s=60) == ["a"]
    loki.add(T0 + 12, "b")
    loki.fail = True
    with pytest.raises(SourceDown):
        poll(LokiLogSource(LOKI, retry=RetryPolicy(attempts=1)), store, T0 + 20)
    assert load_cursor(store, cursor_key("loki", '{app="a"}')).ts == T0 + 10
    loki.fail = False
    assert poll(LokiLogSource(LOKI), store, T0 + 30) == ["b"]        # a new process, same store


def test_settle_time_waits_for_late_indexed_records(loki):
    store = MemoryStore()
    src = LokiLogSource(LOKI)
    assert poll(src, store, T0 + 100, settle_s=30, initial_lookback_s=60) == []
    loki.add(T0 + 80, "indexed late")       # arrives after the poll at T0+100, stamped T0+80
    assert poll(src, store, T0 + 160, settle_s=30) == ["indexed late"]


def test_uncommitted_poll_is_read_again(loki):
    loki.add(T0 + 1, "x")
    store = MemoryStore()
    src = LokiLogSource(LOKI)
    res = fetch_new(src, '{app="a"}', store, now=T0 + 10, initial_lookback_s=60, commit_cursor=False)
    assert [r.message for r in res.records] == ["x"] and res.previous is None
    assert poll(src, store, T0 + 10, initial_lookback_s=60) == ["x"]


def test_file_tail_is_read_directly(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("one\ntwo\n")
    store = MemoryStore()
    src = FileTailSource([str(path)], store, start_at="beginning")
    assert [r.message for r in fetch_new(src, "", store, now=T0).records] == ["one", "two"]
    with open(path, "a") as fh:
        fh.write("two\n")                         # the same text again is a new line, not a duplicate
    assert [r.message for r in fetch_new(src, "", store, now=T0 + 1).records] == ["two"]


def test_commit_after_dispatch_redelivers_until_committed(loki, tmp_path):
    loki.add(T0 + 1, "x")
    store = MemoryStore()
    src = LokiLogSource(LOKI)
    first = fetch_new(src, '{app="a"}', store, now=T0 + 10, initial_lookback_s=60, commit_cursor=False)
    again = fetch_new(src, '{app="a"}', store, now=T0 + 10, initial_lookback_s=60, commit_cursor=False)
    assert [r.message for r in first.records] == [r.message for r in again.records] == ["x"]
    again.commit(store)
    assert poll(src, store, T0 + 20) == []
    # the same contract for the file tail, whose offsets live in the source
    path = tmp_path / "b.log"
    path.write_text("one\n")
    tail = FileTailSource([str(path)], store, start_at="beginning")
    res = fetch_new(tail, "", store, now=T0, commit_cursor=False)
    assert [r.message for r in res.records] == ["one"]
    assert [r.message for r in fetch_new(tail, "", store, now=T0, commit_cursor=False).records] == ["one"]
    fetch_new(tail, "", store, now=T0, commit_cursor=False).commit(store)
    assert list(fetch_new(tail, "", store, now=T0).records) == []
