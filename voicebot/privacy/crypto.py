"""Encryption at rest: a keyring of Fernet keys (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

Promises:
- ``Keyring.encrypt`` always uses the newest key; ``decrypt`` opens anything sealed with any key
  in the ring, so a new key can be added in front and old data stays readable (rotation without
  downtime); ``rotate`` re-seals a token with the newest key (``voicebot privacy rekey``).
- Tampered, truncated or foreign ciphertext is refused with ``DecryptionError``, never returned.
- ``lookup_hash`` gives a keyed hash (HMAC-SHA256 under a key derived from the newest key) for
  finding rows by a value that is stored encrypted (a customer's phone); ``lookup_hashes`` gives
  it under every key, so look-ups keep working while a rekey is in progress.
- Keys come from a ``VOICEBOT_ENCRYPTION_KEY``-style value (one key, or several separated by
  commas/whitespace, newest first) or from a key file under the data directory, created with
  mode 0600 on first start. A malformed key, a key file others can read, or a key file missing
  while encrypted data already exists is an ``EncryptionKeyError``; nothing is ever overwritten.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import stat
from pathlib import Path
from typing import Iterable, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from voicebot.errors import DecryptionError, EncryptionKeyError

KEY_FILE_NAME = "encryption.key"
_SEPARATORS = re.compile(r"[\s,]+")
_LOOKUP_INFO = b"voicebot lookup hash v1"  # HKDF context: the lookup key is never the encryption key


def generate_key() -> str:
    """A new random key in the text form ``VOICEBOT_ENCRYPTION_KEY`` and the key file take."""
    return Fernet.generate_key().decode("ascii")


def key_id(key: str) -> str:
    """A short public fingerprint of ``key`` (safe to print and log; reveals nothing of the key)."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:8]


def parse_keys(value: str, source: str = "VOICEBOT_ENCRYPTION_KEY") -> list[str]:
    """The keys in ``value``, newest first. Lines starting with ``#`` are comments.

    Raises ``EncryptionKeyError`` naming ``source`` and the position of a malformed key
    (never the key itself) or when there is no key at all."""
    lines = [line.split("#", 1)[0] for line in value.splitlines()]
    keys = [k for k in _SEPARATORS.split(" ".join(lines)) if k]
    if not keys:
        raise EncryptionKeyError(f"{source} holds no encryption key; generate one with "
                                 "`python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"`")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise EncryptionKeyError(f"{source}: key {position} of {len(keys)} is not a valid key "
                                     "(expected 32 url-safe base64-encoded bytes, 44 characters)") from None
    if len(set(keys)) != len(keys):
        raise EncryptionKeyError(f"{source} lists the same key twice")
    return keys


class Keyring:
    """Several keys, newest first: the newest encrypts, all decrypt."""

    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise EncryptionKeyError("an encryption keyring needs at least one key")
        self.keys = list(keys)
        self._fernet = MultiFernet([Fernet(k) for k in self.keys])
        self._newest = Fernet(self.keys[0])
        self._lookup_keys = [_lookup_key(k) for k in self.keys]

    @classmethod
    def from_value(cls, value: str, source: str = "VOICEBOT_ENCRYPTION_KEY") -> "Keyring":
        return cls(parse_keys(value, source))

    @property
    def key_ids(self) -> list[str]:
        """Fingerprints of the keys, newest first."""
        return [key_id(k) for k in self.keys]

    def encrypt(self, data: bytes) -> bytes:
        """``data`` sealed with the newest key (a fresh random IV each call)."""
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes | str, what: str = "a stored value") -> bytes:
        """The plaintext of ``token``; ``DecryptionError`` naming ``what`` if no key opens it."""
        try:
            return self._fernet.decrypt(token)
        except (InvalidToken, TypeError, ValueError):
            raise DecryptionError(f"cannot decrypt {what}: it is corrupted or was sealed with a key "
                                  f"that is not configured (keys: {', '.join(self.key_ids)})", row=what) from None

    def encrypt_text(self, text: str) -> str:
        return self.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt_text(self, token: str, what: str = "a stored value") -> str:
        return self.decrypt(token, what).decode("utf-8")

    def is_current(self, token: bytes | str) -> bool:
        """True when the newest key opens ``token`` (``rotate`` would change nothing useful)."""
        try:
            self._newest.decrypt(token)
            return True
        except (InvalidToken, TypeError, ValueError):
            return False

    def rotate(self, token: bytes | str, what: str = "a stored value") -> bytes:
        """``token`` re-sealed with the newest key; ``DecryptionError`` if no key opens it."""
        try:
            return self._fernet.rotate(token)
        except (InvalidToken, TypeError, ValueError):
            self.decrypt(token, what)  # raises the named error
            raise

    def lookup_hash(self, value: str) -> str:
        """The keyed hash of ``value`` under the newest key (64 hex characters)."""
        return self.lookup_hashes(value)[0]

    def lookup_hashes(self, value: str) -> list[str]:
        """The keyed hash of ``value`` under every key, newest first."""
        data = value.encode("utf-8")
        return [hmac.new(key, data, hashlib.sha256).hexdigest() for key in self._lookup_keys]

    def opens_any(self, tokens: Iterable[bytes | str]) -> bool:
        """True when some key opens at least one of ``tokens`` (or there are none)."""
        seen = False
        for token in tokens:
            seen = True
            try:
                self._fernet.decrypt(token)
                return True
            except (InvalidToken, TypeError, ValueError):
                continue
        return not seen


def _lookup_key(key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LOOKUP_INFO).derive(base64.urlsafe_b64decode(key))


def load_keyring(configured: str, data_dir: str | Path, data_exists: bool = False) -> tuple[Keyring, bool]:
    """The keyring to use, and whether a key file was created just now.

    ``configured`` (``settings.encryption_key``) wins when set. Otherwise the key file
    ``DATA_DIR/encryption.key`` is read; when it does not exist it is created with a new key
    (mode 0600), unless ``data_exists`` says encrypted data is already stored: then a new key
    could never open it, and ``EncryptionKeyError`` says so instead."""
    if configured.strip():
        return Keyring.from_value(configured), False
    path = Path(data_dir) / KEY_FILE_NAME
    if path.exists():
        return read_key_file(path), False
    if data_exists:
        raise EncryptionKeyError(f"encrypted data exists but no key is configured and {path} is missing: "
                                 "set VOICEBOT_ENCRYPTION_KEY to the key it was written with")
    return create_key_file(path), True


def read_key_file(path: str | Path) -> Keyring:
    """The keyring in a key file; refuses a file that others than its owner can read or write."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise EncryptionKeyError(f"{path} is readable by other users (mode {stat.filemode(mode)}): "
                                     f"run `chmod 600 {path}`")
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise EncryptionKeyError(f"cannot read key file {path}: {exc}") from None
    return Keyring.from_value(text, source=str(path))


def create_key_file(path: str | Path) -> Keyring:
    """Write a new key to ``path`` with mode 0600; ``EncryptionKeyError`` if it already exists."""
    path = Path(path)
    key = generate_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EncryptionKeyError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise EncryptionKeyError(f"cannot create key file {path}: {exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("# voicebot encryption keys, newest first. Back this file up: without it the data\n"
                     "# encrypted with it cannot be read. Add a new key on top to rotate.\n")
        handle.write(key + "\n")
    return Keyring([key])


def write_encrypted_file(path: str | Path, data: bytes, keyring: Keyring) -> None:
    """Seal ``data`` into ``path`` (mode 0600), atomically: a reader sees the old file or the new."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(keyring.encrypt(data))
    os.replace(temporary, path)


def read_encrypted_file(path: str | Path, keyring: Keyring) -> bytes:
    """The plaintext of a file written by ``write_encrypted_file``; ``DecryptionError`` names the file."""
    return keyring.decrypt(Path(path).read_bytes(), what=str(path))
