"""Calls record the flow (name and sha256 of its text) that served them, written by
``storage.calls`` when the ``Dialogue`` starts, and the console's analytics filter by flow or by
one version of it (real Dialogue, real SQLite, Flask test client). A database made before the
columns existed gets them added (old calls read None)."""
from __future__ import annotations

import sqlite3

from admin_helpers import FLOW, add_users, login

from voicebot.events import DtmfPressed
from voicebot.flows.loader import load_flow_text
from voicebot.session.dialogue import Dialogue
from voicebot.storage import calls
from voicebot.storage.call_queries import calls_with_turns
from voicebot.storage.db import Database

V2 = FLOW.replace("We open at ten.", "We open at nine.")
OTHER = FLOW.replace("name: tiny", "name: other")


def _serve(db, sid: str, text: str) -> str:
    flow = load_flow_text(text)
    dialogue = Dialogue(flow, None, call_sid=sid, db=db, now=None)
    dialogue.start({})
    dialogue.step(DtmfPressed("9"))
    dialogue.end("hangup")
    return flow.sha256


def test_calls_record_their_flow_and_analytics_filter_by_it(echo_app_factory):
    app, _ = echo_app_factory(public_url="http://localhost")
    db = app.extensions["voicebot"].db
    v1 = _serve(db, "CAflow1", FLOW)
    _serve(db, "CAflow2", FLOW)
    v2 = _serve(db, "CAflow3", V2)
    _serve(db, "CAflow4", OTHER)
    served = {c["call_sid"]: (c["flow_name"], c["flow_version"]) for c in calls_with_turns(db)}
    assert served == {"CAflow1": ("tiny", v1), "CAflow2": ("tiny", v1), "CAflow3": ("tiny", v2),
                      "CAflow4": ("other", load_flow_text(OTHER).sha256)}
    assert v1 != v2
    add_users(db, "analyst")
    client = app.test_client()
    login(client, "analyst")

    def count(flow: str) -> str:
        body = client.get("/admin/analytics.csv", query_string={"flow": flow}).get_data(as_text=True)
        return next(line for line in body.splitlines() if line.startswith("calls,"))

    assert count("") == "calls,,4"
    assert count("tiny") == "calls,,3"
    assert count(f"tiny@{v1}") == "calls,,2"
    assert count(f"tiny@{v2}") == "calls,,1"
    assert count("other") == "calls,,1"
    assert count("nosuch") == "calls,,0"
    page = client.get("/admin/analytics", query_string={"flow": f"tiny@{v2}"}).get_data(as_text=True)
    assert f'<option value="tiny@{v2}" selected>tiny @ {v2[:10]}</option>' in page
    assert '<option value="other">other (every version)</option>' in page


def test_a_call_begun_by_the_webhook_gets_its_flow_when_the_session_starts(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    db.create_all()
    calls.begin_call(db, "CAhook1", "+15550001234")  # the webhook's row: no flow yet
    assert calls_with_turns(db)[0]["flow_name"] is None
    sha = _serve(db, "CAhook1", FLOW)
    assert (calls_with_turns(db)[0]["flow_name"], calls_with_turns(db)[0]["flow_version"]) == ("tiny", sha)


def test_a_database_without_the_flow_columns_gets_them(tmp_path):
    path = tmp_path / "old.db"
    Database(f"sqlite:///{path}").create_all()
    connection = sqlite3.connect(path)
    connection.execute("DROP INDEX ix_calls_flow_name")
    connection.execute("ALTER TABLE calls DROP COLUMN flow_version")
    connection.execute("ALTER TABLE calls DROP COLUMN flow_name")
    connection.commit()
    connection.close()
    db = Database(f"sqlite:///{path}")
    db.create_all()
    sha = _serve(db, "CAold1", FLOW)
    assert calls_with_turns(db)[0]["flow_version"] == sha
