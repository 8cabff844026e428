"""Real Redis and PostgreSQL 15 servers (Debian packages) on free loopback ports, one per test session.

* ``redis_server`` -> ``redis://127.0.0.1:<port>/0`` (no persistence; killed by pid at teardown).
* ``postgres_server`` -> a libpq DSN for user ``postgres`` on a throwaway cluster made with initdb in a
  temp dir (as the ``postgres`` OS user when running as root, since initdb refuses root); stopped with
  ``pg_ctl -m immediate`` and removed at teardown.

Both skip (or fail under ``AISRE_REQUIRE_SERVICES=1``) when the binary is missing.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from plugins._servers import free_port, require_binary

PG_BIN = "/usr/lib/postgresql/15/bin"


def _wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"server on port {port} did not start in {timeout_s}s")


@pytest.fixture(scope="session")
def redis_server():
    """URL of a running redis-server on a free loopback port."""
    binary = require_binary("redis-server", "/usr/bin/redis-server")
    workdir = tempfile.mkdtemp(prefix="aisre-redis-")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir, "--logfile", os.path.join(workdir, "redis.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]


@pytest.fixture(scope="session")
def postgres_server():
    """DSN of a throwaway PostgreSQL 15 cluster (superuser ``postgres``, trust auth) on a free port."""
    require_binary(f"{PG_BIN}/initdb")
    root = tempfile.mkdtemp(prefix="aisre-pg-")
    data, sock = os.path.join(root, "data"), os.path.join(root, "sock")
    os.makedirs(sock)
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("no postgres OS user to run initdb as")
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = free_port()
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    try:
        subprocess.run(_as_postgres([f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres"]), **run)
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", data, "-l", os.path.join(sock, "pg.log"), "-o",
                                     f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "-w",
                                     "start"]), **run)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"postgres did not start: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5"
    finally:
        subprocess.run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
