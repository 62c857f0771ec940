"""Encrypted column types: ``EncryptedText`` and ``EncryptedJSON`` (SQLAlchemy TypeDecorators).

Values are sealed with the newest key of a ``Keyring`` on the way in and opened on the way
out; the database only ever holds Fernet tokens (ASCII text), never the plaintext. ``None``
stays SQL NULL. The keyring is not known when tables are declared, so each column takes a
``KeyringSlot`` that start-up fills once (``slot.set(keyring)``); using a column before that is
an ``EncryptionKeyError``.

A value no key opens raises ``DecryptionError`` naming the column (``label``). With
``on_error="placeholder"`` it reads as an ``UnreadableValue`` instead, so a repository can
report that row and still serve the others.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy.types import Text, TypeDecorator

from voicebot.errors import DecryptionError, EncryptionKeyError
from voicebot.privacy.crypto import Keyring


class KeyringSlot:
    """Where the running app's keyring lives; encrypted columns read it at use time."""

    def __init__(self, keyring: Keyring | None = None):
        self._keyring = keyring

    def set(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def get(self) -> Keyring:
        if self._keyring is None:
            raise EncryptionKeyError("no encryption key loaded: start-up must load the keyring "
                                     "(VOICEBOT_ENCRYPTION_KEY or the key file) before using the database")
        return self._keyring


class UnreadableValue(str):
    """Stands in for a value no key could open (``on_error="placeholder"``); ``error`` says why."""

    def __new__(cls, error: DecryptionError):
        value = super().__new__(cls, "[unreadable]")
        value.error = error
        return value


class _Encrypted(TypeDecorator):
    impl = Text
    cache_ok = True

    def __init__(self, slot: KeyringSlot, label: str = "an encrypted column", on_error: str = "raise"):
        if on_error not in ("raise", "placeholder"):
            raise ValueError("on_error must be 'raise' or 'placeholder'")
        super().__init__()
        self.slot, self.label, self.on_error = slot, label, on_error

    def _dump(self, value: Any) -> str:
        raise NotImplementedError

    def _load(self, text: str) -> Any:
        raise NotImplementedError

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return self.slot.get().encrypt_text(self._dump(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return self._load(self.slot.get().decrypt_text(value, what=self.label))
        except DecryptionError as error:
            if self.on_error == "placeholder":
                return UnreadableValue(error)
            raise


class EncryptedText(_Encrypted):
    """A text column stored encrypted."""

    cache_ok = True

    def _dump(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"{self.label} takes text, not {type(value).__name__}")
        return value

    def _load(self, text: str) -> str:
        return text


class EncryptedJSON(_Encrypted):
    """A JSON column (dicts, lists, numbers, text) stored encrypted as one token."""

    cache_ok = True

    def _dump(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def _load(self, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise DecryptionError(f"{self.label} decrypted to something that is not JSON", row=self.label) from None
