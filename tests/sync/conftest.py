"""Sync fixtures. The cloud receiver runs in the same test database as the store side (their tables
do not overlap), with KDS_ROLE=cloud switched on per test; the store's client reaches it through
`cloud_transport`, a transport that calls Django's test client instead of the network."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client, override_settings

from sync import client as sync_client
from sync.services import register_store


def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(autouse=True)
def fiscal_key_in_tmp(settings, tmp_path):
    """Each test signs with a fresh key in its own temporary data dir, never the developer's var/."""
    from fiscal import keys

    settings.FISCAL_KEY_PATH = tmp_path / "fiscal_ed25519.pem"
    keys.forget_cache()
    yield
    keys.forget_cache()


@pytest.fixture
def cloud_role():
    with override_settings(KDS_ROLE="cloud"):
        yield


@pytest.fixture
def rivoli_key():
    """This store's own signing key (what fiscal seals with), registered with the cloud as Rivoli's."""
    from fiscal import keys

    return keys.private_key()


@pytest.fixture
def rivoli(db, rivoli_key):
    """A store registered with the cloud; `.token` is its bearer token (kept for tests only)."""
    store, token = register_store(name="Bistrot Rivoli", public_key_pem=public_pem(rivoli_key))
    store.token = token
    return store


@pytest.fixture
def bastille(db):
    """A second store, with its own key and token."""
    key = Ed25519PrivateKey.generate()
    store, token = register_store(name="Brasserie Bastille", public_key_pem=public_pem(key))
    store.token, store.key = token, key
    return store


class CloudTransport:
    """A sync transport that posts to the cloud endpoints through Django's test client (KDS_ROLE=cloud
    for the duration of each request). `down = True` makes it behave like a cable pulled out."""

    def __init__(self, token: str):
        self.token = token
        self.client = Client()
        self.down = False
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, body: dict | None = None) -> dict:
        self.calls.append((method, path))
        if self.down:
            raise sync_client.Unreachable("connection refused")
        auth = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        with override_settings(KDS_ROLE="cloud"):
            if method == "GET":
                response = self.client.get(f"/sync/v1/{path}", **auth)
            else:
                response = self.client.post(
                    f"/sync/v1/{path}", data=json.dumps(body), content_type="application/json", **auth
                )
        answer = response.json()
        if response.status_code >= 400:
            raise sync_client.CloudRefused(response.status_code, answer)
        return answer


@pytest.fixture
def configured(settings):
    settings.KDS_CLOUD_URL = "https://cloud.example.test"
    settings.KDS_CLOUD_TOKEN = "unused-by-the-fake-transport"
    return settings


@pytest.fixture
def cloud_transport(rivoli, configured) -> CloudTransport:
    return CloudTransport(rivoli.token)


def insert_sealed(wires: list[dict]) -> None:
    """Put records into this store's fiscal tables as if fiscal had sealed them (rows only)."""
    import datetime

    from fiscal import chain as fc
    from fiscal.models import SealedRecord

    for w in wires:
        SealedRecord.objects.create(
            version=w["v"], chain=w["chain"], seq=w["seq"], type=w["type"], type_seq=w["type_seq"],
            timestamp=fc.parse_timestamp(w["timestamp"]), business_day=datetime.date.fromisoformat(w["business_day"]),
            software_version=w["software_version"], operator=w["operator"], device=w["device"], key_id=w["key_id"],
            flags=",".join(w["flags"]), payload=w["payload"], prev_hash=w["prev_hash"],
            prev_signature=w["prev_signature"], hash=w["hash"], signature=w["signature"],
        )  # fmt: skip


@pytest.fixture
def journaled(monkeypatch) -> list[tuple[int, str]]:
    """Every journal entry sync writes, as (code, message), still passed on to fiscal's journal."""
    from sync import local

    entries = []
    real = local.journal

    def spy(code, *, message, details=None):
        entries.append((code, message))
        real(code, message=message, details=details)

    monkeypatch.setattr(local, "journal", spy)
    return entries
