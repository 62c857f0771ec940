"""Retention and a customer's rights over a real SQLite database in a real data directory:
purge by age (idempotent), export of everything held about a phone number, and erasure that
leaves nothing behind: neither the plaintext nor any encrypted value that the key would still
open, in the database, its -wal/-shm files, or anywhere under the data directory. And the
``voicebot privacy`` commands that run them."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dialogue_driver import DEMO, RECORDED_LINE, TextCall, understander_for
from sqlalchemy import select

from voicebot.config import Settings
from voicebot.errors import DecryptionError
from voicebot.storage import calls
from voicebot.storage.callbacks import Callback, add_callback, list_callbacks, set_status
from voicebot.storage.consent import remember_consent, remembered_consent
from voicebot.storage.customers import customer_by_phone
from voicebot.storage.keys import open_database
from voicebot.storage.retention import purge_expired
from voicebot.storage.seed import seed_demo
from voicebot.storage.subject_data import erase_subject, export_subject
from voicebot.storage.tables import Call, Consent, TransferRecord, Turn

ANA = "+15550001111"
ANA_MARKERS = ("Ana Lopez", "ana@example.com", "5550001111", "welcome back", "I want my order")
TOKEN_START = b"gAAAAA"  # every Fernet token begins so (version byte 0x80, then a timestamp)


@pytest.fixture(scope="module")
def understanders():
    return {"demo": understander_for(DEMO), "recorded": understander_for(RECORDED_LINE)}


@pytest.fixture()
def world(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "var"))
    opened = open_database(settings)
    seed_demo(opened.db)
    yield settings, opened.db
    opened.db.engine.dispose()


def _sid() -> str:
    return "CA" + secrets.token_hex(16)


def _ana_calls(db, understanders) -> list[str]:
    """Two calls from Ana: one with a transfer (its context stored), one consenting on the recorded line."""
    first = TextCall.start(DEMO, understanders["demo"], db, ANA, _sid())
    first.say("I want my order 4172").press("0").hang_up()
    second = TextCall.start(RECORDED_LINE, understanders["recorded"], db, ANA, _sid())
    second.say("yes").say("I want my order 4172 please").hang_up()
    return [first.dialogue.call_sid, second.dialogue.call_sid]


def _files(data_dir: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}


def _token_lengths(limit: int) -> list[int]:
    """Lengths of Fernet tokens (base64 of 57 + 16k bytes) up to ``limit`` characters."""
    lengths, blocks = [], 1
    while (length := 4 * -(-(57 + 16 * blocks) // 3)) <= limit:
        lengths.append(length)
        blocks += 1
    return lengths


def _readable_with_the_key(db, files: dict[str, bytes]) -> str:
    """Every encrypted value found anywhere in the files that the key opens, as one text. Values
    sit next to each other in database pages, so each place a token starts is tried at every
    length a token can have."""
    opened = set()
    for data in files.values():
        for match in re.finditer(re.escape(TOKEN_START), data):
            run = re.match(rb"[A-Za-z0-9_=-]+", data[match.start():match.start() + 4096]).group()
            for length in _token_lengths(len(run)):
                try:
                    opened.add(db.keyring.decrypt_text(run[:length].decode()))
                    break
                except DecryptionError:
                    continue
    return "\n".join(sorted(opened))


def test_export_holds_everything_about_the_customer(world, understanders):
    _, db = world
    sids = _ana_calls(db, understanders)
    data = export_subject(db, "(555) 000-1111")  # any format
    json.dumps(data)  # JSON-able
    assert data["customers"] == [{"name": "Ana Lopez", "phone": ANA, "email": "ana@example.com", "tier": "gold", "postcode": "",
                                  "birth_date": "", "language": "en", "preferences": {}, "external_id": None,
                                  "failed_verifications": 0, "locked_until": None}]
    assert {o["number"] for o in data["orders"]} == {"4172", "3381"}
    assert data["consent"]["granted"] is True
    assert [c["call_sid"] for c in data["calls"]] == sids
    first, second = data["calls"]
    assert any(t["text"] == "I want my order 4172" for t in first["transcript"])
    assert first["transfers"] and first["transfers"][0]["context"]["customer"]["name"] == "Ana Lopez"
    assert any(t["text"] == "I want my order 4172 please" for t in second["transcript"])
    assert data["unreadable"] == []
    assert export_subject(db, "+15559998888")["customers"] == []


def test_export_and_erasure_cover_everyone_sharing_a_number(world):
    """A household line (two customers, one number) and a verifiable profile: every personal
    field is exported, and erasure takes both rows and their orders."""
    _, db = world
    shared, dana = export_subject(db, "+15550005555"), export_subject(db, "+15550004444")
    assert sorted(c["name"] for c in shared["customers"]) == ["Eve Moreau", "Frank Moreau"]
    assert (dana["customers"][0]["postcode"], dana["customers"][0]["birth_date"]) == ("94107", "1985-03-14")
    assert dana["customers"][0]["preferences"] == {"marketing": True}
    deleted = erase_subject(db, "+15550005555")
    assert deleted["customers"] == 2 and deleted["orders"] == len(shared["orders"])
    assert export_subject(db, "+15550005555")["customers"] == [] and export_subject(db, "+15550005555")["orders"] == []


def test_erasure_leaves_nothing_readable_behind_even_with_the_key(world, understanders):
    settings, db = world
    _ana_calls(db, understanders)
    data_dir = Path(settings.data_dir)
    before = _readable_with_the_key(db, _files(data_dir))
    assert "Ana Lopez" in before and "I want my order" in before  # the search can see Ana's data
    deleted = erase_subject(db, ANA)
    assert deleted == {"customers": 1, "orders": 2, "consents": 1, "calls": 2, "turns": deleted["turns"], "transfers": 1,
                       "callbacks": 0}
    assert deleted["turns"] >= 6
    files = _files(data_dir)
    assert any(name.endswith("voicebot.db") for name in files)
    raw = b"".join(files.values())
    for marker in ANA_MARKERS:
        assert marker.encode() not in raw
    after = _readable_with_the_key(db, files)
    for marker in ANA_MARKERS:
        assert marker not in after, marker
    assert customer_by_phone(db, ANA) == {"found": False, "phone": ANA}
    assert export_subject(db, ANA)["calls"] == [] and remembered_consent(db, ANA) is None
    assert customer_by_phone(db, "+15550002222")["name"] == "Ben Carter"  # the others stay
    assert erase_subject(db, ANA) == dict.fromkeys(deleted, 0)  # idempotent


def test_purge_deletes_each_kind_after_its_period_and_is_idempotent(world, understanders):
    _, db = world
    old, recent = _ana_calls(db, understanders)
    remember_consent(db, "+15550003333", True)
    with db.session() as s:  # the first call and everything about it is 40 days old; the consents 400
        call = s.scalar(select(Call).where(Call.call_sid == old))
        call.started_at -= timedelta(days=40)
        for row in [*s.scalars(select(Turn).where(Turn.call_id == call.id)),
                    *s.scalars(select(TransferRecord).where(TransferRecord.call_id == call.id))]:
            row.created_at -= timedelta(days=40)
        for consent in s.scalars(select(Consent)):
            consent.decided_at -= timedelta(days=400)
    days = {"transcripts": 30, "transfers": 30, "calls": 365, "consents": 365}
    deleted = purge_expired(db, days)
    assert deleted["transfers"] == 1 and deleted["transcripts"] >= 3 and deleted["calls"] == 0 and deleted["consents"] == 2
    old_call = calls.load_call(db, old)
    assert old_call["transcript"] == [] and old_call["transfer_ids"] == [] and old_call["outcome"] == "transferred"
    assert calls.load_call(db, recent)["transcript"]  # younger than its period: kept
    assert purge_expired(db, days) == dict.fromkeys(deleted, 0)
    assert purge_expired(db, {"transcripts": 0, "transfers": 0, "calls": 30, "consents": 0})["calls"] == 1  # 0 keeps
    assert calls.load_call(db, old) is None and calls.load_call(db, recent) is not None


def test_purge_deletes_callbacks_with_the_transcripts_once_handled_and_with_the_calls_always(world):
    _, db = world
    due = datetime.now(timezone.utc) + timedelta(days=1)
    ids = {name: add_callback(db, "+15550003333", due, requested_text=f"call me {name}") for name in
           ("old_done", "old_pending", "ancient_pending", "new_done")}
    set_status(db, ids["old_done"], "done")
    set_status(db, ids["new_done"], "done")
    with db.session() as s:
        for name, age in (("old_done", 40), ("old_pending", 40), ("ancient_pending", 400)):
            s.get(Callback, ids[name]).created_at -= timedelta(days=age)
    days = {"transcripts": 30, "transfers": 30, "calls": 365, "consents": 365}
    assert purge_expired(db, days)["callbacks"] == 2  # the handled one past 30 days, and the one past 365
    left = {row["requested_text"] for row in list_callbacks(db, status=None)}
    assert left == {"call me old_pending", "call me new_done"}
    assert purge_expired(db, days)["callbacks"] == 0


def _cli(data_dir: Path, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBOT_")}
    env.update(VOICEBOT_DATA_DIR=str(data_dir), VOICEBOT_RETAIN_TRANSCRIPTS_DAYS="30")
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", "privacy", *args], capture_output=True, text=True,
                          env=env, input=input_text, timeout=120)


def test_the_privacy_commands(world, understanders, tmp_path):
    settings, db = world
    sids = _ana_calls(db, understanders)
    data_dir = Path(settings.data_dir)
    purged = _cli(data_dir, "purge")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["deleted"] == {"transcripts": 0, "transfers": 0, "calls": 0, "consents": 0, "callbacks": 0}
    out = tmp_path / "ana.json"
    exported = _cli(data_dir, "export", "--phone", "555-000-1111", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert [c["call_sid"] for c in json.loads(out.read_text())["calls"]] == sids
    bad = _cli(data_dir, "erase", "--phone", "call me")
    assert bad.returncode == 2 and "is not a phone number" in bad.stderr
    declined = _cli(data_dir, "erase", "--phone", ANA, input_text="n\n")
    assert declined.returncode != 0 and customer_by_phone(db, ANA)["found"]
    erased = _cli(data_dir, "erase", "--phone", ANA, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["deleted"]["calls"] == 2 and not customer_by_phone(db, ANA)["found"]
    rekeyed = _cli(data_dir, "rekey")
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert json.loads(rekeyed.stdout)["unreadable"] == []


def test_the_web_app_purges_expired_data_when_it_starts(world, understanders, tmp_path):
    from voicebot.testing.echo_session import EchoSession
    from voicebot.web.app import create_app

    settings, db = world
    old, recent = _ana_calls(db, understanders)
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == old))
        for turn in s.scalars(select(Turn).where(Turn.call_id == call.id)):
            turn.created_at -= timedelta(days=31)
    create_app(settings, session_factory=EchoSession)
    assert calls.load_call(db, old)["transcript"] == [] and calls.load_call(db, recent)["transcript"]
