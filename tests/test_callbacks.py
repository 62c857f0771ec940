"""Callbacks: the caller's words become a time, the request is stored encrypted, supervisors see
it at /agent/callbacks (real Flask app), and `voicebot callbacks due` lists what is due."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from conftest import make_settings

from voicebot.session.callback_requests import callback_time, request_callback, spoken_time
from voicebot.storage.callbacks import list_callbacks, set_status
from voicebot.storage.db import Database

NOW = datetime(2026, 11, 24, 16, 30, tzinfo=timezone.utc)  # a Tuesday afternoon


@pytest.mark.parametrize("words,due", [
    ("tomorrow at 3 pm", "2026-11-25T15:00"),
    ("call me friday", "2026-11-27T10:00"),
    ("at half past ten", "2026-11-25T10:30"),  # already past today: tomorrow
    ("today at 6 pm please", "2026-11-24T18:00"),
])
def test_callback_times_from_the_callers_words(words, due):
    assert callback_time(words, NOW).isoformat(timespec="minutes") == due + "+00:00"


def test_no_time_in_the_words_is_none_and_spoken_times_read_naturally():
    assert callback_time("whenever suits you", NOW) is None
    assert spoken_time(datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc), NOW) == "tomorrow at 3 PM"
    assert spoken_time(datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc), NOW) == "Friday at 9:30 AM"


@pytest.fixture()
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'cb.db'}")
    database.create_all()
    yield database
    database.engine.dispose()


def test_a_request_is_stored_encrypted_and_listed_when_due(db, tmp_path):
    stored = request_callback(db, {"phone": "(555) 000-4444", "when": "tomorrow at 3 pm", "reason": "transfer_failed",
                                   "call_sid": "CA1"}, NOW)
    assert stored == {"ok": True, "id": 1, "due_at": "2026-11-25T15:00:00+00:00", "spoken": "tomorrow at 3 PM"}
    assert request_callback(db, {"phone": "+15550004444", "when": "soonish"}, NOW) == {"ok": False, "reason": "no time understood"}
    assert request_callback(db, {"phone": "", "when": "tomorrow"}, NOW)["reason"] == "no number to call back"
    [row] = list_callbacks(db)
    assert (row["phone"], row["requested_text"], row["reason"], row["status"]) == (
        "+15550004444", "tomorrow at 3 pm", "transfer_failed", "pending")
    assert list_callbacks(db, due_before=datetime(2026, 11, 25, 14, 59, tzinfo=timezone.utc)) == []
    assert [r["id"] for r in list_callbacks(db, due_before=datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc))] == [1]
    raw = (tmp_path / "cb.db").read_bytes()
    assert b"5550004444" not in raw and b"tomorrow at 3 pm" not in raw
    from voicebot.storage.subject_data import erase_subject, export_subject

    assert [c["id"] for c in export_subject(db, "+15550004444")["callbacks"]] == [1]  # a data-subject export shows it
    assert export_subject(db, "+15550001111")["callbacks"] == []
    request_callback(db, {"phone": "+15550001111", "when": "friday"}, NOW)
    assert erase_subject(db, "+15550001111")["callbacks"] == 1  # erasure takes the caller's callbacks too
    assert [c["phone"] for c in list_callbacks(db)] == ["+15550004444"]
    assert set_status(db, 1, "done") is True and list_callbacks(db) == []
    assert set_status(db, 99, "done") is False
    with pytest.raises(ValueError):
        set_status(db, 1, "maybe")


def test_cli_lists_due_callbacks(tmp_path):
    from voicebot.cli.callbacks import callbacks
    from voicebot.config import Settings
    from voicebot.storage.keys import open_database

    env = {"VOICEBOT_DATA_DIR": str(tmp_path), "VOICEBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    db = open_database(Settings(data_dir=str(tmp_path), database_url=env["VOICEBOT_DATABASE_URL"])).db
    request_callback(db, {"phone": "+15550001111", "when": "tomorrow at 3 pm"}, NOW)
    request_callback(db, {"phone": "+15550002222", "when": "friday"}, NOW)
    db.engine.dispose()
    result = CliRunner().invoke(callbacks, ["due", "--at", "2026-11-26T00:00", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["phone"], r["due_at"]) for r in rows] == [("+15550001111", "2026-11-25T15:00:00+00:00")]
    result = CliRunner().invoke(callbacks, ["list"], env=env)
    assert result.exit_code == 0 and result.output.strip().endswith("2 callbacks")
    assert CliRunner().invoke(callbacks, ["due", "--at", "someday"], env=env).exit_code == 2
    assert CliRunner().invoke(callbacks, ["done", "7"], env=env).exit_code == 1


def test_supervisors_see_callbacks_on_the_agent_pages(tmp_path):
    from voicebot.testing.echo_session import EchoSession
    from voicebot.web.app import create_app

    app = create_app(make_settings(tmp_path, "http://127.0.0.1:9"), session_factory=EchoSession)
    db = app.extensions["voicebot"].db
    request_callback(db, {"phone": "+15550003333", "when": "tomorrow at 3 pm", "reason": "transfer_failed"}, NOW)
    client = app.test_client()
    body = client.get("/agent/callbacks").get_json()
    assert [(r["phone"], r["reason"]) for r in body] == [("+15550003333", "transfer_failed")]
    page = client.get("/agent/callbacks/view").get_data(as_text=True)
    assert "+15550003333" in page and "tomorrow at 3 pm" in page
    outside = client.get("/agent/callbacks", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert outside.status_code == 401


def test_callbacks_survive_a_key_rotation_and_are_found_by_the_new_key_alone(tmp_path):
    from voicebot.config import Settings
    from voicebot.privacy.crypto import KEY_FILE_NAME, generate_key
    from voicebot.storage.callbacks import callbacks_for_phone
    from voicebot.storage.keys import open_database
    from voicebot.storage.rekeying import rekey_database

    first = open_database(Settings(data_dir=str(tmp_path))).db
    request_callback(first, {"phone": "+15550004444", "when": "friday"}, NOW)
    first.engine.dispose()
    old_key, new_key = (tmp_path / KEY_FILE_NAME).read_text().split()[-1], generate_key()
    rotated = open_database(Settings(data_dir=str(tmp_path), encryption_key=f"{new_key},{old_key}")).db
    report, _ = rekey_database(rotated)
    assert report.unreadable == []
    only_new = open_database(Settings(data_dir=str(tmp_path), encryption_key=new_key)).db
    [row] = callbacks_for_phone(only_new, "(555) 000-4444")  # found through the hash under the new key
    assert (row["phone"], row["requested_text"]) == ("+15550004444", "friday")
