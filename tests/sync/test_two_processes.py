"""A store and a cloud as two real instances of the same checkout, each with its own data dir and
SQLite file (whatever DATABASE_URL the test run has), talking HTTP on a loopback port — what a
restaurant and its cloud do, minus the internet.

One test, in steps, because each step builds on the state the previous one left."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .conftest import public_pem

BASE_DIR = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]

SEAL = """
from django.db import transaction
from fiscal.services import seal_receipt
payload = {
    "order": {"number": 1, "business_day": "2026-11-26", "type": "eat_in", "table": "4", "covers": 2, "source": "till"},
    "lines": [{"name": "Entrecôte", "quantity": 2, "unit_price": "24.00", "modifiers": ["Saignant"],
               "discount": "0.00", "vat_rate": "10.00", "total": "48.00"}],
    "vat": [{"rate": "10.00", "base": "43.64", "vat": "4.36", "total": "48.00"}],
    "discount": "0.00", "total": "48.00", "payments": [{"method": "cash", "amount": "48.00"}], "tips": "0.00",
}
for n in range(COUNT):
    with transaction.atomic():
        seal_receipt(payload=payload, operator="alice", device="Till 1")
"""

STATE = """
import json
from fiscal.models import SealedRecord
from sync import local
print(json.dumps({
    "heads": {c: {"seq": s, "hash": h} for c, (s, h) in local.heads().items()},
    "journal": [r.data()["code"] for r in SealedRecord.objects.filter(chain="jet").order_by("seq")],
    "tickets": [r.wire() for r in SealedRecord.objects.filter(chain="ticket").order_by("seq")],
}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """One Brigade instance: a data dir, an environment, manage.py commands."""

    def __init__(self, data_dir: Path, role: str, **env):
        data_dir.mkdir()
        self.data_dir = data_dir
        self.db = data_dir / "brigade.sqlite3"
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "KDS_CLOUD_URL", "KDS_CLOUD_TOKEN")
        }
        self.env.update(
            KDS_ROLE=role, KDS_DATA_DIR=str(data_dir), DATABASE_URL=f"sqlite:///{self.db}", LANGUAGE_CODE="en",
            DJANGO_SETTINGS_MODULE="config.settings", LOG_LEVEL="WARNING", **env,
        )  # fmt: skip
        self.server = None

    def manage(self, *args, check=True, stdin=None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*MANAGE, *args], env=self.env, cwd=BASE_DIR, capture_output=True, text=True, timeout=60, input=stdin
        )
        if check and done.returncode != 0:
            raise AssertionError(f"manage.py {args[0]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def shell(self, code: str) -> str:
        return self.manage("shell", "-v0", "-c", code).stdout

    def seal(self, n: int) -> dict:
        """Seal n receipts, then answer the state (one process instead of two)."""
        return json.loads(self.shell(f"COUNT = {n}\n{SEAL}\n{STATE}").strip().splitlines()[-1])

    def state(self) -> dict:
        return json.loads(self.shell(STATE).strip().splitlines()[-1])

    def serve(self, port: int) -> None:
        self.server = subprocess.Popen(
            [*MANAGE, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env, cwd=BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise AssertionError(f"serve exited {self.server.returncode}: {self.server.stderr.read()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/sync/v1/marks/", timeout=1)
            except urllib.error.HTTPError:
                return  # answering (401 without a token): up
            except OSError:
                time.sleep(0.2)
        raise AssertionError("serve did not start within 45 s")

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.server = None

    def backup(self, to: Path) -> None:
        with sqlite3.connect(self.db) as src, sqlite3.connect(to) as dst:
            src.backup(dst)

    def restore(self, frm: Path) -> None:
        with sqlite3.connect(frm) as src, sqlite3.connect(self.db) as dst:
            src.backup(dst)


def api(port: int, token: str, method: str, path: str, body=None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}/sync/v1/{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def instances(tmp_path):
    port = free_port()
    cloud = Instance(tmp_path / "cloud", "cloud")
    store = Instance(tmp_path / "store", "store", KDS_CLOUD_URL=f"http://127.0.0.1:{port}")
    yield store, cloud, port
    cloud.stop()


@pytest.mark.timeout(180)
def test_it_syncs_a_store_to_a_cloud_running_in_another_process(instances, tmp_path):
    store, cloud, port = instances

    # Set-up: the store's key registered on the cloud, the token given to the store.
    migrating = subprocess.Popen([*MANAGE, "migrate", "-v0"], env=store.env, cwd=BASE_DIR)
    cloud.serve(port)  # serve applies the cloud's migrations itself, meanwhile
    assert migrating.wait(timeout=60) == 0
    (tmp_path / "store.pem").write_text(store.manage("fiscal_public_key").stdout)
    token = cloud.manage("store_register", "Bistrot Rivoli", "--public-key-file", str(tmp_path / "store.pem")).stdout
    token = token.strip()
    store.env["KDS_CLOUD_TOKEN"] = token

    # 1. Three receipts, one sync: the cloud's marks are the store's heads.
    store.seal(3)
    done = store.manage("sync", "--once")
    assert "has everything" in done.stdout
    status, marks = api(port, token, "GET", "marks/")
    assert status == 200
    assert marks == store.state()["heads"] and marks["ticket"]["seq"] == 3
    store.backup(tmp_path / "store-after-3.sqlite3")

    # 2. The cloud goes down: sync exits non-zero, the store journals "offline" once, keeps selling.
    cloud.stop()
    store.seal(2)
    down = store.manage("sync", "--once", check=False)
    assert down.returncode == 1 and "unreachable" in down.stderr.lower()
    assert store.state()["journal"].count(70) == 1

    # 3. Back up: everything arrives exactly once, offline/online entries included.
    cloud.serve(port)
    store.manage("sync", "--once")
    state = store.state()
    assert state["journal"].count(71) == 1
    status, marks = api(port, token, "GET", "marks/")
    assert marks == state["heads"] and marks["ticket"]["seq"] == 5
    with sqlite3.connect(cloud.db) as db:  # every record once: as many rows as numbers, per chain
        counts = dict(db.execute("SELECT chain, count(*) FROM sync_receivedrecord GROUP BY chain").fetchall())
    assert counts == {chain: mark["seq"] for chain, mark in marks.items()}

    # 4. Another store's token with these records: refused.
    other = tmp_path / "bastille.pem"
    other.write_text(public_pem(Ed25519PrivateKey.generate()))
    other_token = cloud.manage("store_register", "Brasserie Bastille", "--public-key-file", str(other)).stdout.strip()
    records = state["tickets"]
    status, answer = api(port, other_token, "POST", "records/", {"chain": "ticket", "records": records[:3]})
    assert status == 422 and answer["error"] in ("bad_signature", "broken_link")

    # 5. The store is restored from the backup taken after step 1: receipts 4 and 5 are gone locally.
    #    Its own chain still verifies; the cloud's mark shows the truncated tail.
    store.restore(tmp_path / "store-after-3.sqlite3")
    truncated = store.manage("sync", "--once", check=False)
    assert truncated.returncode == 3 and "truncated" in truncated.stderr
    assert 90 in store.state()["journal"]

    # 6. A new receipt 4 on the restored store is a fork of the cloud's receipt 4: refused loudly.
    forked = store.seal(1)["tickets"][3]
    assert forked["seq"] == 4 and forked["hash"] != records[3]["hash"]
    status, answer = api(port, token, "POST", "records/", {"chain": "ticket", "records": [forked]})
    assert status == 409 and answer["error"] == "fork" and answer["seq"] == 4
    status, marks = api(port, token, "GET", "marks/")
    assert marks["ticket"] == {"seq": 5, "hash": records[4]["hash"]}
