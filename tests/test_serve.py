"""`manage.py serve`: daphne and the background loops in one process, stopped cleanly by a signal.

The loop runner is tested directly; the command itself in a subprocess on a free loopback port, with
its own data dir (file SQLite) — a page, a WebSocket, then SIGTERM / Ctrl-C; and a write lock held by
another connection while tills and screens go on.
"""

import asyncio
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from core import background

ROOT = Path(__file__).resolve().parents[1]


# --- the loop runner ----------------------------------------------------------------------------------


def run_until(stop_when, loops):
    """Run `loops` [(name, step, idle)] until `stop_when()` is true; return when all have stopped."""

    async def main():
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(background.run_loop(n, s, i, stop=stop)) for n, s, i in loops]
        while not stop_when():
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)

    asyncio.run(main())


def test_it_runs_a_step_again_at_once_while_it_finds_work():
    calls = []

    def step():
        calls.append(1)
        return len(calls) < 3  # work, work, nothing

    # After "nothing" the loop would wait an hour: the third call must come without waiting.
    run_until(lambda: len(calls) >= 3, [("test", step, 3600)])
    assert len(calls) == 3


def test_it_stops_a_loop_waiting_for_work_when_asked():
    calls = []
    run_until(lambda: calls, [("idle", lambda: calls.append(1) or False, 3600)])
    assert calls == [1]


def test_it_logs_a_failing_step_and_keeps_going(caplog):
    calls = []

    def step():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("printer on fire")
        return False

    with caplog.at_level(logging.ERROR, logger="core.background"):
        run_until(lambda: len(calls) >= 2, [("flaky", step, 0.01)])
    assert "printer on fire" in caplog.text
    assert len(calls) >= 2


def test_it_skips_a_step_that_does_not_exist(caplog):
    loops = [("missing", "kds.no_such_module.step", 1.0), ("real", "core.background.run_step", 1.0)]
    with caplog.at_level(logging.WARNING, logger="core.background"):
        steps = background.load_steps(loops)
    assert [name for name, _step, _idle in steps] == ["real"]
    assert "kds.no_such_module.step" in caplog.text


# --- the command --------------------------------------------------------------------------------------


def test_it_prints_the_lan_address_tablets_should_open(monkeypatch):
    from io import StringIO

    from config.management.commands.serve import Command

    monkeypatch.setattr("accounts.pairing.lan_addresses", lambda: ["192.168.1.20"])
    out = StringIO()
    Command(stdout=out).print_urls("0.0.0.0", 8000)
    printed = out.getvalue()
    for url in ("http://192.168.1.20:8000/", "/kiosk/", "/kitchen/", "/admin/"):
        assert url in printed
    assert "http://127.0.0.1:8000/" in printed  # the server's own screen, if it has one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "KDS_CLOUD_URL")}
        self.env.update(KDS_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
        self.log = data_dir / "serve.log"
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A session of its own: afterwards, an empty process group proves nothing was left behind.
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited early:\n{self.output()}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/static/brigade/brigade.css", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"serve did not answer:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:  # field 4 of /proc/PID/stat: the parent's pid
                pids.append(int(stat.parent.name))
        return pids

    def group_is_empty(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return True
        return False

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def serve(tmp_path):
    server = Serve(tmp_path / "data")
    yield server
    server.kill()


def test_it_serves_pages_and_websockets_then_stops_cleanly_on_sigterm(serve):
    serve.data_dir.mkdir(parents=True)
    serve.manage("migrate", "--no-input", "-v", "0")
    token = serve.manage("device_token", "Grill screen", "--role", "kds").split()[-1]
    serve.manage("shell", "-c", "from kds.models import Station; Station.objects.create(name='Grill', slug='grill')")
    serve.start()
    serve.wait_until_up()
    base = f"http://127.0.0.1:{serve.port}"

    # A page: an unpaired browser is sent to pairing, which answers.
    with urllib.request.urlopen(f"{base}/") as response:
        assert response.url == f"{base}/pair/"
        assert 'name="token"' in response.read().decode()

    # An unpaired WebSocket is closed with "not paired".
    with ws_connect(f"ws://127.0.0.1:{serve.port}/ws/kds/grill/", open_timeout=10) as unpaired:
        with pytest.raises(ConnectionClosed) as closed:
            unpaired.recv(timeout=10)
    assert closed.value.rcvd.code == 4401

    # A kitchen screen's WebSocket stays open across the stop request.
    screen = ws_connect(
        f"ws://127.0.0.1:{serve.port}/ws/kds/grill/",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=10,
    )
    screen.recv(timeout=10)  # the snapshot: the socket is live
    assert serve.children() == []

    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(timeout=5) == 0, serve.output()
    assert serve.group_is_empty()
    with pytest.raises(ConnectionClosed):
        screen.recv(timeout=5)
    screen.close()
    output = serve.output()
    assert "Kitchen:  http://127.0.0.1:" in output
    assert "Brigade stopped." in output
    assert "Traceback" not in output


def test_it_applies_migrations_and_stops_on_ctrl_c(serve):
    serve.start()  # a data dir without a database: serve migrates it first
    serve.wait_until_up()
    with urllib.request.urlopen(f"http://127.0.0.1:{serve.port}/pair/") as response:
        assert response.status == 200
    serve.process.send_signal(signal.SIGINT)
    assert serve.process.wait(timeout=5) == 0, serve.output()
    assert serve.group_is_empty()
    assert "migration" in serve.output()
    # The start (journaled by the fiscal loop's first pass) and the stop are in the event journal.
    journaled = serve.manage("shell", "--no-imports", "-c", "from fiscal.models import SealedRecord; print(*SealedRecord"
                             ".objects.filter(chain='jet').order_by('seq').values_list('subject', flat=True))")
    assert journaled.split() == ["1", "2"]


def test_it_says_so_and_fails_when_the_port_is_taken(serve):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", serve.port))
        taken.listen()
        serve.start()
        assert serve.process.wait(timeout=60) != 0
    assert "Could not listen" in serve.output()


# --- A back-office transaction holding SQLite's write lock ----------------------------------------------


def api(base: str, token: str, path: str, body: dict | None = None, timeout: float = 30) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method="POST" if body is not None else "GET",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def demo_order(base: str, token: str) -> dict:
    """An entrecôte-frites: the grill (and the fryer, expo) get a ticket."""
    status, menu = api(base, token, "/api/v1/menu/")
    assert status == 200
    items = {item["name"]: item for category in menu["categories"] for item in category["items"]}
    item = items["Entrecôte frites"]
    modifiers = [group["modifiers"][0]["id"] for group in item["modifier_groups"] if group.get("min", 0) >= 1]
    return {"idempotency_key": str(uuid.uuid4()), "order_type": "take_away",
            "lines": [{"item": item["id"], "quantity": 1, "modifiers": modifiers}]}


def test_a_write_lock_held_elsewhere_does_not_freeze_screens_or_tills(serve):
    """A back-office transaction (another connection) holds SQLite's write lock while a till's order
    waits for it: meanwhile kitchen screens still get their frames for what was committed and tills
    still read. Only the order waits, and goes through once the lock is released."""
    serve.data_dir.mkdir(parents=True)
    serve.manage("migrate", "--no-input", "-v", "0")
    serve.manage("demo")
    till_token = serve.manage("device_token", "Lock test till", "--role", "integration").split()[-1]
    screen_token = serve.manage("device_token", "Lock test screen", "--role", "kds").split()[-1]
    serve.start()
    serve.wait_until_up()
    base = f"http://127.0.0.1:{serve.port}"
    screen_url = f"ws://127.0.0.1:{serve.port}/ws/kds/grill/"
    headers = {"Authorization": f"Bearer {screen_token}"}

    status, first = api(base, till_token, "/api/v1/orders/", demo_order(base, till_token))
    assert status == 201
    screen = ws_connect(screen_url, additional_headers=headers, open_timeout=10)
    assert f'data-order-id="{first["id"]}"' in screen.recv(timeout=10)  # the snapshot

    back_office = sqlite3.connect(serve.data_dir / "brigade.sqlite3", isolation_level=None, timeout=30)
    back_office.execute("BEGIN IMMEDIATE")  # the write lock, until the rollback below
    try:
        waiting: dict = {}
        order = threading.Thread(
            target=lambda: waiting.update(answer=api(base, till_token, "/api/v1/orders/", demo_order(base, till_token))))
        order.start()
        time.sleep(1.0)  # the order is now waiting for the lock (it cannot have been written)
        assert "answer" not in waiting

        # A till reads an order.
        status, read = api(base, till_token, f"/api/v1/orders/{first['id']}/", timeout=15)
        assert status == 200 and read["id"] == first["id"]
        # A screen that connects now gets its snapshot; the open one answers its ping.
        with ws_connect(screen_url, additional_headers=headers, open_timeout=15) as late:
            assert f'data-order-id="{first["id"]}"' in late.recv(timeout=15)
        screen.send(json.dumps({"action": "ping"}))
        assert json.loads(screen.recv(timeout=15))["type"] == "pong"

        assert "answer" not in waiting, "the lock was held all along: the order could not be written"
    finally:
        back_office.execute("ROLLBACK")
        back_office.close()

    order.join(30)
    status, second = waiting["answer"]
    assert status == 201
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        frame = screen.recv(timeout=15)
        if f'data-order-id="{second["id"]}"' in frame:
            break
    else:
        raise AssertionError("the order written after the lock never reached the screen")
    screen.close()
    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(timeout=10) == 0, serve.output()
