"""A team's MLflow on this machine: a throwaway PostgreSQL cluster and ``mlflow server`` on 127.0.0.1.

    python -m sdd.report.mlflow_server start [--folder .sdd/mlflow-server] [--port 5001] [--pg-port 15432]
    python -m sdd.report.mlflow_server stop  [--folder .sdd/mlflow-server]
    python -m sdd.report.mlflow_server status

(``make mlflow-server`` / ``make mlflow-server-stop``; docs/team.md, "A shared MLflow server".)

``start`` creates (once) a PostgreSQL cluster in ``<folder>/pg/data`` with Debian's binaries
(:func:`pg_bindir`: ``pg_config --bindir``, else the newest ``/usr/lib/postgresql/<v>/bin``) through
``initdb`` and ``pg_ctl``, listening on 127.0.0.1 only (no Unix socket), with a superuser ``sdd``
whose random password is in ``<folder>/pgpassword`` (mode 600) and a database ``mlflow``. ``initdb``
and ``pg_ctl`` refuse to run as root: as root they run as the unprivileged :data:`PG_USER`
(``$SDD_PG_USER``, default ``postgres``) through ``runuser``, and ``<folder>/pg`` is chowned to it.
Then it starts ``mlflow server`` (its own session, log in ``<folder>/mlflow.log``) with
``postgresql+psycopg://sdd@127.0.0.1:<pg port>/mlflow`` as the backend store (the password reaches the
driver as ``$PGPASSWORD``, not on a command line) and ``<folder>/artifacts`` as the artifact store
it serves (``--serve-artifacts --artifacts-destination``: clients upload through the server, so
they need no access to the folder), bound to 127.0.0.1, waits until ``/health`` answers and prints
the ``MLFLOW_TRACKING_URI`` to export. ``stop`` stops both; the cluster and the artifacts stay in the
folder for the next ``start`` (``rm -rf`` the folder to throw them away).

No MLflow import here (the server is a separate process); MLflow's client is in
:mod:`sdd.report.tracking` only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sdd.core.atomic import write_json, write_text

log = logging.getLogger(__name__)

__all__ = ["PG_USER", "ServerError", "Servers", "pg_bindir", "start", "status", "stop", "tracking_uri"]

DEFAULT_FOLDER = Path(".sdd/mlflow-server")
DEFAULT_PORT = 5001  # `make mlflow-ui` serves the embedded store on 5000
DEFAULT_PG_PORT = 15432
#: The unprivileged user that runs PostgreSQL when this process is root (``initdb`` refuses root).
PG_USER = os.environ.get("SDD_PG_USER", "postgres")
DB_USER, DB_NAME = "sdd", "mlflow"
#: The SQLAlchemy driver of the backend store URI (``postgresql+psycopg://``): psycopg 3, which
#: SQLAlchemy 2.1 also picks for a plain ``postgresql://`` (docs/dependencies.md).
DRIVER = "psycopg"
STATE = "server.json"
HOST = "127.0.0.1"
#: PostgreSQL settings written into the new cluster: TCP on 127.0.0.1 only, no Unix socket (its
#: default folder, /var/run/postgresql, belongs to the system's own cluster).
PG_CONF = "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"


class ServerError(RuntimeError):
    """A server could not be started or stopped; the message is one line saying why."""


@dataclass(frozen=True)
class Servers:
    """What ``start`` started (``<folder>/server.json``)."""

    folder: Path
    port: int
    pg_port: int
    mlflow_pid: int

    @property
    def uri(self) -> str:
        return tracking_uri(self.port)


def tracking_uri(port: int) -> str:
    return f"http://{HOST}:{port}"


def pg_bindir(debian: Path = Path("/usr/lib/postgresql")) -> Path:
    """The folder of Debian's PostgreSQL server binaries (``initdb``, ``pg_ctl``): ``pg_config
    --bindir`` when it holds them, else the newest ``<debian>/<version>/bin``. Raises
    :class:`ServerError` naming what is missing and the package to install."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    if debian.is_dir():
        versions = [p for p in debian.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: int(p.name), reverse=True)]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise ServerError(
        "PostgreSQL's server binaries (initdb, pg_ctl) not found: neither `pg_config --bindir` nor "
        "/usr/lib/postgresql/<version>/bin has them; install Debian's package: apt-get install -y postgresql"
    )


def _as_pg_user(cmd: list[str]) -> list[str]:
    """``cmd`` as :data:`PG_USER` when this process is root (PostgreSQL refuses root), else as is."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        raise ServerError("running as root needs `runuser` (util-linux) to start PostgreSQL as another user")
    return ["runuser", "-u", PG_USER, "--", *cmd]


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ServerError(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc.stdout


def _chown_to_pg_user(path: Path) -> None:
    import pwd

    try:
        user = pwd.getpwnam(PG_USER)
    except KeyError:
        raise ServerError(
            f"running as root: PostgreSQL must run as an unprivileged user, and user {PG_USER!r} "
            "($SDD_PG_USER) does not exist (Debian's postgresql package creates `postgres`)"
        ) from None
    for p in [path, *path.rglob("*")]:
        os.chown(p, user.pw_uid, user.pw_gid)
    probe = subprocess.run(["runuser", "-u", PG_USER, "--", "test", "-w", str(path)], check=False)
    if probe.returncode != 0:
        raise ServerError(
            f"user {PG_USER!r} cannot write {path}: a parent folder is not traversable by it "
            "(mode 700?); choose --folder under a folder it can reach"
        )


def _pg_env(password: str) -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": password}


def _init_cluster(bindir: Path, pg: Path, password: str) -> None:
    """``initdb`` a new cluster in ``pg/data`` (superuser :data:`DB_USER`, password auth on TCP)."""
    pg.mkdir(parents=True, exist_ok=True)
    pwfile = pg / "initdb.pw"
    write_text(pwfile, password + "\n")
    os.chmod(pwfile, 0o600)
    if os.geteuid() == 0:
        _chown_to_pg_user(pg)
    try:
        auth = ["--auth-host=scram-sha-256", "--auth-local=peer"]
        initdb = [str(bindir / "initdb"), "-D", str(pg / "data"), "-U", DB_USER, f"--pwfile={pwfile}", *auth]
        initdb += ["-E", "UTF8", "--no-instructions"]
        _run(_as_pg_user(initdb), "initdb")
    finally:
        pwfile.unlink(missing_ok=True)
    with open(pg / "data" / "postgresql.conf", "a") as f:
        f.write("\n# sdd.report.mlflow_server\n" + PG_CONF)


def _pg_running(bindir: Path, pg: Path) -> bool:
    if not (pg / "data" / "postmaster.pid").exists():
        return False
    cmd = _as_pg_user([str(bindir / "pg_ctl"), "-D", str(pg / "data"), "status"])
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def _mlflow_alive(pid: int) -> bool:
    try:
        return "mlflow" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"{tracking_uri(port)}/health", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _read_state(folder: Path) -> Servers | None:
    path = folder / STATE
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    return Servers(folder, int(d["port"]), int(d["pg_port"]), int(d["mlflow_pid"]))


def start(
    folder: Path = DEFAULT_FOLDER,
    port: int = DEFAULT_PORT,
    pg_port: int = DEFAULT_PG_PORT,
    workers: int = 1,
    timeout_s: float = 180.0,
) -> Servers:
    """Start PostgreSQL (creating the cluster when absent) and ``mlflow server`` on it; return what
    runs. Already running: returns it unchanged. Every failure is a :class:`ServerError` (one line)."""
    folder = folder.resolve()
    running = _read_state(folder)
    if running is not None and _mlflow_alive(running.mlflow_pid) and _healthy(running.port):
        log.info("already running: MLflow %s (PostgreSQL on %s:%d)", running.uri, HOST, running.pg_port)
        return running
    if importlib.util.find_spec(DRIVER) is None:
        raise ServerError(
            f"the PostgreSQL driver {DRIVER} is not installed (requirements.lock: psycopg, psycopg-binary)"
        )
    mlflow_exe = Path(sys.executable).parent / "mlflow"
    if not mlflow_exe.is_file():
        raise ServerError(f"no `mlflow` command beside {sys.executable} (requirements.lock: mlflow)")
    bindir = pg_bindir()
    pg, pwpath = folder / "pg", folder / "pgpassword"
    folder.mkdir(parents=True, exist_ok=True)
    fresh = not (pg / "data" / "PG_VERSION").exists()
    if fresh:
        password = secrets.token_urlsafe(24)
        write_text(pwpath, password + "\n")
        os.chmod(pwpath, 0o600)
        log.info("creating a PostgreSQL cluster in %s (%s)", pg / "data", bindir)
        _init_cluster(bindir, pg, password)
    elif not pwpath.is_file():
        raise ServerError(
            f"{pwpath} missing: the cluster in {pg / 'data'} cannot be reached; rm -rf {folder}"
        )
    password = pwpath.read_text().strip()
    if not _pg_running(bindir, pg):
        _run(
            _as_pg_user([str(bindir / "pg_ctl"), "-D", str(pg / "data"), "-l", str(pg / "postgres.log"),
                         "-o", f"-p {int(pg_port)}", "-w", "-t", "60", "start"]),
            f"pg_ctl start (port {pg_port}; log {pg / 'postgres.log'})",
        )  # fmt: skip
    if fresh:
        _run([str(bindir / "createdb"), "-h", HOST, "-p", str(pg_port), "-U", DB_USER, DB_NAME],
             "createdb", env=_pg_env(password))  # fmt: skip
    (folder / "artifacts").mkdir(exist_ok=True)
    backend = f"postgresql+{DRIVER}://{DB_USER}@{HOST}:{int(pg_port)}/{DB_NAME}"
    cmd = [str(mlflow_exe), "server", "--backend-store-uri", backend, "--serve-artifacts",
           "--artifacts-destination", str(folder / "artifacts"), "--host", HOST, "--port", str(int(port)),
           "--workers", str(int(workers))]  # fmt: skip
    # MLflow 3.17's server also starts a job runner (GenAI scorers, trace archival: about ten processes of
    # ~250 MB each) unless told not to; sdd runs no server jobs. The environment's value wins.
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **_pg_env(password)}
    with open(folder / "mlflow.log", "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)  # fmt: skip
    servers = Servers(folder, int(port), int(pg_port), proc.pid)
    write_json(folder / STATE, {"port": servers.port, "pg_port": servers.pg_port, "mlflow_pid": proc.pid,
                                "uri": servers.uri, "backend": backend})  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while not _healthy(servers.port):
        if proc.poll() is not None:
            tail = " | ".join((folder / "mlflow.log").read_text(errors="replace").strip().splitlines()[-3:])
            raise ServerError(f"mlflow server exited ({proc.returncode}) before answering: {tail}")
        if time.monotonic() > deadline:
            stop(folder)
            raise ServerError(f"mlflow server did not answer {servers.uri}/health within {timeout_s:.0f} s")
        time.sleep(0.5)
    log.info(
        "MLflow %s on PostgreSQL %s:%d, artifacts in %s", servers.uri, HOST, pg_port, folder / "artifacts"
    )
    return servers


def stop(folder: Path = DEFAULT_FOLDER, timeout_s: float = 30.0) -> list[str]:
    """Stop ``mlflow server`` (its process group: SIGTERM, then SIGKILL after ``timeout_s``) and the
    PostgreSQL cluster (``pg_ctl stop -m fast``). Returns what was stopped; nothing running is fine."""
    folder = folder.resolve()
    stopped: list[str] = []
    state = _read_state(folder)
    if state is not None and _mlflow_alive(state.mlflow_pid):
        os.killpg(state.mlflow_pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _mlflow_alive(state.mlflow_pid) and time.monotonic() < deadline:
            try:  # our child when started by this process: reap it
                os.waitpid(state.mlflow_pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if _mlflow_alive(state.mlflow_pid):
            os.killpg(state.mlflow_pid, signal.SIGKILL)
        stopped.append(f"mlflow server {state.uri} (pid {state.mlflow_pid})")
    pg = folder / "pg"
    if (pg / "data" / "postmaster.pid").exists():
        bindir = pg_bindir()
        if _pg_running(bindir, pg):
            _run(_as_pg_user([str(bindir / "pg_ctl"), "-D", str(pg / "data"), "-m", "fast", "-w", "stop"]),
                 "pg_ctl stop")  # fmt: skip
            stopped.append(f"PostgreSQL ({pg / 'data'})")
    return stopped


def status(folder: Path = DEFAULT_FOLDER) -> str:
    folder = folder.resolve()
    state = _read_state(folder)
    up = state is not None and _mlflow_alive(state.mlflow_pid) and _healthy(state.port)
    pg = folder / "pg"
    pg_up = (pg / "data").is_dir() and _pg_running(pg_bindir(), pg)
    mlflow_text = f"MLflow {state.uri} running" if up and state else "MLflow not running"
    return f"{mlflow_text}; PostgreSQL {'running' if pg_up else 'not running'} ({pg / 'data'})"


def _cmd_start(args: argparse.Namespace) -> None:
    servers = start(args.folder, args.port, args.pg_port, args.workers)
    print(f"MLflow server on PostgreSQL; artifacts in {servers.folder / 'artifacts'}")
    print(f"export MLFLOW_TRACKING_URI={servers.uri}")


def _cmd_stop(args: argparse.Namespace) -> None:
    stopped = stop(args.folder)
    print("stopped: " + "; ".join(stopped) if stopped else f"nothing running in {args.folder}")


def _cmd_status(args: argparse.Namespace) -> None:
    print(status(args.folder))


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "start": _cmd_start,
    "stop": _cmd_stop,
    "status": _cmd_status,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m sdd.report.mlflow_server", description=__doc__.split("\n")[0]
    )
    ap.add_argument("command", choices=sorted(COMMANDS))
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help=f"default {DEFAULT_FOLDER}")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"MLflow's port (default {DEFAULT_PORT})")
    ap.add_argument("--pg-port", type=int, default=DEFAULT_PG_PORT, help=f"default {DEFAULT_PG_PORT}")
    ap.add_argument("--workers", type=int, default=1, help="mlflow server's worker processes (default 1)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        COMMANDS[args.command](args)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
