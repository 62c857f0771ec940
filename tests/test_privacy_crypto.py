"""Encryption at rest: keyring, key file, encrypted columns and rekey, on a real SQLite file
(and PostgreSQL when ``VOICEBOT_TEST_DATABASE_URL`` is set, in a private schema)."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import private_pg_schema
from sqlalchemy import Integer, String, create_engine, select, text, type_coerce
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from voicebot.errors import ConfigError, DecryptionError, EncryptionKeyError, StorageError
from voicebot.privacy.crypto import (KEY_FILE_NAME, Keyring, generate_key, key_id, load_keyring, parse_keys,
                                     read_encrypted_file, write_encrypted_file)
from voicebot.privacy.rekey import rekey_columns
from voicebot.storage.db import Database
from voicebot.storage.encrypted import EncryptedJSON, EncryptedText, KeyringSlot, UnreadableValue

SECRET_WORDS = "my card is 4111 1111 1111 1111 and I live at 42 Wallaby Way"
SECRET_JSON = {"caller": "Ada Lovelace", "dob": "1815-12-10", "notes": ["wants a refund"]}

SLOT = KeyringSlot()


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "privacy_test_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="turn")
    body: Mapped[str | None] = mapped_column(EncryptedText(SLOT, label="notes.body"), nullable=True)
    extra: Mapped[dict | None] = mapped_column(EncryptedJSON(SLOT, label="notes.extra"), nullable=True)


# --- keys -------------------------------------------------------------------------------------

def test_newest_key_encrypts_and_every_key_decrypts():
    old, new = generate_key(), generate_key()
    sealed_old = Keyring([old]).encrypt_text("hello")
    ring = Keyring([new, old])
    sealed_new = ring.encrypt_text("hello")
    assert "hello" not in sealed_new and sealed_new != ring.encrypt_text("hello")  # fresh IV
    assert ring.decrypt_text(sealed_old) == ring.decrypt_text(sealed_new) == "hello"
    assert ring.is_current(sealed_new) and not ring.is_current(sealed_old)
    assert Keyring([new]).decrypt_text(ring.rotate(sealed_old).decode()) == "hello"
    with pytest.raises(DecryptionError):
        Keyring([new]).decrypt_text(sealed_old)  # the old key is really needed for old data


@pytest.mark.parametrize("value", ["{a},{b}", "{a} {b}", "{a}\n{b}\n", "# rotated 2026\n{a}\n\n{b}  # old\n"])
def test_parse_several_keys_newest_first(value):
    a, b = generate_key(), generate_key()
    assert parse_keys(value.format(a=a, b=b)) == [a, b]


@pytest.mark.parametrize("value,message", [
    ("", "holds no encryption key"), ("  ,\n# only a comment", "holds no encryption key"),
    ("not-a-key", "key 1 of 1 is not a valid key"), ("{a},short", "key 2 of 2 is not a valid key"),
    ("{a},{a}", "same key twice"),
])
def test_malformed_keys_are_one_clear_config_error(value, message):
    value = value.format(a=generate_key())
    with pytest.raises(EncryptionKeyError, match=message) as info:
        parse_keys(value)
    assert isinstance(info.value, ConfigError)
    assert "\n" not in str(info.value)
    for key in value.split(","):
        if len(key) == 44:
            assert key not in str(info.value)  # the message never repeats a key


def test_tampered_and_foreign_tokens_are_refused():
    ring = Keyring([generate_key()])
    token = ring.encrypt_text("secret")
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    for bad in (flipped, token[:-4], "", "not a token", Keyring([generate_key()]).encrypt_text("x")):
        with pytest.raises(DecryptionError, match="cannot decrypt turns.text id=7"):
            ring.decrypt_text(bad, what="turns.text id=7")
    assert key_id(ring.keys[0]) in ring.key_ids and ring.keys[0] not in str(ring.key_ids)


def test_key_file_created_once_with_0600_then_reused(tmp_path):
    ring, created = load_keyring("", tmp_path / "var")
    path = tmp_path / "var" / KEY_FILE_NAME
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = load_keyring("", tmp_path / "var")
    assert not created_again and again.keys == ring.keys
    configured = generate_key()
    from_env, created_env = load_keyring(configured, tmp_path / "var")
    assert from_env.keys == [configured] and not created_env
    assert path.read_text().count(ring.keys[0]) == 1  # the file was not touched


def test_missing_key_file_with_existing_data_refuses_instead_of_generating(tmp_path):
    with pytest.raises(EncryptionKeyError, match="encrypted data exists but no key is configured"):
        load_keyring("", tmp_path, data_exists=True)
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_key_file_readable_by_others_is_refused(tmp_path):
    load_keyring("", tmp_path)
    path = tmp_path / KEY_FILE_NAME
    path.chmod(0o644)
    with pytest.raises(EncryptionKeyError, match="chmod 600"):
        load_keyring("", tmp_path)


def test_wrong_key_is_detected_before_anything_is_written():
    stored = [Keyring([generate_key()]).encrypt_text("x") for _ in range(3)]
    assert not Keyring([generate_key()]).opens_any(stored)
    assert Keyring([generate_key()]).opens_any([])


def test_encrypted_file_round_trip_and_no_plaintext_on_disk(tmp_path):
    ring = Keyring([generate_key()])
    path = tmp_path / "call.wav.enc"
    audio = b"RIFF" + SECRET_WORDS.encode() * 50
    write_encrypted_file(path, audio, ring)
    assert SECRET_WORDS.encode() not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_encrypted_file(path, ring) == audio
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DecryptionError, match=str(path)):
        read_encrypted_file(path, ring)


# --- encrypted columns on a real database -----------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    SLOT.set(Keyring([generate_key()]))
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'voicebot.db'}")  # the project's engine: WAL journal
        Base.metadata.create_all(db.engine)
        yield db.engine
        db.engine.dispose()
        return
    with private_pg_schema("vb_privacy") as url:
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()


def _store(engine, count=3):
    with Session(engine) as session:
        session.add_all([Note(body=f"{SECRET_WORDS} #{i}", extra=dict(SECRET_JSON, n=i)) for i in range(count)])
        session.add(Note(kind="empty", body=None, extra=None))
        session.commit()


def _raw_rows(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT id, body, extra FROM privacy_test_notes ORDER BY id")).all()


def test_round_trip_and_raw_database_holds_no_plaintext(engine):
    _store(engine)
    with Session(engine) as session:
        notes = session.scalars(select(Note).order_by(Note.id)).all()
    assert [n.body for n in notes] == [f"{SECRET_WORDS} #{i}" for i in range(3)] + [None]
    assert notes[1].extra == dict(SECRET_JSON, n=1) and notes[3].extra is None
    raw = _raw_rows(engine)
    for _, body, extra in raw[:3]:
        for plain in ("4111", "Wallaby", "Lovelace", "1815", "refund"):
            assert plain not in body and plain not in extra
    assert raw[3][1:] == (None, None)  # NULL stays NULL
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database)
        on_disk = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # db, -wal, -shm
        assert b"privacy_test_notes" in on_disk  # we are really reading the database's bytes
        for plain in (b"4111", b"Wallaby", b"Lovelace", b"refund"):
            assert plain not in on_disk


def test_corrupted_row_is_named_and_placeholder_mode_serves_the_rest(engine):
    _store(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE privacy_test_notes SET body = 'gAAAAAgarbage' WHERE id = 2"))
    with Session(engine) as session, pytest.raises(DecryptionError, match="notes.body"):
        session.scalars(select(Note).order_by(Note.id)).all()
    lenient = EncryptedText(SLOT, label="notes.body", on_error="placeholder")
    table = Note.__table__
    with engine.connect() as conn:
        values = conn.execute(select(table.c.id, type_coerce(table.c.body, lenient)).order_by(table.c.id)).all()
    assert values[0][1].startswith(SECRET_WORDS)
    assert isinstance(values[1][1], UnreadableValue) and isinstance(values[1][1].error, DecryptionError)
    assert values[2][1].startswith(SECRET_WORDS)


def test_column_without_a_loaded_key_is_a_clear_error(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    empty = KeyringSlot()
    column = EncryptedText(empty, label="x")
    with pytest.raises(EncryptionKeyError, match="no encryption key loaded"):
        column.process_bind_param("text", engine.dialect)


def test_rekey_reseals_with_the_newest_key_idempotently_and_reports_bad_rows(engine):
    old = SLOT.get()
    _store(engine, count=5)
    with engine.begin() as conn:
        conn.execute(text("UPDATE privacy_test_notes SET extra = 'gAAAAAgarbage' WHERE id = 3"))
    before = _raw_rows(engine)
    newest = Keyring([generate_key(), *old.keys])
    SLOT.set(newest)
    seen = []
    report = rekey_columns(engine, Note.__table__, [Note.__table__.c.body, Note.__table__.c.extra], newest,
                           batch_size=2, progress=seen.append)
    assert report.examined == 10 and report.rewritten == 9
    assert report.unreadable == ["privacy_test_notes.extra id=3"]
    assert sum(seen) == 6  # six rows in batches of two
    after = _raw_rows(engine)
    assert after[2][2] == before[2][2]  # the unreadable value was left as it was
    only_new = Keyring(newest.keys[:1])
    for row_id, body, extra in after:
        if body is not None:
            assert only_new.decrypt_text(body).startswith(SECRET_WORDS)
        if extra is not None and row_id != 3:
            assert "Lovelace" in only_new.decrypt_text(extra)
    again = rekey_columns(engine, Note.__table__, [Note.__table__.c.body, Note.__table__.c.extra], newest)
    assert again.rewritten == 0 and again.examined == 10
    assert _raw_rows(engine) == after


def test_text_column_refuses_non_text():
    SLOT.set(Keyring([generate_key()]))
    with pytest.raises(TypeError, match="notes.body takes text"):
        EncryptedText(SLOT, label="notes.body").process_bind_param(42, None)


def test_storage_error_family():
    assert issubclass(DecryptionError, StorageError)
