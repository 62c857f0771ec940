"""Encrypted column types: ``EncryptedText`` and ``EncryptedJSON`` (SQLAlchemy TypeDecorators).

Values are sealed with the newest key of a ``Keyring`` on the way in and opened on the way
out; the database only ever holds Fernet tokens (ASCII text), never the plaintext. ``None``
stays SQL NULL. The keyring is not known when tables are declared, so each column takes a
``KeyringSlot``: ``with slot.bound(keyring):`` makes the columns use ``keyring`` in this thread
(``Database.session`` binds its own, so several databases with different keys can live in one
process); ``slot.set(keyring)`` sets the keyring used where none is bound. Using a column
without either is an ``EncryptionKeyError``.

A value no key opens raises ``DecryptionError`` naming the column (``label``). With
``on_error="placeholder"`` it reads as an ``UnreadableValue`` instead, so a repository can
report that row and still serve the others.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from sqlalchemy.types import Text, TypeDecorator

from voicebot.errors import DecryptionError, EncryptionKeyError
from voicebot.privacy.crypto import Keyring


class KeyringSlot:
    """Where the running app's keyring lives; encrypted columns read it at use time."""

    def __init__(self, keyring: Keyring | None = None):
        self._keyring = keyring
        self._bound: ContextVar[Keyring | None] = ContextVar(f"keyring-slot-{id(self)}", default=None)

    def set(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @contextmanager
    def bound(self, keyring: Keyring) -> Iterator[None]:
        """Inside the block (this thread / context only) the columns use ``keyring``."""
        token = self._bound.set(keyring)
        try:
            yield
        finally:
            self._bound.reset(token)

    def get(self) -> Keyring:
        bound = self._bound.get()
        if bound is not None:
            return bound
        if self._keyring is None:
            raise EncryptionKeyError("no encryption key loaded: start-up must load the keyring "
                                     "(VOICEBOT_ENCRYPTION_KEY or the key file) before using the database")
        return self._keyring


class UnreadableValue(str):
    """Stands in for a value no key could open (``on_error="placeholder"``); ``error`` says why.
    ``readable(value, default)`` turns it into ``default``."""

    def __new__(cls, error: DecryptionError):
        value = super().__new__(cls, "[unreadable]")
        value.error = error
        return value


def readable(value: Any, default: Any = None) -> Any:
    """``value``, or ``default`` when it is an ``UnreadableValue``."""
    return default if isinstance(value, UnreadableValue) else value


class EncryptedType(TypeDecorator):
    """The base of the encrypted column types (seals on bind, opens on read)."""

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


class EncryptedText(EncryptedType):
    """A text column stored encrypted."""

    cache_ok = True

    def _dump(self, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"{self.label} takes text, not {type(value).__name__}")
        return value

    def _load(self, text: str) -> str:
        return text


class EncryptedJSON(EncryptedType):
    """A JSON column (dicts, lists, numbers, text) stored encrypted as one token."""

    cache_ok = True

    def _dump(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def _load(self, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise DecryptionError(f"{self.label} decrypted to something that is not JSON", row=self.label) from None
