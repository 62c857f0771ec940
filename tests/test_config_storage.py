"""Settings (environment, TOML, overrides) and the database layer on real SQLite, and on
PostgreSQL when ``VOICEBOT_TEST_DATABASE_URL`` is set (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; each run uses a private schema)."""
from __future__ import annotations

import secrets

import pytest
from conftest import private_pg_schema
from pydantic import ValidationError
from sqlalchemy import select, text

from voicebot.config import ENV_VARS, PROJECT_ROOT, load_settings
from voicebot.errors import ConfigError, StorageError
from voicebot.storage.db import Database
from voicebot.storage.tables import Call, Customer, Order, TransferRecord, Turn



@pytest.fixture
def clean_env(monkeypatch):
    """No voicebot variable from the developer's shell may leak into these tests."""
    for var in (*ENV_VARS.values(), "VOICEBOT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


# --- settings ---------------------------------------------------------------------------------

def test_defaults_without_environment(clean_env):
    settings = load_settings()
    assert settings.asr_backend == "auto" and settings.database_url == ""
    assert settings.data_dir == str(PROJECT_ROOT / "var")
    assert settings.effective_database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'voicebot.db'}"


def test_environment_variables_are_read(clean_env, tmp_path):
    clean_env.setenv("TWILIO_AUTH_TOKEN", "from-env")
    clean_env.setenv("VOICEBOT_PUBLIC_URL", "https://bot.example.com")
    clean_env.setenv("VOICEBOT_DATA_DIR", str(tmp_path))
    clean_env.setenv("VOICEBOT_DATABASE_URL", "postgresql+psycopg://db/voicebot")
    settings = load_settings()
    assert settings.twilio_auth_token == "from-env"
    assert settings.public_url == "https://bot.example.com"
    assert settings.effective_database_url == "postgresql+psycopg://db/voicebot"


def test_toml_then_environment_then_overrides(clean_env, tmp_path):
    toml = tmp_path / "voicebot.toml"
    toml.write_text('[voicebot]\nasr_backend = "whisper"\npublic_url = "https://toml.example"\n'
                    'transfer_number = "+15550001111"\n')
    settings = load_settings(toml)
    assert (settings.asr_backend, settings.public_url) == ("whisper", "https://toml.example")
    clean_env.setenv("VOICEBOT_PUBLIC_URL", "https://env.example")
    settings = load_settings(toml)
    assert settings.public_url == "https://env.example" and settings.transfer_number == "+15550001111"
    settings = load_settings(toml, public_url="https://override.example", asr_backend=None)
    assert settings.public_url == "https://override.example" and settings.asr_backend == "whisper"


def test_config_file_from_environment(clean_env, tmp_path):
    toml = tmp_path / "from-env.toml"
    toml.write_text('[voicebot]\nsecret_key = "s3cret"\n')
    clean_env.setenv("VOICEBOT_CONFIG", str(toml))
    assert load_settings().secret_key == "s3cret"


@pytest.mark.parametrize("content,message", [
    (None, "cannot read settings file"), ("[voicebot\nbroken", "cannot read settings file"),
    ('[voicebot]\nasr_backend = ["whisper"]\n', "invalid settings"),
])
def test_bad_settings_are_one_config_error(clean_env, tmp_path, content, message):
    toml = tmp_path / "bad.toml"
    if content is not None:
        toml.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(toml)
    if content is None or "broken" in content:
        assert str(toml) in str(info.value)


def test_settings_are_frozen(clean_env):
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.public_url = "https://changed.example"


# --- database ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pg_database():
    """A private schema in the PostgreSQL test database, dropped afterwards."""
    with private_pg_schema() as url:
        db = Database(url)
        db.create_all()
        yield db
        db.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("pg_database")
    db = Database(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'voicebot.db'}")  # folders are created
    db.create_all()
    return db


def new_sid() -> str:
    return "CA" + secrets.token_hex(16)


def test_call_with_turns_and_transfer_round_trip(database):
    sid = new_sid()
    with database.session() as s:
        call = Call(call_sid=sid, caller="+15551230000")
        call.turns.append(Turn(speaker="caller", text="where is my order", intent="order_status", confidence=0.91))
        call.turns.append(Turn(speaker="bot", text="Your order shipped.", details={"latency": {"asr_ms": 120}}))
        s.add(call)
        s.flush()
        s.add(TransferRecord(call_id=call.id, destination="+15550100000", reason="agent requested",
                             context={"intent": "order_status", "frustration": 0.7}))
    with database.session() as s:
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert call.status == "ringing" and call.started_at is not None
        assert [t.speaker for t in call.turns] == ["caller", "bot"]
        assert call.turns[1].details == {"latency": {"asr_ms": 120}}
        transfer = s.scalars(select(TransferRecord).where(TransferRecord.call_id == call.id)).one()
        assert transfer.context["frustration"] == 0.7


def test_failed_transaction_is_rolled_back(database):
    sid = new_sid()
    with pytest.raises(RuntimeError):
        with database.session() as s:
            s.add(Call(call_sid=sid))
            s.flush()
            raise RuntimeError("boom")
    with database.session() as s:
        assert s.scalars(select(Call).where(Call.call_sid == sid)).first() is None


def test_constraint_violation_becomes_storage_error(database):
    sid = new_sid()
    with database.session() as s:
        s.add(Call(call_sid=sid))
    with pytest.raises(StorageError, match="database error"):
        with database.session() as s:
            s.add(Call(call_sid=sid))  # call_sid is unique
    with pytest.raises(StorageError):
        with database.session() as s:
            s.add(Turn(call_id=10**9, speaker="bot", text="orphan"))  # foreign keys are enforced


def test_deleting_a_call_deletes_its_turns(database):
    sid = new_sid()
    with database.session() as s:
        call = Call(call_sid=sid)
        call.turns.append(Turn(speaker="caller", text="hello"))
        s.add(call)
    with database.session() as s:
        call = s.scalars(select(Call).where(Call.call_sid == sid)).one()
        call_id = call.id
        s.delete(call)
    with database.session() as s:
        assert s.scalars(select(Turn).where(Turn.call_id == call_id)).first() is None


def test_customers_and_orders(database):
    from voicebot.storage.phones import phone_hash

    phone = "+1555" + str(secrets.randbelow(10**7)).zfill(7)
    with database.session() as s:
        customer = Customer(phone=phone, phone_hash=phone_hash(database, phone), name="Ada")
        customer.orders.append(Order(number="A" + secrets.token_hex(4), status="shipped", item="kettle", total=30.5))
        s.add(customer)
    with database.session() as s:  # found by the keyed hash of the number, never by the encrypted value
        customer = s.scalars(select(Customer).where(Customer.phone_hash == phone_hash(database, phone))).one()
        assert customer.tier == "standard" and customer.orders[0].status == "shipped"
        assert (customer.phone, customer.name) == (phone, "Ada")


def test_sqlite_uses_wal_and_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    db.create_all()
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_unreachable_or_unknown_database_is_storage_error(tmp_path):
    with pytest.raises(StorageError, match="cannot open database"):
        Database("nosuchdialect://x/y")
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")  # nothing listens on port 1
    with pytest.raises(StorageError, match="cannot create schema"):
        db.create_all()
