"""The store's Ed25519 signing key: generated at first use into settings.FISCAL_KEY_PATH (the data dir,
mode 0600, never in git), loaded once per process.

Rotation (`rotate_key()` in fiscal.services) keeps each retired key beside the current one as
`<key file>.<key id>.retired` (public part only is needed to verify; the private part is kept so a
half-done rotation can be finished) and journals the change as a signed entry.
"""

import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from fiscal import chain as fc

_lock = threading.Lock()
_cache: dict[str, tuple] = {}


def key_path() -> Path:
    return Path(settings.FISCAL_KEY_PATH)


def _write_new(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting together never overwrite each other's fresh key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def _read(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def signing_key() -> tuple[Ed25519PrivateKey, Ed25519PublicKey, str]:
    """(private key, public key, key id), created on first use, cached per key path."""
    cache_key = str(settings.FISCAL_KEY_PATH)
    entry = _cache.get(cache_key)
    if entry is not None:
        return entry
    with _lock:
        entry = _cache.get(cache_key)
        if entry is None:
            path = Path(cache_key)
            if not path.exists():
                try:
                    _write_new(path, Ed25519PrivateKey.generate())
                except FileExistsError:
                    pass  # another process made it first: use theirs
            key = _read(path)
            entry = (key, key.public_key(), fc.key_id(key.public_key()))
            _cache[cache_key] = entry
    return entry


def private_key() -> Ed25519PrivateKey:
    """The signing key, created on first use."""
    return signing_key()[0]


def public_key() -> Ed25519PublicKey:
    return signing_key()[1]


def current_key_id() -> str:
    return signing_key()[2]


def public_key_pem() -> str:
    return fc.public_key_pem(public_key())


def retired_keys() -> list[Ed25519PublicKey]:
    path = key_path()
    keys = []
    for retired in sorted(path.parent.glob(path.name + ".*.retired")):
        keys.append(_read(retired).public_key())
    return keys


def next_key_path() -> Path:
    return key_path().with_name(key_path().name + ".next")


def retired_key_path(kid: str) -> Path:
    return key_path().with_name(f"{key_path().name}.{kid}.retired")


def prepare_next_key() -> Ed25519PrivateKey:
    """Rotation step 1: the next key, written beside the current one (0600)."""
    path = next_key_path()
    path.unlink(missing_ok=True)
    _write_new(path, Ed25519PrivateKey.generate())
    return _read(path)


def activate_next_key() -> None:
    """Rotation step 3 (after the announcement committed): retire the current key, promote the next."""
    current = key_path()
    kid = fc.key_id(_read(current).public_key())
    os.replace(current, retired_key_path(kid))
    os.replace(next_key_path(), current)
    forget_cache()


def forget_cache() -> None:
    """Tests and rotation: the next call re-reads the key file."""
    with _lock:
        _cache.clear()


def keyring() -> fc.Keyring:
    """Every key this store has signed with: the current one and the retired ones."""
    ring = fc.Keyring([public_key()])
    for key in retired_keys():
        ring.add(key)
    return ring
