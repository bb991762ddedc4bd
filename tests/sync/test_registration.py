"""Cloud role: registering stores, token authentication, the marks endpoint, role gating."""

import io

import pytest
from django.utils import translation
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import hash_token
from sync.models import Store, StoreChainMark

from .conftest import public_pem


def test_it_registers_a_store_and_prints_its_token_once(db, cloud_role, rivoli_key, tmp_path):
    pem = tmp_path / "rivoli.pem"
    pem.write_text(public_pem(rivoli_key))
    out, err = io.StringIO(), io.StringIO()

    call_command("store_register", "Bistrot Rivoli", public_key_file=str(pem), stdout=out, stderr=err)

    token = out.getvalue().strip()
    store = Store.objects.get(name="Bistrot Rivoli")
    assert store.token_hash == hash_token(token)
    assert token not in store.token_hash and token not in err.getvalue()
    assert store.public_key_pem.strip() == public_pem(rivoli_key).strip()


def test_it_gives_a_new_token_when_a_store_registers_again(rivoli, cloud_role, client):
    old_token = rivoli.token
    out = io.StringIO()
    pem = rivoli.public_key_pem
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
        f.write(pem)
        f.flush()
        call_command("store_register", "Bistrot Rivoli", public_key_file=f.name, stdout=out, stderr=io.StringIO())

    assert Store.objects.count() == 1
    assert client.get("/sync/v1/marks/", HTTP_AUTHORIZATION=f"Bearer {old_token}").status_code == 401
    new = out.getvalue().strip()
    assert client.get("/sync/v1/marks/", HTTP_AUTHORIZATION=f"Bearer {new}").status_code == 200


def test_it_refuses_a_file_that_is_not_a_public_key(db, cloud_role, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    with pytest.raises(CommandError, match="Ed25519"):
        call_command("store_register", "X", public_key_file=str(bad), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Store.objects.exists()


def test_it_registers_stores_only_on_the_cloud(db, rivoli_key, tmp_path, settings):
    settings.KDS_ROLE = "store"
    pem = tmp_path / "k.pem"
    pem.write_text(public_pem(rivoli_key))
    with pytest.raises(CommandError, match="KDS_ROLE=cloud"):
        call_command("store_register", "X", public_key_file=str(pem), stdout=io.StringIO(), stderr=io.StringIO())


def test_it_answers_the_marks_of_the_calling_store_only(rivoli, bastille, cloud_role, client):
    StoreChainMark.objects.create(store=rivoli, chain="receipts", seq=12, hash="ab" * 32)
    StoreChainMark.objects.create(store=rivoli, chain="journal", seq=3, hash="cd" * 32)
    StoreChainMark.objects.create(store=bastille, chain="receipts", seq=99, hash="ef" * 32)

    response = client.get("/sync/v1/marks/", HTTP_AUTHORIZATION=f"Bearer {rivoli.token}")

    assert response.status_code == 200
    assert response.json() == {"receipts": {"seq": 12, "hash": "ab" * 32}, "journal": {"seq": 3, "hash": "cd" * 32}}
    assert client.get("/sync/v1/marks/", HTTP_AUTHORIZATION=f"Bearer {bastille.token}").json() == {
        "receipts": {"seq": 99, "hash": "ef" * 32}
    }


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc"])
def test_it_refuses_calls_without_a_valid_store_token(rivoli, cloud_role, client, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    for response in (
        client.get("/sync/v1/marks/", **headers),
        client.post("/sync/v1/records/", data="{}", content_type="application/json", **headers),
    ):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


def test_it_refuses_an_inactive_store(rivoli, cloud_role, client):
    Store.objects.filter(pk=rivoli.pk).update(active=False)
    assert client.get("/sync/v1/marks/", HTTP_AUTHORIZATION=f"Bearer {rivoli.token}").status_code == 401


def test_it_hides_the_cloud_endpoints_on_a_store(rivoli, client, settings):
    settings.KDS_ROLE = "store"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {rivoli.token}"}
    assert client.get("/sync/v1/marks/", **auth).status_code == 404
    assert client.post("/sync/v1/records/", data="{}", content_type="application/json", **auth).status_code == 404


def test_it_answers_wrong_methods_in_json(rivoli, cloud_role, client):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {rivoli.token}"}
    response = client.post("/sync/v1/marks/", **auth)
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
    response = client.get("/sync/v1/records/", **auth)
    assert response.status_code == 405


@pytest.mark.parametrize(
    "body, error",
    [
        ("not json", "bad_request"),
        ("[" * 100000, "bad_request"),
        ("[]", "bad_request"),
        ('{"chain": "receipts"}', "bad_request"),
        ('{"chain": "Receipts; DROP", "records": [{"seq": 1}]}', "bad_request"),
        ('{"chain": "receipts", "records": []}', "bad_request"),
        ('{"chain": "receipts", "records": [{"seq": "1"}]}', "bad_record"),
        ('{"chain": "receipts", "records": [{"seq": 1, "chain": "journal"}]}', "bad_record"),
        ('{"chain": "receipts", "records": [{"seq": 1}, {"seq": 3}]}', "bad_batch"),
    ],
)
def test_it_refuses_malformed_batches_with_a_json_error(rivoli, cloud_role, client, body, error):
    response = client.post(
        "/sync/v1/records/", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {rivoli.token}"
    )
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert not StoreChainMark.objects.exists()


def test_it_finds_the_key_in_pasted_output(db, cloud_role, rivoli_key, tmp_path):
    pasted = tmp_path / "pasted.txt"
    pasted.write_text(f"$ manage.py fiscal_public_key\n{public_pem(rivoli_key)}$ \n")
    call_command("store_register", "X", public_key_file=str(pasted), stdout=io.StringIO(), stderr=io.StringIO())
    assert Store.objects.get().public_key_pem.strip() == public_pem(rivoli_key).strip()


def test_it_refuses_a_file_without_a_key(db, cloud_role, tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("hello")
    with translation.override("en"), pytest.raises(CommandError, match="No PEM public key"):
        call_command("store_register", "X", public_key_file=str(empty), stdout=io.StringIO(), stderr=io.StringIO())
