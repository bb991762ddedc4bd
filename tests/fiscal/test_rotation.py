"""Key rotation: a signed journal entry by the old key announces the new one; both verify."""

from django.core.management import call_command

from fiscal import chain as fc
from fiscal import codes, keys, verification
from fiscal.models import SealedRecord
from fiscal.verifier import verify_chain


def test_it_rotates_the_key_with_a_signed_announcement(seal, capsys):
    before = seal(2)
    old_kid = keys.current_key_id()
    old_public = keys.public_key()
    call_command("fiscal_rotate_key", "--operator", "marie")
    new_kid = keys.current_key_id()
    assert new_kid != old_kid and capsys.readouterr().out == keys.public_key_pem()
    announcement = SealedRecord.objects.get(chain="jet", subject=str(codes.KEY_ROTATION))
    assert announcement.key_id == old_kid and announcement.operator == "marie"
    details = announcement.data()["details"]
    assert details["new_key_id"] == new_kid
    assert fc.load_public_key(details["new_public_key"]).public_bytes_raw() == keys.public_key().public_bytes_raw()
    assert fc.signature_ok(old_public, announcement.hash, announcement.signature)
    after = seal(2)
    assert {r.key_id for r in before} == {old_kid} and {r.key_id for r in after} == {new_kid}
    assert keys.retired_key_path(old_kid).exists()
    report = verification.verify_store(strict=True)
    assert report.ok, report.errors
    # the new key alone does not vouch for the old records
    wires = list(SealedRecord.objects.filter(chain="ticket").wire())
    assert not verify_chain(wires, keys.public_key()).ok
    assert verify_chain(wires, fc.Keyring([old_public, keys.public_key()])).ok
