"""FAQ answers (issue 13, item 7): an admin adds one in the console (Flask test client, CSRF,
audit), and the very next caller turn of a text conversation (a real ``Dialogue``, the real
MiniLM understander and engine, real SQLite) that matches no flow intent but paraphrases a
question gets the answer, then the same question again; an edit is used from the next turn; an
unrelated question still gets the no-match. The threshold is checked on held-out paraphrases."""
from __future__ import annotations

import numpy as np
import pytest
from admin_helpers import FLOW, add_users, csrf_token, login

from voicebot.actions import Listen, Say
from voicebot.flows.loader import load_flow_text
from voicebot.session import faq as session_faq
from voicebot.session.dialogue import Dialogue
from voicebot.storage import admin as store
from voicebot.storage import calls, faq

PARKING = "is there parking at the store\nwhere can I park"
FAQS = {"hours": ["what are your opening hours", "when are you open"],
        "parking": ["is there parking at the store", "where can I park"],
        "returns": ["how long do I have to return an item", "what is your return policy"],
        "gift": ["do you sell gift cards", "can I buy a gift card"]}
HELD_OUT = [("hours", "what time do you open in the morning"), ("hours", "are you open on sundays"),
            ("hours", "until when are you open today"), ("parking", "do you have a car park"),
            ("parking", "can I leave my car near the shop"), ("returns", "can I send something back after a month"),
            ("returns", "how many days to return a product"), ("gift", "I'd like to buy a gift voucher"),
            ("gift", "are gift cards available")]
UNRELATED = ["where is my order", "I want to talk to a person", "my card was charged twice", "what's the weather like",
             "I need to reset my password", "yes", "no thanks", "goodbye", "four one seven two",
             "I'd like a refund for my order", "can you change my address", "I am very angry"]


@pytest.fixture(scope="module")
def understander():
    from voicebot.nlu.understander import Understander

    return Understander.from_examples(load_flow_text(FLOW).intents, fine_tune=False)


@pytest.fixture()
def console(echo_app_factory):
    app, _ = echo_app_factory(public_url="http://localhost")
    db = app.extensions["voicebot"].db
    add_users(db, "admin", "supervisor")
    client = app.test_client()
    login(client, "admin")
    return client, db


def _post(client, path, data, page="/admin/faq"):
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(path, data=dict(data, csrf_token=token))


def _said(actions) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def test_threshold_separates_held_out_paraphrases_from_unrelated_turns(understander):
    embedder = understander.embedder
    pairs = [(k, v) for k, vs in FAQS.items() for v in vs]
    vectors = np.asarray(embedder.embed([v for _, v in pairs]))
    for topic, text in HELD_OUT:
        scores = vectors @ np.asarray(embedder.embed([text]))[0]
        assert pairs[int(np.argmax(scores))][0] == topic, text
        assert scores.max() >= session_faq.THRESHOLD, (text, float(scores.max()))
    for text in UNRELATED:
        assert (vectors @ np.asarray(embedder.embed([text]))[0]).max() < session_faq.THRESHOLD - 0.05, text


def test_answer_added_in_console_is_used_next_turn_and_edits_apply_at_once(console, understander):
    client, db = console
    response = _post(client, "/admin/faq", {"variants": PARKING, "answer": "Yes, free parking behind the store."})
    assert response.status_code == 302
    [row] = faq.answers(db)
    assert row["variants"] == ["is there parking at the store", "where can I park"] and row["updated_by"] == "admin"
    assert "Yes, free parking behind the store." in client.get("/admin/faq").get_data(as_text=True)

    dialogue = Dialogue(load_flow_text(FLOW), understander, call_sid="CAfaq1", db=db, now=None)
    dialogue.start()
    actions = dialogue.hear("do you have a car park")
    assert _said(actions) == ["Yes, free parking behind the store. Say billing or store hours."]
    assert isinstance(actions[-1], Listen)
    assert dialogue.state.node == "menu" and dialogue.state.nomatch_count == 0 and not dialogue.state.ended
    assert dialogue.faq_match.faq_id == row["id"] and dialogue.faq_match.variant == "where can I park"
    [line] = [t for t in calls.load_call(db, "CAfaq1")["transcript"] if t["speaker"] == "caller"]
    assert line["details"] == {"faq_id": row["id"]}  # answered: not an FAQ candidate any more

    response = _post(client, f"/admin/faq/{row['id']}", {"variants": PARKING, "answer": "Parking is in the garage on Elm Street."})
    assert response.status_code == 302
    assert _said(dialogue.hear("can I leave my car near the shop")) == ["Parking is in the garage on Elm Street. Say billing or store hours."]

    assert _said(dialogue.hear("what's the weather like")) == ["Sorry, I didn't understand. Say billing or store hours."]
    assert dialogue.state.nomatch_count == 1
    assert [t["details"] for t in calls.load_call(db, "CAfaq1")["transcript"] if t["speaker"] == "caller"] == [
        {"faq_id": row["id"]}, {"faq_id": row["id"]}, {}]
    assert _said(dialogue.hear("a question about my bill")) == ["Billing is open nine to five.", "Goodbye."]

    _post(client, f"/admin/faq/{row['id']}/delete", {})
    assert faq.answers(db) == []
    second = Dialogue(load_flow_text(FLOW), understander, call_sid="CAfaq2", db=db, now=None)
    second.start()
    assert _said(second.hear("do you have a car park")) == ["Sorry, I didn't understand. Say billing or store hours."]
    actions = [e["action"] for e in store.audit_entries(db)]
    assert actions[:3] == ["faq.delete", "faq.edit", "faq.add"]


def test_flow_intents_come_before_faq_answers(console, understander):
    client, db = console
    faq.add_answer(db, ["when are you open"], "We are open all day.", "admin")
    dialogue = Dialogue(load_flow_text(FLOW), understander, call_sid="CAfaq3", db=db, now=None)
    dialogue.start()
    assert _said(dialogue.hear("what time do you open")) == ["We open at ten.", "Goodbye."]


def test_bad_input_is_refused_with_the_reason_and_nothing_stored(console):
    client, db = console
    response = _post(client, "/admin/faq", {"variants": "  \n ", "answer": "Something."})
    assert response.status_code == 400
    assert "give at least one question variant" in response.get_data(as_text=True)
    response = _post(client, "/admin/faq", {"variants": "where can I park", "answer": "Ask {caller}."})
    assert response.status_code == 400 and "may not contain { or }" in response.get_data(as_text=True)
    assert "where can I park" in response.get_data(as_text=True)  # what was typed is kept in the form
    assert faq.answers(db) == [] and faq.revision(db) == 0
    assert _post(client, "/admin/faq/99", {"variants": "x", "answer": "y"}).status_code == 404
    assert client.post("/admin/faq", data={"variants": "where can I park", "answer": "Behind."}).status_code == 400  # no CSRF
    assert faq.answers(db) == []
    assert [e["action"] for e in store.audit_entries(db, action="faq.refused")] == ["faq.refused"] * 3


def test_supervisor_may_not_change_answers(console):
    admin_client, db = console
    client = admin_client.application.test_client()
    login(client, "supervisor")
    assert client.get("/admin/faq").status_code == 403
    assert store.audit_entries(db, action="forbidden")[0]["target"] == "/admin/faq"


def test_tfidf_fallback_without_an_encoder(console):
    _, db = console
    faq.add_answer(db, PARKING, "Free parking.", "admin")
    assert session_faq.answer_for(db, "where can I park my car").answer == "Free parking."
    assert session_faq.answer_for(db, "my card was charged twice") is None


def test_faq_candidate_becomes_an_answer_in_one_step(console, understander):
    import re

    client, db = console
    call_id = calls.begin_call(db, "CAcand1", "+15550004444")
    asked = ["is there parking at the store", "where can I park my car", "do you have a car park"]
    for text in asked:
        calls.add_turn(db, call_id, "bot", "Say billing or store hours.")
        calls.add_turn(db, call_id, "caller", text, intent="oos", confidence=0.2)
    calls.end_call(db, call_id, "abandoned", "hangup")
    page = client.get("/admin/review/faq").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/admin/faq" class="answer-group">(.*?)</form>', page, re.S).group(1)
    questions = re.findall(r'name="question" value="([^"]+)"', form)
    assert sorted(questions) == sorted(asked)
    response = client.post("/admin/faq", data={"csrf_token": csrf_token(page), "question": questions,
                                               "answer": "Free parking behind the store."})
    assert response.status_code == 302
    [row] = faq.answers(db)
    assert sorted(row["variants"]) == sorted(asked) and row["answer"] == "Free parking behind the store."
    assert store.audit_entries(db, action="faq.add")[0]["details"]["from_candidate"] is True
    dialogue = Dialogue(load_flow_text(FLOW), understander, call_sid="CAcand2", db=db, now=None)
    dialogue.start()
    assert _said(dialogue.hear("can I leave my car near the shop")) == ["Free parking behind the store. Say billing or store hours."]
    dialogue.hear("what's the weather like")
    page = client.get("/admin/review/faq").get_data(as_text=True)
    assert "can I leave my car" not in page and "do you have a car park" not in page  # answered now
    assert "1 unanswered question " in page  # the weather


def test_engine_speaks_a_given_answer_only_on_the_no_match_path():
    from voicebot.events import CallStarted, DtmfPressed, Utterance
    from voicebot.flows.engine import step

    flow = load_flow_text(FLOW)
    state, _ = step(flow, None, CallStarted("CA1"))
    answered, actions = step(flow, state, Utterance("where do I park", 0.9, None, faq_answer="Park behind."))
    assert _said(actions) == ["Park behind. Say billing or store hours."] and answered.node == "menu"
    assert answered.nomatch_count == 0 and answered.waiting == "input"
    from voicebot.nlu.base import Understanding

    billing = Understanding(text="billing", intent="billing", confidence=0.9, frustration=0.0, emotion="neutral", entities=())
    taken, actions = step(flow, state, Utterance("billing", 0.9, billing, faq_answer="Park behind."))  # the flow's intent wins
    assert _said(actions) == ["Billing is open nine to five.", "Goodbye."]
    _, actions = step(flow, state, DtmfPressed("7"))
    assert _said(actions) == ["Sorry, I didn't understand. Say billing or store hours."]
