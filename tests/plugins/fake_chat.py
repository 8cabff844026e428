"""Loopback fakes that speak the real wire formats: Slack Web API and Jira Cloud REST v3.

``fake_slack`` (``.url`` ends with ``/api/``, ``.calls``, ``.messages``, ``.files``, ``.fail_next``):
Bearer-token auth, JSON or form bodies, ``{"ok": false, "error": ...}`` answers with HTTP 200 like
Slack (429 + Retry-After for ``ratelimited``), and Slack's own Block Kit validation limits (50 blocks,
3,000 chars per section text, 150 per header, 40,000 chars of ``text``) so a report that breaks
them is rejected here as it would be there. Methods: chat.postMessage, chat.update,
files.getUploadURLExternal + the upload URL + files.completeUploadExternal (what files_upload_v2
calls), conversations.history, conversations.replies, auth.test.

``fake_jira`` (``.url``, ``.issues``, ``.calls``, ``.fail_next``): Basic auth, issue create with an ADF
description (400 with Jira's ``errors`` map for a missing/too-long summary or a non-ADF body),
comments, transitions (GET list / POST by id, 204), attachments (multipart, requires
``X-Atlassian-Token: no-check``), GET issue.
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

SLACK_TOKEN = "xoxb-test-token"
JIRA_USER = "aisre@example.com"
JIRA_TOKEN = "jira-api-token"


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 whose handler calls ``route(method, path, headers, body)``."""

    def __init__(self, route: Callable[[str, str, Any, bytes], tuple[int, dict[str, str], bytes]]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = outer.route(self.command, self.path, self.headers, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.route = route
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="fake-chat", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, json.dumps(data).encode()


# --------------------------------------------------------------------------- Slack


class FakeSlack:
    """State of the fake Slack workspace. ``messages`` keeps every posted message (updates applied)."""

    CHANNELS = {"#incidents": "C0INCIDENT", "incidents": "C0INCIDENT", "#approvals": "C0APPROVAL",
                "approvals": "C0APPROVAL"}

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self._failures: dict[str, list[tuple[str, int]]] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self.lock = threading.Lock()
        self.server = _Server(self._route)
        self.url = self.server.base + "/api/"

    # test helpers ---------------------------------------------------------
    def fail_next(self, method: str, error: str = "internal_error", status: int = 200, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self._failures.setdefault(method, []).extend([(error, status)] * times)

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel and m.get("thread_ts") == ts]

    def called(self, method: str) -> list[dict[str, Any]]:
        return [p for m, p in self.calls if m == method]

    def close(self) -> None:
        self.server.close()

    # wire -----------------------------------------------------------------
    def _params(self, path: str, headers: Any, body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(urlsplit(path).query).items()}
        ctype = (headers.get("Content-Type") or "").lower()
        if body and "json" in ctype:
            params.update(json.loads(body.decode("utf-8")))
        elif body and "x-www-form-urlencoded" in ctype:
            params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()})
        for key in ("blocks", "files", "attachments"):
            if isinstance(params.get(key), str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    params[key] = "<invalid json>"
        return params

    def _route(self, verb: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        route = urlsplit(path).path
        if route.startswith("/upload/v1/"):
            file_id = route.rsplit("/", 1)[-1]
            with self.lock:
                if file_id not in self.files:
                    return 404, {"Content-Type": "text/plain"}, b"unknown upload"
                self.uploads[file_id] = body
            return 200, {"Content-Type": "text/plain"}, f"OK - {len(body)}".encode()
        if not route.startswith("/api/"):
            return 404, {"Content-Type": "text/plain"}, b"not found"
        method = route[len("/api/"):]
        try:
            params = self._params(path, headers, body)
        except (ValueError, UnicodeDecodeError):
            return _json(200, {"ok": False, "error": "invalid_json"})
        with self.lock:
            self.calls.append((method, params))
            if (headers.get("Authorization") or "") != f"Bearer {SLACK_TOKEN}":
                return _json(200, {"ok": False, "error": "invalid_auth" if headers.get("Authorization") else "not_authed"})
            queued = self._failures.get(method)
            if queued:
                error, status = queued.pop(0)
                extra = {"Retry-After": "1"} if status == 429 else {}
                return _json(status, {"ok": False, "error": error}, extra)
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                return _json(200, {"ok": False, "error": "unknown_method"})
            return _json(200, handler(params))

    def _next_ts(self) -> str:
        return f"1764300000.{next(self._ts):06d}"

    def _channel(self, name: Any) -> str | None:
        name = str(name or "")
        if name in self.CHANNELS.values():
            return name
        return self.CHANNELS.get(name)

    @staticmethod
    def _block_error(blocks: Any) -> str | None:
        """Slack's validation: what real Slack rejects with ``invalid_blocks``."""
        if blocks is None:
            return None
        if not isinstance(blocks, list) or len(blocks) > 50:
            return "invalid_blocks"
        for b in blocks:
            if not isinstance(b, dict) or "type" not in b:
                return "invalid_blocks"
            t = b["type"]
            if t == "header" and (b.get("text", {}).get("type") != "plain_text" or len(b["text"].get("text", "")) > 150):
                return "invalid_blocks"
            if t == "section":
                text = b.get("text", {}).get("text", "")
                if len(text) > 3000 or not text:
                    return "invalid_blocks"
            if t == "context":
                els = b.get("elements", [])
                if not els or len(els) > 10 or any(len(e.get("text", "")) > 3000 for e in els):
                    return "invalid_blocks"
            if t == "image" and (not b.get("image_url") or not b.get("alt_text")):
                return "invalid_blocks"
        return None

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "team": "aisre", "user": "aisre-bot", "user_id": "U0BOT"}

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(p.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if len(str(p.get("text") or "")) > 40000:
            return {"ok": False, "error": "msg_too_long"}
        err = self._block_error(p.get("blocks"))
        if err:
            return {"ok": False, "error": err}
        thread_ts = p.get("thread_ts")
        if thread_ts and not any(m["ts"] == thread_ts and m["channel"] == channel for m in self.messages):
            return {"ok": False, "error": "thread_not_found"}
        msg = {"type": "message", "channel": channel, "ts": self._next_ts(), "text": p.get("text", ""),
               "blocks": p.get("blocks") or [], "user": "U0BOT"}
        if thread_ts:
            msg["thread_ts"] = thread_ts
        self.messages.append(msg)
        return {"ok": True, "channel": channel, "ts": msg["ts"],
                "message": {k: v for k, v in msg.items() if k != "channel"}}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = p.get("channel")
        if channel not in self.CHANNELS.values():
            return {"ok": False, "error": "channel_not_found"}
        err = self._block_error(p.get("blocks"))
        if err:
            return {"ok": False, "error": err}
        for msg in self.messages:
            if msg["channel"] == channel and msg["ts"] == p.get("ts"):
                if "text" in p:
                    msg["text"] = p["text"]
                if "blocks" in p:
                    msg["blocks"] = p["blocks"]
                msg["edited"] = msg.get("edited", 0) + 1
                return {"ok": True, "channel": channel, "ts": msg["ts"], "text": msg["text"],
                        "message": {"text": msg["text"], "blocks": msg["blocks"]}}
        return {"ok": False, "error": "message_not_found"}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("filename") or not str(p.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {"id": file_id, "name": p["filename"], "length": int(p["length"]), "completed": False}
        return {"ok": True, "upload_url": f"{self.server.base}/upload/v1/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        out = []
        for f in files:
            meta = self.files.get(f.get("id", ""))
            if meta is None or meta["id"] not in self.uploads:
                return {"ok": False, "error": "file_not_found"}
            meta.update(completed=True, title=f.get("title", meta["name"]))
            out.append({"id": meta["id"], "name": meta["name"], "title": meta["title"], "size": len(self.uploads[meta["id"]])})
        channel = p.get("channel_id")
        if channel:
            if channel not in self.CHANNELS.values():
                return {"ok": False, "error": "channel_not_found"}
            msg = {"type": "message", "subtype": "file_share", "channel": channel, "ts": self._next_ts(),
                   "text": p.get("initial_comment") or "", "files": out, "user": "U0BOT"}
            if p.get("thread_ts"):
                msg["thread_ts"] = p["thread_ts"]
            self.messages.append(msg)
        return {"ok": True, "files": out}

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(p.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        msgs = [m for m in self.messages if m["channel"] == channel and m.get("thread_ts") in (None, m["ts"])]
        return {"ok": True, "messages": [{k: v for k, v in m.items() if k != "channel"} for m in reversed(msgs)],
                "has_more": False}

    def _m_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(p.get("channel"))
        head = next((m for m in self.messages if m["channel"] == channel and m["ts"] == p.get("ts")), None)
        if head is None:
            return {"ok": False, "error": "thread_not_found"}
        replies = [m for m in self.messages if m["channel"] == channel and m.get("thread_ts") == head["ts"]]
        return {"ok": True, "messages": [head, *replies], "has_more": False}


@pytest.fixture
def fake_slack():
    fake = FakeSlack()
    try:
        yield fake
    finally:
        fake.close()


# --------------------------------------------------------------------------- Jira


def _adf_ok(node: Any) -> bool:
    """A minimal ADF check: a doc of typed nodes whose text nodes are non-empty strings."""
    if not isinstance(node, dict) or node.get("type") != "doc" or node.get("version") != 1:
        return False

    def walk(n: Any) -> bool:
        if not isinstance(n, dict) or not isinstance(n.get("type"), str):
            return False
        if n["type"] == "text":
            return isinstance(n.get("text"), str) and bool(n["text"])
        return all(walk(c) for c in n.get("content", []))

    return all(walk(c) for c in node.get("content", []))


class FakeJira:
    """Jira Cloud REST v3 on loopback: issues, comments, transitions, attachments."""

    TRANSITIONS = [{"id": "11", "name": "To Do"}, {"id": "21", "name": "In Progress"}, {"id": "31", "name": "Done"}]

    def __init__(self, project: str = "INC") -> None:
        self.project = project
        self.issues: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self._failures: list[tuple[str, int]] = []
        self._ids = itertools.count(10001)
        self.lock = threading.Lock()
        self.server = _Server(self._route)
        self.url = self.server.base

    def fail_next(self, path_fragment: str, status: int) -> None:
        self._failures.append((path_fragment, status))

    def close(self) -> None:
        self.server.close()

    @staticmethod
    def _error(status: int, messages: list[str], errors: dict[str, str] | None = None):
        return _json(status, {"errorMessages": messages, "errors": errors or {}})

    def _route(self, verb: str, path: str, headers: Any, body: bytes):
        route = urlsplit(path).path
        with self.lock:
            self.calls.append((verb, route, body[:2000]))
            for i, (frag, status) in enumerate(self._failures):
                if frag in route:
                    del self._failures[i]
                    return self._error(status, [f"injected HTTP {status}"])
            expected = "Basic " + base64.b64encode(f"{JIRA_USER}:{JIRA_TOKEN}".encode()).decode()
            if headers.get("Authorization") != expected:
                return 401, {"Content-Type": "text/plain"}, b"Client must be authenticated to access this resource."
            m = re.fullmatch(r"/rest/api/3/issue(?:/([A-Z]+-\d+)(?:/(comment|transitions|attachments))?)?", route)
            if not m:
                return self._error(404, ["No resource found"])
            key, sub = m.group(1), m.group(2)
            if key is None and verb == "POST":
                return self._create(body)
            issue = self.issues.get(key or "")
            if issue is None:
                return self._error(404, ["Issue does not exist or you do not have permission to see it."])
            if sub is None and verb == "GET":
                return _json(200, {"id": issue["id"], "key": key, "fields": issue["fields"]})
            if sub == "comment" and verb == "POST":
                data = json.loads(body or b"{}")
                if not _adf_ok(data.get("body")):
                    return self._error(400, ["Comment body is not valid ADF"])
                comment = {"id": str(next(self._ids)), "body": data["body"]}
                issue["comments"].append(comment)
                return _json(201, comment)
            if sub == "transitions" and verb == "GET":
                return _json(200, {"expand": "transitions", "transitions": [
                    {**t, "to": {"name": t["name"]}} for t in self.TRANSITIONS]})
            if sub == "transitions" and verb == "POST":
                tid = json.loads(body or b"{}").get("transition", {}).get("id")
                t = next((t for t in self.TRANSITIONS if t["id"] == tid), None)
                if t is None:
                    return self._error(400, ["Transition id is not valid for this issue."])
                issue["fields"]["status"] = {"name": t["name"]}
                return 204, {}, b""
            if sub == "attachments" and verb == "POST":
                if headers.get("X-Atlassian-Token") != "no-check":
                    return 403, {"Content-Type": "text/plain"}, b"XSRF check failed"
                ctype = headers.get("Content-Type") or ""
                m2 = re.search(r'filename="([^"]+)"', body[:4000].decode("latin-1"))
                if "multipart/form-data" not in ctype or not m2:
                    return self._error(400, ["Attachment must be multipart with a file part named 'file'"])
                att = {"id": str(next(self._ids)), "filename": m2.group(1), "size": len(body)}
                issue["attachments"].append(att)
                return _json(200, [att])
            return self._error(405, [f"{verb} not allowed here"])

    def _create(self, body: bytes):
        try:
            fields = json.loads(body).get("fields", {})
        except ValueError:
            return self._error(400, ["Unexpected character in JSON body"])
        errors = {}
        if fields.get("project", {}).get("key") != self.project:
            errors["project"] = "Specify a valid project ID or key"
        summary = fields.get("summary")
        if not summary or not isinstance(summary, str):
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255 or "\n" in summary:
            errors["summary"] = "Summary must be less than 255 characters and a single line."
        if not fields.get("issuetype", {}).get("name"):
            errors["issuetype"] = "Specify an issue type"
        if "description" in fields and not _adf_ok(fields["description"]):
            errors["description"] = "Operation value must be an Atlassian Document."
        if any(" " in l for l in fields.get("labels", [])):
            errors["labels"] = "The label can't contain spaces."
        if errors:
            return self._error(400, [], errors)
        n = len(self.issues) + 1
        key = f"{self.project}-{n}"
        iid = str(next(self._ids))
        self.issues[key] = {"id": iid, "fields": {**fields, "status": {"name": "To Do"}}, "comments": [],
                            "attachments": []}
        return _json(201, {"id": iid, "key": key, "self": f"{self.url}/rest/api/3/issue/{iid}"})


@pytest.fixture
def fake_jira():
    fake = FakeJira()
    try:
        yield fake
    finally:
        fake.close()


# --------------------------------------------------------------------------- SMTP


class FakeSMTP:
    """A loopback SMTP server (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT).

    ``.messages`` holds ``(mail_from, [rcpt...], raw_bytes)``; ``reject`` is a set of recipients
    answered with 550. No STARTTLS: clients must be configured with ``starttls=False``.
    """

    def __init__(self) -> None:
        import socketserver

        self.messages: list[tuple[str, list[str], bytes]] = []
        self.reject: set[str] = set()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self) -> None:
                self.reply("220 fake-smtp ESMTP ready")
                mail_from, rcpts = "", []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    cmd = raw.decode("utf-8", "replace").strip()
                    verb = cmd.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-fake-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    elif verb == "HELO":
                        self.reply("250 fake-smtp")
                    elif verb == "MAIL":
                        mail_from, rcpts = cmd.split(":", 1)[1].strip().split(" ")[0].strip("<>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        addr = cmd.split(":", 1)[1].strip().strip("<>")
                        if addr in outer.reject:
                            self.reply("550 no such user")
                        else:
                            rcpts.append(addr)
                            self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        data = b""
                        while True:
                            line = self.rfile.readline()
                            if line in (b".\r\n", b".\n", b""):
                                break
                            data += line[1:] if line.startswith(b"..") else line
                        outer.messages.append((mail_from, rcpts, data))
                        self.reply("250 OK queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 command not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.host, self.port = self.server.server_address
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="fake-smtp", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_smtp():
    fake = FakeSMTP()
    try:
        yield fake
    finally:
        fake.close()
