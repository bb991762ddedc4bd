"""fiscal/chain.py without a database: canonical bytes, golden vectors, and the verifier's tamper cases."""

import json
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fiscal import chain as fc
from fiscal.verifier import verify_chain

SEED = bytes(range(32))

# A receipt as the orders app hands it over (Decimal strings, one Decimal object, two VAT rates).
PAYLOAD = {
    "order": {"number": 12, "business_day": "2026-11-26", "type": "eat_in", "table": "4", "covers": 2, "source": "till"},
    "lines": [
        {"name": "Entrecôte", "quantity": 2, "unit_price": "24.00", "modifiers": ["Saignant"], "discount": "0.00",
         "vat_rate": "10.00", "total": "48.00"},
        {"name": "Coca-Cola", "quantity": 1, "unit_price": Decimal("4.50"), "modifiers": [], "discount": "0.00",
         "vat_rate": "20.00", "total": "4.50"},
    ],
    "vat": [{"rate": "10.00", "base": "43.64", "vat": "4.36", "total": "48.00"},
            {"rate": "20.00", "base": "3.75", "vat": "0.75", "total": "4.50"}],
    "discount": "0.00", "total": "52.50",
    "payments": [{"method": "cash", "amount": "50.00"}, {"method": "card", "amount": "2.50"}], "tips": "1.00",
}

# Computed once with the seed above and checked in: any change to canonicalisation, hashing or signing
# breaks these (and then every archive and cloud copy already written would stop verifying).
GOLDEN_PUBLIC_KEY = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
GOLDEN_KEY_ID = "56475aa75463474c"
GOLDEN_GENESIS = "b6974769a5c39d8a0bba81e428249e1f1426809d188055ea8b3f8d4531b3ecd8"
GOLDEN_PAYLOAD = (
    '{"discount":0,"grand_total":{"absolute":5250,"by_rate":{"1000":4800,"2000":450},"total":5250},'
    '"lines":[{"discount":0,"modifiers":["Saignant"],"name":"Entrecôte","quantity":2,"total":4800,'
    '"unit_price":2400,"vat_rate":1000},{"discount":0,"modifiers":[],"name":"Coca-Cola","quantity":1,'
    '"total":450,"unit_price":450,"vat_rate":2000}],"order":{"business_day":"2026-11-26","covers":2,'
    '"number":12,"source":"till","table":"4","type":"eat_in"},"payments":[{"amount":5000,"method":"cash"},'
    '{"amount":250,"method":"card"}],"tips":100,"total":5250,"vat":[{"base":4364,"rate":1000,"total":4800,'
    '"vat":436},{"base":375,"rate":2000,"total":450,"vat":75}]}'
)
GOLDEN_HEADER = (
    '{"business_day":"2026-11-26","chain":"ticket","device":"Till 1","flags":[],"key_id":"56475aa75463474c",'
    '"operator":"alice","prev_hash":"b6974769a5c39d8a0bba81e428249e1f1426809d188055ea8b3f8d4531b3ecd8",'
    '"prev_signature":"","seq":1,"software_version":"0.1.0","timestamp":"2026-11-26T11:30:00.000000Z",'
    '"type":"sale","type_seq":1,"v":1}'
)
GOLDEN_HASH_1 = "f925d65cebb65c2826f0e249af54881376243e094772cc979e81ea345b412ea4"
GOLDEN_SIGNATURE_1 = (
    "ad331f97e8faf4cadad70e47fe0710097ca64336a53b965ae4b321b757858a45"
    "979c32bf545e52bf6ccd194bbefb50096d76c99e35b5a58b92c3f455e8a74e0d"
)
GOLDEN_HASH_2 = "5ab0029a886cf6f286cdeff06ea7db3c65aff1c34df93da79e12f4ac2c872a2b"
GOLDEN_SIGNATURE_2 = (
    "6c36bf8e44d05db23c7accb20afa6e53ac0222d46bfe9ffb0c647c56a9ea541a"
    "5d6ec71f2863307ef081393c6e8a93d534937c2580b3a3ca6dbda583ecd32a09"
)


@pytest.fixture
def key():
    return Ed25519PrivateKey.from_private_bytes(SEED)


def build_chain(key, n, *, chain="ticket", payload=PAYLOAD, start_minute=0, mutate=None):
    """n sealed wire records of one chain, as the services would make them (one minute apart)."""
    public = key.public_key()
    records, prev_hash, prev_sig, grand = [], fc.genesis_hash(chain, public), "", fc.zero_grand_total()
    body = fc.canonical_payload(payload)
    for seq in range(1, n + 1):
        p = dict(body)
        if chain in fc.TOTAL_CHAINS:
            grand = fc.add_to_grand_total(grand, p)
            p["grand_total"] = grand
        minute = start_minute + seq - 1
        header = {
            "v": 1, "chain": chain, "seq": seq, "type": fc.TYPES[chain][0], "type_seq": seq,
            "timestamp": f"2026-11-26T{11 + (30 + minute) // 60:02d}:{(30 + minute) % 60:02d}:00.000000Z",
            "business_day": "2026-11-26", "software_version": "0.1.0", "operator": "alice", "device": "Till 1",
            "key_id": fc.key_id(public), "flags": [], "prev_hash": prev_hash, "prev_signature": prev_sig,
        }
        if mutate:
            mutate(seq, header, p)
        text = fc.canonical_json(p)
        digest, signature = fc.seal(header, text, key)
        records.append(dict(header, payload=text, hash=digest, signature=signature))
        prev_hash, prev_sig = digest, signature
    return records


def reseal(records, from_index, key, change=None):
    """Rewrite records[from_index:] consistently (links and hashes) and sign them with `key`."""
    records = [dict(r) for r in records]
    for i in range(from_index, len(records)):
        r = records[i]
        if i == from_index and change:
            change(r)
        if i > 0:
            r["prev_hash"], r["prev_signature"] = records[i - 1]["hash"], records[i - 1]["signature"]
        r["hash"], r["signature"] = fc.seal(fc.header_of(r), r["payload"], key)
    return records


def test_it_matches_the_golden_vectors(key):
    public = key.public_key()
    assert fc.raw_public_bytes(public).hex() == GOLDEN_PUBLIC_KEY
    assert fc.key_id(public) == GOLDEN_KEY_ID
    assert fc.genesis_hash("ticket", public) == GOLDEN_GENESIS
    first, second = build_chain(key, 2, start_minute=0)
    assert first["payload"] == GOLDEN_PAYLOAD
    assert fc.canonical_json(fc.header_of(first)) == GOLDEN_HEADER
    assert first["hash"] == GOLDEN_HASH_1
    assert first["signature"] == GOLDEN_SIGNATURE_1
    assert second["prev_hash"] == GOLDEN_HASH_1 and second["prev_signature"] == GOLDEN_SIGNATURE_1
    assert second["hash"] == GOLDEN_HASH_2
    assert second["signature"] == GOLDEN_SIGNATURE_2


def test_it_turns_amounts_into_cents_and_refuses_floats():
    assert fc.to_cents("12.50") == 1250
    assert fc.to_cents(Decimal("0.05")) == 5
    assert fc.to_cents(-3) == -300
    assert fc.to_hundredths("5.50") == 550
    with pytest.raises(ValueError):
        fc.to_cents("12.505")
    with pytest.raises(TypeError):
        fc.canonical_payload({"total": 12.5})
    with pytest.raises(TypeError):
        fc.canonical_payload({"note": 0.1})
    assert fc.cents_to_str(-5) == "-0.05"
    assert fc.cents_to_str(123456) == "1234.56"


def test_it_refuses_a_receipt_whose_vat_does_not_add_up():
    bad = fc.canonical_payload(dict(PAYLOAD, total="52.60"))
    with pytest.raises(ValueError):
        fc.check_receipt_payload(bad)
    fc.check_receipt_payload(fc.canonical_payload(PAYLOAD))


def test_it_verifies_a_good_chain_in_both_modes(key):
    records = build_chain(key, 300)
    for strict in (False, True):
        result = verify_chain(records, key.public_key(), strict=strict)
        assert result.ok and result.count == 300 and result.first_error is None
        assert (result.last_seq, result.last_hash) == (300, records[-1]["hash"])


def test_it_accepts_a_pem_public_key_and_a_mid_chain_start(key):
    records = build_chain(key, 100)
    pem = fc.public_key_pem(key.public_key())
    assert verify_chain(records[40:], pem, start=(40, records[39]["hash"])).ok
    assert verify_chain(records[40:], pem, start=(40, records[39]["hash"], records[39]["signature"])).ok
    assert verify_chain(records[40:], pem, start=records[39]).ok
    wrong = verify_chain(records[40:], pem, start=(40, records[38]["hash"]))
    assert wrong.first_error == ("ticket", 41, "broken link: prev_hash is not the previous record's hash")


def test_it_names_an_edited_amount(key):
    records = build_chain(key, 50)
    payload = json.loads(records[20]["payload"])
    payload["total"] = 100
    records[20]["payload"] = fc.canonical_json(payload)
    result = verify_chain(records, key.public_key())
    assert not result.ok
    assert result.first_error[:2] == ("ticket", 21)
    assert "hash mismatch" in result.first_error[2]
    assert result.count == 20


def test_it_names_a_deleted_middle_record(key):
    records = build_chain(key, 50)
    del records[24]
    result = verify_chain(records, key.public_key())
    assert result.first_error == ("ticket", 26, "sequence gap: record 25 is missing")


def test_it_names_swapped_records(key):
    records = build_chain(key, 50)
    records[10], records[11] = records[11], records[10]
    assert verify_chain(records, key.public_key()).first_error[:2] == ("ticket", 12)
    # the same swap done by renumbering: the content of 12 now sits under number 11
    records = build_chain(key, 50)
    records[10], records[11] = dict(records[11], seq=11), dict(records[10], seq=12)
    result = verify_chain(records, key.public_key())
    assert result.first_error[:2] == ("ticket", 11)


def test_it_names_a_forged_inserted_record(key):
    records = build_chain(key, 50)
    forger = Ed25519PrivateKey.generate()
    forged = dict(records[29], seq=31, type_seq=31, prev_hash=records[29]["hash"],
                  prev_signature=records[29]["signature"])
    forged_list = records[:30] + [forged] + [dict(r, seq=r["seq"] + 1, type_seq=r["type_seq"] + 1) for r in records[30:]]
    # the forger recomputes hashes and links but can only sign with their own key
    forged_list = reseal(forged_list, 30, forger)
    result = verify_chain(forged_list, key.public_key())
    assert result.first_error[:2] == ("ticket", 31)


def test_it_names_the_first_record_of_a_chain_recomputed_without_the_key(key):
    records = build_chain(key, 200)

    def cheaper(r):
        p = json.loads(r["payload"])
        p["lines"][0]["total"] = 0
        r["payload"] = fc.canonical_json(p)

    forged = reseal(records, 137, Ed25519PrivateKey.generate(), change=cheaper)
    for strict in (False, True):
        result = verify_chain(forged, key.public_key(), strict=strict)
        assert result.first_error == ("ticket", 138, "bad signature (record altered or forged without the key)")
        assert result.count == 137


def test_it_names_a_replaced_signature_even_when_everything_after_is_resealed(key):
    records = build_chain(key, 100)
    records[70]["signature"] = "00" * 64
    result = verify_chain(records, key.public_key())
    assert result.first_error[:2] == ("ticket", 71)


def test_it_names_a_wrong_perpetual_grand_total_even_when_signed(key):
    """Software holding the key but adding wrongly (or a forged total re-signed with the key) is caught
    by the grand-total progression."""

    def skim(seq, header, payload):
        if seq == 7:
            payload["grand_total"] = dict(payload["grand_total"], total=payload["grand_total"]["total"] - 100)

    records = build_chain(key, 10, mutate=skim)
    result = verify_chain(records, key.public_key())
    assert result.first_error[:2] == ("ticket", 7)
    assert "perpetual grand total" in result.first_error[2]


def test_it_requires_the_clock_flag_for_a_timestamp_going_backwards(key):
    def back(seq, header, payload):
        if seq == 5:
            header["timestamp"] = "2026-11-26T10:00:00.000000Z"  # before 11:30

    result = verify_chain(build_chain(key, 8, mutate=back), key.public_key())
    assert result.first_error[:2] == ("ticket", 5)
    assert "clock_back" in result.first_error[2]

    def flagged(seq, header, payload):
        back(seq, header, payload)
        if seq == 5:
            header["flags"] = ["clock_back"]

    assert verify_chain(build_chain(key, 8, mutate=flagged), key.public_key()).ok


def test_it_refuses_a_record_signed_by_an_unknown_key(key):
    other = Ed25519PrivateKey.generate()
    records = build_chain(other, 3)
    result = verify_chain(records, key.public_key())
    assert not result.ok and result.first_error[1] == 1
    # a keyring with both keys (after a rotation) accepts it
    assert verify_chain(records, fc.Keyring([key.public_key(), other.public_key()])).ok


def test_it_reports_malformed_records_instead_of_crashing(key):
    records = build_chain(key, 3)
    del records[1]["payload"]
    result = verify_chain(records, key.public_key())
    assert result.first_error[:2] == ("ticket", 2)
    assert verify_chain([{"seq": "x"}], key.public_key()).first_error[1] == 1


def test_it_checks_month_closures_against_the_days_they_summarise(key):
    def day(period, total):
        return {"period": period, "first_seq": 1, "last_seq": 1, "count": 1, "last_hash": "h", "by_type": {},
                "vat": [{"rate": 1000, "base": 0, "vat": 0, "total": total}], "total": total,
                "grand_total": {"total": total, "absolute": total, "by_rate": {"1000": total}}}

    public = key.public_key()
    records = []
    prev_hash, prev_sig = fc.genesis_hash("closure", public), ""
    payloads = [("day", day("2026-11-01", 100)), ("day", day("2026-11-02", 250))]
    for i, (kind, p) in enumerate(payloads, 1):
        h = {"v": 1, "chain": "closure", "seq": i, "type": kind, "type_seq": i, "timestamp": f"2026-12-0{i}T03:00:00.000000Z",
             "business_day": "2026-11-30", "software_version": "0.1.0", "operator": "", "device": "", "key_id": fc.key_id(public),
             "flags": [], "prev_hash": prev_hash, "prev_signature": prev_sig}
        text = fc.canonical_json(p)
        digest, sig = fc.seal(h, text, key)
        records.append(dict(h, payload=text, hash=digest, signature=sig))
        prev_hash, prev_sig = digest, sig

    def month(total):
        return {"period": "2026-11", "closures": [{"seq": r["seq"], "period": json.loads(r["payload"])["period"], "hash": r["hash"]} for r in records],
                "first_seq": 1, "last_seq": 1, "count": 2, "last_hash": "h", "by_type": {},
                "vat": [{"rate": 1000, "base": 0, "vat": 0, "total": total}], "total": total,
                "grand_total": {"total": 250, "absolute": 250, "by_rate": {"1000": 250}}}

    def with_month(total):
        h = {"v": 1, "chain": "closure", "seq": 3, "type": "month", "type_seq": 1, "timestamp": "2026-12-03T03:00:00.000000Z",
             "business_day": "2026-12-02", "software_version": "0.1.0", "operator": "", "device": "", "key_id": fc.key_id(public),
             "flags": [], "prev_hash": records[-1]["hash"], "prev_signature": records[-1]["signature"]}
        text = fc.canonical_json(month(total))
        digest, sig = fc.seal(h, text, key)
        return records + [dict(h, payload=text, hash=digest, signature=sig)]

    assert verify_chain(with_month(350), public).ok
    result = verify_chain(with_month(349), public)
    assert result.first_error[:2] == ("closure", 3)
    assert "not the sum" in result.first_error[2]


def test_it_writes_headers_exactly_as_canonical_json():
    from hypothesis import given, settings, strategies as st

    text = st.text(max_size=20)

    @settings(max_examples=300, deadline=None)
    @given(st.fixed_dictionaries({
        **{k: text for k in ("business_day", "chain", "device", "key_id", "operator", "prev_hash", "prev_signature",
                             "software_version", "timestamp", "type")},
        "seq": st.integers(min_value=-2**70, max_value=2**70), "type_seq": st.integers(), "v": st.integers(),
        "flags": st.lists(text, max_size=3),
    }))
    def same(header):
        assert fc.header_json(header) == fc.canonical_json(header)

    same()
    odd = dict(fc.header_of(build_chain(Ed25519PrivateKey.from_private_bytes(SEED), 1)[0]), seq=True)
    assert fc.header_json(odd) == fc.canonical_json(odd)


def test_it_formats_timestamps_in_utc_with_microseconds():
    from datetime import UTC, datetime, timedelta, timezone

    paris = timezone(timedelta(hours=1))
    assert fc.format_timestamp(datetime(2026, 11, 26, 12, 30, tzinfo=paris)) == "2026-11-26T11:30:00.000000Z"
    assert fc.format_timestamp(datetime(2026, 11, 26, 11, 30, 1, 5, tzinfo=UTC)) == "2026-11-26T11:30:01.000005Z"
    with pytest.raises(ValueError):
        fc.format_timestamp(datetime(2026, 11, 26))


def test_it_converts_decimal_strings_like_decimal_does():
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=500, deadline=None)
    @given(st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9, max_value=10**9).map(str),
        st.from_regex(r"\A-?[0-9]{0,4}(\.[0-9]{0,3})?\Z"),
        st.text(max_size=8),
    ))
    def same(text):
        try:
            cents = Decimal(text.strip()) * 100
            expected = ("ok", int(cents)) if cents.is_finite() and cents == cents.to_integral_value() else ("error",)
        except Exception:
            expected = ("error",)
        try:
            got = ("ok", fc.to_cents(text))
        except (ValueError, TypeError):
            got = ("error",)
        assert got == expected, text

    same()
