"""Browser tests against a real server: `manage.py serve` (daphne + background loops) on a free
loopback port, a file-based SQLite database in its own data dir, and Debian's Chromium driven by
Playwright.

The tests are black-box: they prepare data with management commands run against the server's data dir
(`manage("demo")`, `manage("device_token", ...)`, `manage("shell", "-c", ...)`) and look only at what a
browser or an API client sees. Each test module gets its own server and database.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.getenv("KDS_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking family of flags Chromium keeps dialling out from a machine
# that has no internet, which slows every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--autoplay-policy=no-user-gesture-required",
]

# Playwright's sync API runs an event loop in this thread; these tests never touch the ORM directly.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """One `manage.py serve` process and its data dir."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    extra_env: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
        env.update(
            KDS_DATA_DIR=str(self.data_dir),
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONUNBUFFERED="1",
            KDS_CLOUD_URL="",
        )
        env.update(self.extra_env)
        return env

    def manage(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        """Run a management command against this server's database; return its stdout."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self) -> None:
        self.log = open(self.data_dir / "serve.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.wait_until_up()

    def wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.read_log()}")
            try:
                urllib.request.urlopen(f"{self.base_url}/static/brigade/brigade.css", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"serve did not answer within {timeout}s:\n{self.read_log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    def kill(self) -> None:
        """Crash the server (kill -9), as a power cut or an OOM kill would."""
        self.stop(signal.SIGKILL)

    def restart(self, *, crash: bool = True) -> None:
        """Stop (by default kill -9) and start again on the same port and data dir."""
        self.kill() if crash else self.stop()
        self.start()

    def read_log(self) -> str:
        path = self.data_dir / "serve.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""


@pytest.fixture(autouse=True)
def _live_server_helper():
    """pytest-django's autouse helper takes any fixture named `live_server` for its own in-process
    server; ours is a separate process, so there is nothing for it to do."""
    yield


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> LiveServer:
    """A migrated, running server with an empty database (load what a test needs with `manage`)."""
    server = LiveServer(data_dir=tmp_path_factory.mktemp("brigade"))
    server.manage("migrate", "--no-input", "-v", "0")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def manage(live_server):
    return live_server.manage


@pytest.fixture(scope="module")
def demo(live_server) -> str:
    """Loads the demo restaurant into the module's server; returns what `demo` printed."""
    return live_server.manage("demo", "--port", str(live_server.port))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "fr-FR", "viewport": {"width": 1280, "height": 800}}


def device_token(manage, name: str, role: str) -> str:
    """Create a device through the CLI and return its token (the last word `device_token` prints)."""
    return manage("device_token", name, "--role", role).strip().split()[-1]


def pair(page, server: LiveServer, token: str) -> None:
    """Pair the page's browser context as a device, the way a manager does it: open the pairing link."""
    page.goto(f"{server.base_url}/pair/?token={token}")


def api(server: LiveServer, token: str, path: str, body: dict | None = None) -> dict:
    """Call the JSON API as a device (GET without a body, POST with one); the answer, parsed."""
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def log_in(page, server: LiveServer, username: str = "alice", pin: str = "1234") -> None:
    """Log a member of staff in by PIN on a paired till, as a server does at the start of service."""
    page.goto(f"{server.base_url}/login/")
    page.click(f'a[data-user="{username}"]')
    page.fill('input[name="pin"]', pin)
    page.click('.pin-form button[type="submit"]')
    page.wait_for_load_state("networkidle")
