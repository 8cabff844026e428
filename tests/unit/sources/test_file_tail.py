"""FileTailSource: persisted offsets, rotation, truncation, bad bytes, huge lines, partial lines."""
from __future__ import annotations

import json
import os

import pytest

from aisre.errors import BadQuery
from aisre.sources.files import TRUNCATION_MARKER, FileTailSource
from aisre.state import FileStore, MemoryStore


def append(path, data: bytes | str) -> None:
    with open(path, "ab") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


@pytest.fixture
def log(tmp_path):
    return str(tmp_path / "app.log")


def tail(log, store=None, **kw):
    kw.setdefault("start_at", "beginning")
    return FileTailSource([log], store if store is not None else MemoryStore(), clock=lambda: 1000.0, **kw)


def messages(batch):
    return [r.message for r in batch]


def test_reads_new_lines_only_and_survives_restart(log, tmp_path):
    store = FileStore(str(tmp_path / "state.json"))
    append(log, "one\ntwo\n")
    assert messages(tail(log, store).fetch()) == ["one", "two"]
    append(log, "three\n")
    src2 = tail(log, store)                       # a new process: offset comes from the store
    assert messages(src2.fetch()) == ["three"]
    assert messages(src2.fetch()) == []
    saved = json.loads(store.get(src2.state_key(log)))
    assert saved["offset"] == os.path.getsize(log)


def test_start_at_end_skips_history_of_a_new_file(log):
    append(log, "old\n" * 5)
    src = tail(log, start_at="end")
    assert messages(src.fetch()) == []
    append(log, "new\n")
    assert messages(src.fetch()) == ["new"]


def test_partial_line_waits_for_its_newline(log):
    src = tail(log)
    append(log, "complete\nhalf of a li")
    assert messages(src.fetch()) == ["complete"]
    append(log, "ne\n")
    assert messages(src.fetch()) == ["half of a line"]


def test_rename_rotation_drains_the_old_file_first(log):
    src = tail(log)
    append(log, "a1\n")
    assert messages(src.fetch()) == ["a1"]
    append(log, "a2\na3-no-newline")
    os.rename(log, log + ".1")
    append(log, "b1\n")
    assert messages(src.fetch()) == ["a2", "a3-no-newline", "b1"]
    append(log, "b2\n")
    assert messages(src.fetch()) == ["b2"]


def test_copytruncate_restarts_at_zero(log):
    src = tail(log)
    append(log, "x" * 50 + "\n")
    src.fetch()
    with open(log, "wb") as fh:
        fh.write(b"after truncate\n")
    assert messages(src.fetch()) == ["after truncate"]


def test_replaced_file_at_same_size_is_detected_by_its_first_bytes(log):
    src = tail(log)
    append(log, "first version line\n")
    src.fetch()
    with open(log, "r+b") as fh:             # same inode, rewritten content, then grown
        fh.write(b"second version line\nmore\n")
    assert messages(src.fetch()) == ["second version line", "more"]


def test_invalid_utf8_becomes_replacement_characters(log):
    src = tail(log)
    append(log, b"caf\xc3\xa9 ok\nbad \xff\xfe bytes\n")
    assert messages(src.fetch()) == ["café ok", "bad \ufffd\ufffd bytes"]


def test_huge_line_is_truncated_with_a_marker_and_the_rest_skipped(log):
    src = tail(log, max_line_bytes=1024)
    append(log, "before\n" + "x" * 5000 + "\nafter\n")
    batch = src.fetch()
    assert messages(batch)[0] == "before" and messages(batch)[2] == "after"
    cut = batch[1]
    assert cut.message == "x" * 1024 + TRUNCATION_MARKER.format(limit=1024)
    assert cut.attributes["truncated"] is True


def test_huge_line_still_being_written_is_skipped_across_fetches(log):
    src = tail(log, max_line_bytes=100)
    append(log, "y" * 300)                           # no newline yet
    assert [r.attributes.get("truncated") for r in src.fetch()] == [True]
    append(log, "y" * 300 + "\nnext\n")
    assert messages(src.fetch()) == ["next"]


def test_default_line_cap_is_one_mebibyte_and_memory_stays_bounded(log):
    src = tail(log)
    append(log, "z" * (3 * 1024 * 1024) + "\nok\n")
    batch = src.fetch()
    assert len(batch[0].message) == 1024 * 1024 + len(TRUNCATION_MARKER.format(limit=1024 * 1024))
    assert messages(batch)[1] == "ok"


def test_limit_and_byte_budget_leave_the_rest_for_the_next_fetch(log):
    src = tail(log, max_bytes_per_fetch=40)
    append(log, "".join(f"line {i:02d}\n" for i in range(10)))   # 8 bytes each
    first = src.fetch(limit=3)
    assert messages(first) == ["line 00", "line 01", "line 02"] and first.truncated
    second = src.fetch()
    assert messages(second) == [f"line {i:02d}" for i in range(3, 8)] and second.truncated
    assert messages(src.fetch()) == ["line 08", "line 09"]


def test_query_filters_lines_and_parses_time_level_service(log):
    src = FileTailSource({log: "checkout"}, MemoryStore(), start_at="beginning", clock=lambda: 1000.0)
    append(log, '2023-11-14T22:13:20Z ERROR payment failed\n'
                'debug noise\n'
                '{"ts": 1700000005, "level": "warn", "msg": "slow", "service": "pay"}\n')
    batch = src.fetch("ERROR|slow")
    assert [(r.ts, r.level, r.service) for r in batch] == [(1_700_000_000.0, "error", "checkout"),
                                                            (1_700_000_005.0, "warning", "checkout")]
    assert messages(src.fetch()) == []                # the filtered-out line was consumed too
    with pytest.raises(BadQuery):
        src.fetch("(unclosed")


def test_missing_file_is_empty_until_it_appears(log):
    src = tail(log)
    assert list(src.fetch()) == []
    append(log, "hello\n")
    assert messages(src.fetch()) == ["hello"]
    assert src.fetch().truncated is False


def test_unreadable_file_is_source_down_and_corrupt_cursor_is_state_error(log, tmp_path):
    from aisre.errors import SourceDown, StateError

    folder = tmp_path / "a_directory.log"
    folder.mkdir()
    with pytest.raises(SourceDown):
        tail(str(folder)).fetch()      # open() fails (IsADirectoryError) even as root
    append(log, "x\n")
    store = MemoryStore()
    src = tail(log, store)
    store.set(src.state_key(log), "{not json")
    with pytest.raises(StateError):
        src.fetch()
