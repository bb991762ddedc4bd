"""Named personas shared by every test: a manager, server Alice, cook Claude at the grill, devices.

App-specific fixtures live in tests/<app>/conftest.py.
"""

import pytest

from accounts.pins import hash_pin
from accounts.models import Device, User


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, the test database is a file (WAL, as in a restaurant), not Django's default shared
    in-memory one: the server reads in several threads while another writes (core.lanes), and an
    in-memory shared-cache database answers such a read "table is locked" at once instead of serving
    it from the last commit as WAL does."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and not database.get("TEST", {}).get("NAME"):
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The default password hasher costs ~0.4 s a call by design; tests that make users use a cheap one.
    PINs keep their own hasher (accounts.access.PinHasher)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Counters kept in Django's cache (wrong pairing tokens per address, wrong override PINs per
    person and till) name rows by id, and ids come back after each test's rollback."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fresh_redis_receive_locks():
    """channels-redis keeps one asyncio lock per receiving prefix, and a receive cancelled while it
    waits for that lock (a kitchen hub's reader, when the last screen of a group leaves) leaves it
    behind, bound to that test's event loop: the next test's receives would fail on it. A server has
    one loop; each test has its own, so each starts and ends with fresh locks."""
    from channels.layers import get_channel_layer

    def forget():
        layer = get_channel_layer()
        if hasattr(layer, "receive_clean_locks"):
            layer.receive_clean_locks = type(layer.receive_clean_locks)()

    forget()
    yield
    forget()


@pytest.fixture
def sent_synchronously(monkeypatch):
    """Every (group, event type) core.events sent itself rather than handing it to a loop."""
    from core import events

    sent = []
    real = events._send_sync

    def spy(layer, group, event):
        sent.append((group, event["type"]))
        real(layer, group, event)

    monkeypatch.setattr(events, "_send_sync", spy)
    return sent


@pytest.fixture
def manager(db) -> User:
    return User.objects.create_user(
        "marie", password="correct horse battery", first_name="Marie", role=User.Role.MANAGER,
        is_staff=True, pin_hash=hash_pin("9999"),
    )


@pytest.fixture
def alice(db) -> User:
    """A server."""
    return User.objects.create_user("alice", first_name="Alice", role=User.Role.SERVER, pin_hash=hash_pin("1234"))


@pytest.fixture
def claude(db) -> User:
    """A cook."""
    return User.objects.create_user("claude", first_name="Claude", role=User.Role.COOK, pin_hash=hash_pin("4321"))


def _device(name: str, role: str) -> Device:
    device = Device(name=name, role=role)
    device.token = device.set_new_token()  # kept on the instance for tests only
    device.save()
    return device


@pytest.fixture
def till(db) -> Device:
    return _device("Till 1", Device.Role.TILL)


@pytest.fixture
def kiosk(db) -> Device:
    return _device("Kiosk 1", Device.Role.KIOSK)


@pytest.fixture
def kds_screen(db) -> Device:
    return _device("Grill screen", Device.Role.KDS)


@pytest.fixture
def integration(db) -> Device:
    return _device("Delivery partner", Device.Role.INTEGRATION)


@pytest.fixture
def till_client(client, till, alice):
    """A browser on a paired till with Alice logged in."""
    from accounts.access import device_cookie_value
    from django.conf import settings

    client.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(till)
    client.force_login(alice)
    return client
