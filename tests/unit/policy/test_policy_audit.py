"""Hash-chained audit log: append, verify, tamper/delete/reorder detection, redaction, concurrency."""
import json
import multiprocessing
import threading

from aisre.policy import AuditLog


def lines(path):
    return path.read_text().splitlines()


def write(path, ls):
    path.write_text("".join(l + "\n" for l in ls))


def make(tmp_path, n=5, **kw):
    log = AuditLog(str(tmp_path / "audit.jsonl"), clock=lambda: 1000.0, environment="prod", **kw)
    for i in range(n):
        log.append("decision", f"inc-{i}", {"verdict": "act", "i": i})
    return log, tmp_path / "audit.jsonl"


def test_chain_links_and_verifies(tmp_path):
    log, path = make(tmp_path)
    recs = log.records()
    assert [r.seq for r in recs] == [1, 2, 3, 4, 5]
    assert recs[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(recs, recs[1:]))
    assert recs[0].environment == "prod"
    v = log.verify()
    assert v.ok and v.count == 5 and v.first_bad_seq is None


def test_modified_line_is_detected(tmp_path):
    log, path = make(tmp_path)
    ls = lines(path)
    rec = json.loads(ls[2])
    rec["data"]["verdict"] = "escalate"
    ls[2] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    write(path, ls)
    v = log.verify()
    assert not v.ok and v.first_bad_seq == 3 and "modified" in v.reason


def test_deleted_line_is_detected(tmp_path):
    log, path = make(tmp_path)
    ls = lines(path)
    del ls[1]
    write(path, ls)
    v = log.verify()
    assert not v.ok and v.first_bad_seq == 2


def test_reordered_lines_are_detected(tmp_path):
    log, path = make(tmp_path)
    ls = lines(path)
    ls[1], ls[2] = ls[2], ls[1]
    write(path, ls)
    assert not log.verify().ok


def test_truncated_tail_is_detected_by_the_head(tmp_path):
    log, path = make(tmp_path)
    write(path, lines(path)[:-2])
    v = log.verify()
    assert not v.ok and "end" in v.reason


def test_rehashed_forgery_without_head_update_is_detected(tmp_path):
    from aisre.policy.audit import chain_hash

    log, path = make(tmp_path, n=2)
    ls = [json.loads(l) for l in lines(path)]
    ls[1]["data"]["verdict"] = "escalate"
    ls[1]["hash"] = chain_hash(ls[1]["prev_hash"], ls[1])
    write(path, [json.dumps(r) for r in ls])
    assert not log.verify().ok


def test_garbage_line(tmp_path):
    log, path = make(tmp_path)
    ls = lines(path)
    ls[0] = "{not json"
    write(path, ls)
    v = log.verify()
    assert not v.ok and v.first_bad_seq == 1


def test_secrets_never_written(tmp_path):
    log = AuditLog(str(tmp_path / "a.jsonl"), secrets=["hunter2-xyz"],
                   redactor=lambda s: s.replace("4111111111111111", "[CARD]"))
    log.append("action", "inc", {"token": "abc123", "headers": {"Authorization": "Bearer zzz"},
                                 "db": {"password": "p4ss", "user": "app"},
                                 "note": "dsn used hunter2-xyz", "card": "4111111111111111", "api_key": "k-1"})
    text = (tmp_path / "a.jsonl").read_text()
    for secret in ("abc123", "zzz", "p4ss", "hunter2-xyz", "4111111111111111", "k-1"):
        assert secret not in text
    assert '"user":"app"' in text and log.verify().ok


def test_concurrent_threads_keep_one_chain(tmp_path):
    log = AuditLog(str(tmp_path / "a.jsonl"))

    def worker(i):
        for j in range(20):
            log.append("action", f"inc-{i}", {"j": j})

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    v = log.verify()
    assert v.ok and v.count == 160


def _proc_writer(path, i):
    log = AuditLog(path)
    for j in range(25):
        log.append("action", f"p{i}", {"j": j})


def test_concurrent_processes_keep_one_chain(tmp_path):
    path = str(tmp_path / "a.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_proc_writer, args=(path, i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    v = AuditLog(path).verify()
    assert v.ok and v.count == 100


def test_empty_log_verifies(tmp_path):
    v = AuditLog(str(tmp_path / "none.jsonl")).verify()
    assert v.ok and v.count == 0
