"""Fiscal fixtures: a signing key per test (never the data dir's), a controllable clock, receipts."""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fiscal import keys, services

# The golden-vector key: a fixed seed, so hashes and signatures are reproducible (Ed25519 is deterministic).
TEST_SEED = bytes(range(32))


@pytest.fixture(autouse=True)
def fiscal_key(settings, tmp_path):
    settings.FISCAL_KEY_PATH = tmp_path / "keys" / "fiscal_ed25519.pem"
    settings.DATA_DIR = tmp_path
    keys.forget_cache()
    yield settings.FISCAL_KEY_PATH
    keys.forget_cache()


@pytest.fixture(autouse=True)
def in_english(settings):
    """Messages are asserted in English, whatever translations the catalogue holds."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def test_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(TEST_SEED)


class Clock:
    """Replaces fiscal.services.now: starts at a fixed lunch time and moves only when told."""

    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def advance(self, **delta) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(datetime(2026, 11, 26, 11, 30, tzinfo=UTC))  # 12:30 in Paris
    monkeypatch.setattr(services, "now", c)
    return c


def money(value) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def receipt_payload(*lines, number=12, day="2026-11-26", method="cash", tips="0.00") -> dict:
    """A receipt as orders builds it: `lines` are (name, quantity, unit_price, vat_rate) tuples."""
    lines = lines or (("Entrecôte", 2, "24.00", "10.00"), ("Café", 1, "2.50", "10.00"))
    out_lines, by_rate = [], {}
    for name, quantity, unit_price, rate in lines:
        total = Decimal(unit_price) * quantity
        out_lines.append({"name": name, "quantity": quantity, "unit_price": money(unit_price), "modifiers": [],
                          "discount": "0.00", "vat_rate": money(rate), "total": money(total)})
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + total
    vat = []
    for rate, total in sorted(by_rate.items()):
        base = (total / (1 + Decimal(rate) / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        vat.append({"rate": money(rate), "base": money(base), "vat": money(total - base), "total": money(total)})
    grand = sum(by_rate.values(), Decimal(0))
    return {
        "order": {"number": number, "business_day": day, "type": "eat_in", "table": "4", "covers": 2, "source": "till"},
        "lines": out_lines, "vat": vat, "discount": "0.00", "total": money(grand),
        "payments": [{"method": method, "amount": money(grand)}], "tips": tips,
    }


@pytest.fixture
def seal(db, clock):
    """seal(n=1, **receipt kwargs) -> list of sealed receipts, one second apart."""

    def _seal(n=1, *, training=False, **kwargs):
        made = []
        for _ in range(n):
            clock.advance(seconds=1)
            made.append(services.seal_receipt(payload=receipt_payload(**kwargs), operator="alice", device="Till 1",
                                              training=training))
        return made

    return _seal
