"""A throwaway PostgreSQL server for the gradebook tests.

``initdb`` makes a cluster in a fresh folder under the system's temporary folder; ``pg_ctl``
starts ``postgres`` listening only on a Unix socket in that folder (no TCP port, so parallel
test workers never collide); the server is stopped and the folder removed at the end.
PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` system
user that Debian's package creates (``nobody`` without it), through ``setpriv``.

The binaries come from ``PG_BINDIR``, the ``PATH`` or Debian's ``/usr/lib/postgresql/<ver>/bin``
(``make setup`` installs Debian's ``postgresql`` when it runs as root). A missing server is a
skip on a laptop and a failure when the environment variable ``CI`` is set: a CI build that
never exercised the shared gradebook must not pass.

Example::

    with PostgresServer() as server:
        url = server.create_database("gradebook")  # postgresql+psycopg://grader@/gradebook?...
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPERUSER = "grader"
_DATABASE_NUMBERS = itertools.count()  # one fresh database per test on the session's server
INSTALL_HINT = (
    "the PostgreSQL server (initdb, pg_ctl, postgres) is not installed: run `make setup` as "
    "root, or `sudo apt-get install postgresql`, or set PG_BINDIR to its bin folder"
)


class ServerMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``.

    ``PG_BINDIR`` wins; then the ``PATH``; then the newest Debian version folder."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    debian = Path("/usr/lib/postgresql")
    versions = [p for p in debian.glob("*/bin") if (p / "initdb").is_file()]
    if not versions:
        return None
    # numeric order: 9.6 < 10 < 15
    return max(versions, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])


def _server_user() -> str | None:
    """The user the server runs as when we are root (``None``: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ServerMissing("running as root and neither a 'postgres' nor a 'nobody' user exists")


class PostgresServer:
    """One private PostgreSQL cluster; a context manager that starts and removes it.

    Attributes:
        root: the private folder (``data/``, ``server.log`` and the socket ``.s.PGSQL.5432``).
    """

    def __init__(self) -> None:
        bindir = find_bindir()
        if bindir is None or not all((bindir / n).is_file() for n in ("initdb", "pg_ctl")):
            raise ServerMissing(INSTALL_HINT)
        self.bindir = bindir
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="dl-course-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    def _run(self, *argv: str) -> None:
        """Run a server tool as the server's user; raise with its output on failure."""
        prefix = []
        if self.user is not None:
            prefix = ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--init-groups"]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        done = subprocess.run(
            [*prefix, *argv], capture_output=True, text=True, env=env, cwd=self.root, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text()[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{Path(argv[0]).name} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}"
            )

    def start(self) -> None:
        """initdb (trust auth, superuser ``grader``) and start, waiting until it accepts."""
        if self.user is not None:
            shutil.chown(self.root, self.user, self.user)
        self.root.chmod(0o755)  # the socket's folder: reachable by the tests' own user
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        # A test server: durability off (fsync) for speed; a socket only, no TCP.
        options = (
            f"-k {self.root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=60"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "start", "-w", "-t", "60",
            "-D", str(self.data), "-l", str(self.log), "-o", options,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (immediate: a throwaway cluster needs no shutdown checkpoint) and
        remove its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                pg_ctl = str(self.bindir / "pg_ctl")
                self._run(pg_ctl, "stop", "-w", "-m", "immediate", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database on this server, through the Unix socket."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.root}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database, empty or a copy of database ``template`` (which nobody may be
        connected to); return its URL."""
        import psycopg

        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(host=str(self.root), user=SUPERUSER, dbname="postgres") as conn:
            conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def require_server() -> None:
    """Return if the server binaries are here; else fail under CI, skip elsewhere."""
    if find_bindir() is not None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {INSTALL_HINT}", pytrace=False)
    pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One running server for the test session (import this fixture into a test module)."""
    require_server()
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the session's server, named after the test."""
    name = re.sub(r"\W", "_", request.node.name.lower())[:40]
    database = f"t{next(_DATABASE_NUMBERS)}_{name}"
    return postgres_server.create_database(database)
