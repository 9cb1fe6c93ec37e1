"""A real Synapse homeserver, run as a subprocess, for integration tests.

The config is written by hand (no ``--generate-config``) as JSON, which YAML parsers accept, so
no YAML library is needed here. Every rate limit that test users can hit is relaxed, logging goes
to a file in the data dir, and start-up failures raise with the tail of that log.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from tests.support.ports import free_port
from tests.support.session_log import register_secret

DEFAULT_SERVER_NAME = "synapse.test"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

CONFIG_FILE = "homeserver.yaml"
LOG_CONFIG_FILE = "log_config.yaml"
LOG_FILE = "homeserver.log"
# Synapse's own stdout/stderr: catches errors raised before logging is configured.
STDERR_FILE = "synapse.stderr"

# Generous enough that no test is ever throttled, finite so the limiters stay valid.
_RELAXED = {"per_second": 10_000, "burst_count": 100_000}

# Every rate limiter Synapse 1.163 reads (synapse/config/ratelimiting.py) except federation and
# remote media, which tests never reach.
RELAXED_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _RELAXED,
    "rc_registration": _RELAXED,
    "rc_registration_token_validity": _RELAXED,
    "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
    "rc_admin_redaction": _RELAXED,
    "rc_joins": {"local": _RELAXED, "remote": _RELAXED},
    "rc_joins_per_room": _RELAXED,
    "rc_key_requests": _RELAXED,
    "rc_3pid_validation": _RELAXED,
    "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
    "rc_third_party_invite": _RELAXED,
    "rc_media_create": _RELAXED,
    "rc_presence": {"per_user": _RELAXED},
    "rc_delayed_event_mgmt": _RELAXED,
    "rc_room_creation": _RELAXED,
    "rc_reports": _RELAXED,
    "rc_user_directory": _RELAXED,
    "rc_profile": _RELAXED,
}

# A plain, unbuffered FileHandler: Synapse's default buffering handler would hide the last
# lines of a crash from the error message.
_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "formatters": {
        "precise": {
            "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s"
            " - %(message)s"
        }
    },
    "handlers": {
        "file": {
            "class": "logging.FileHandler",
            "formatter": "precise",
            "filename": "",  # filled in per server
            "encoding": "utf8",
        }
    },
    "loggers": {"synapse.storage.SQL": {"level": "INFO"}},
    "root": {"level": "INFO", "handlers": ["file"]},
    "disable_existing_loggers": False,
}


class SynapseError(RuntimeError):
    """Synapse failed to start (or stop); the message carries the tail of its log."""


class SynapseServer:
    """One Synapse process with its own data dir, port and secrets.

    ``start()`` writes the config and waits until the server answers; ``stop()`` ends it;
    ``restart()`` keeps the data dir, port and secrets. Without ``data_dir`` a temp dir is made
    and removed by ``close()`` (or leaving the ``with`` block).
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        server_name: str = DEFAULT_SERVER_NAME,
        app_service_config_files: Sequence[Path | str] = (),
        default_room_version: str | None = None,
        port: int | None = None,
        extra_config: Mapping[str, Any] | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self._owns_data_dir = data_dir is None
        self._data_dir = Path(tempfile.mkdtemp(prefix="synapse-") if data_dir is None else data_dir)
        self._server_name = server_name
        self._app_service_config_files = [str(Path(p).resolve()) for p in app_service_config_files]
        self._default_room_version = default_room_version
        # Chosen once so restart() comes back on the same URL.
        self._port = free_port() if port is None else port
        self._extra_config = dict(extra_config or {})
        self._start_timeout = start_timeout
        self._registration_shared_secret = secrets.token_hex(16)
        register_secret(self._registration_shared_secret)
        self._macaroon_secret_key = secrets.token_hex(16)
        self._form_secret = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    # -- properties -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def server_name(self) -> str:
        return self._server_name

    @property
    def port(self) -> int:
        return self._port

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def registration_shared_secret(self) -> str:
        return self._registration_shared_secret

    @property
    def config_path(self) -> Path:
        return self._data_dir / CONFIG_FILE

    @property
    def log_path(self) -> Path:
        return self._data_dir / LOG_FILE

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle --------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The homeserver config as a dict (what ``start()`` writes)."""
        data = self._data_dir.resolve()
        config: dict[str, Any] = {
            "server_name": self._server_name,
            "public_baseurl": f"{self.url}/",
            "pid_file": str(data / "homeserver.pid"),
            "listeners": [
                {
                    "port": self._port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    # The admin API (shared-secret registration) is served with "client".
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
            "media_store_path": str(data / "media_store"),
            "signing_key_path": str(data / "signing.key"),
            "log_config": str(data / LOG_CONFIG_FILE),
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "macaroon_secret_key": self._macaroon_secret_key,
            "form_secret": self._form_secret,
            "registration_shared_secret": self._registration_shared_secret,
            "enable_registration": False,
            # Password hashing at the default 12 rounds costs ~0.25 s per registered user.
            "bcrypt_rounds": 4,
            "app_service_config_files": list(self._app_service_config_files),
            **RELAXED_RATE_LIMITS,
        }
        if self._default_room_version is not None:
            config["default_room_version"] = self._default_room_version
        config.update(self._extra_config)
        return config

    def _write_config(self) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        log_config = json.loads(json.dumps(_LOG_CONFIG))
        log_config["handlers"]["file"]["filename"] = str(self.log_path.resolve())
        (self._data_dir / LOG_CONFIG_FILE).write_text(json.dumps(log_config, indent=2))
        # JSON is valid YAML, so Synapse reads this file as it is.
        self.config_path.write_text(json.dumps(self.config(), indent=2))

    def start(self) -> None:
        """Write the config, launch Synapse and wait until it serves clients."""
        if self.running:
            raise SynapseError(f"Synapse on port {self._port} is already running")
        self._write_config()
        self._stderr = (self._data_dir / STDERR_FILE).open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self._data_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=subprocess.STDOUT,
        )
        _live_servers.add(self)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                raise SynapseError(
                    f"Synapse exited with code {code} during start-up\n{self.log_tail()}"
                )
            if _answers(f"{self.url}/health") and _answers(f"{self.url}/_matrix/client/versions"):
                return
            if time.monotonic() > deadline:
                raise SynapseError(
                    f"Synapse did not answer on {self.url} within {self._start_timeout:.0f} s\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL if it hangs. Safe to call when not running."""
        process, self._process = self._process, None
        _live_servers.discard(self)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def restart(self) -> None:
        """Stop and start again on the same data dir, port and secrets."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop, and remove the data dir if this object created it."""
        self.stop()
        if self._owns_data_dir:
            shutil.rmtree(self._data_dir, ignore_errors=True)

    def __enter__(self) -> SynapseServer:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- diagnostics ------------------------------------------------------------------------

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of Synapse's log file and of its stderr, for error messages."""
        parts = []
        for name in (LOG_FILE, STDERR_FILE):
            text = _tail(self._data_dir / name, lines)
            if text:
                parts.append(f"--- last lines of {self._data_dir / name} ---\n{text}")
        return "\n".join(parts) or f"(no Synapse log in {self._data_dir})"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SynapseServer {self._server_name} {self.url} {state} {self._data_dir}>"


@contextlib.contextmanager
def running_synapse(data_dir: Path | str | None = None, **options: Any) -> Iterator[SynapseServer]:
    """Start a SynapseServer with the given options for the duration of a ``with`` block.

    For a test that needs a server unlike the session one, e.g.
    ``with running_synapse(tmp_path, default_room_version="11") as hs: ...``.
    """
    server = SynapseServer(data_dir, **options)
    try:
        server.start()
        yield server
    finally:
        server.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 400 * lines))
            data = f.read().decode("utf8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


# Servers still running when the interpreter exits (a test run aborted between start and stop)
# are stopped so they do not outlive pytest.
_live_servers: set[SynapseServer] = set()


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_live_servers):
        server.stop()
