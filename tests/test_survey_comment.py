"""The post-call survey's optional spoken comment (issue 13, item 5): the flow language's
``comment_prompt`` on a survey node (validated), the pure engine asking for it after a keypad or
spoken score and keeping it in ``<slot>_comment``, and a real ``Dialogue`` storing it redacted
with the score, shown in analytics (latest comments) and on the call page."""
from __future__ import annotations

import pytest
from admin_helpers import add_users, login

from voicebot.actions import Listen, Say
from voicebot.errors import FlowError
from voicebot.events import CallStarted, DtmfPressed, NoInput, Utterance
from voicebot.flows.engine import step
from voicebot.flows.loader import load_flow_text
from voicebot.session.dialogue import Dialogue
from voicebot.storage import calls
from voicebot.storage.call_queries import calls_with_turns
from voicebot.web.admin.aggregates import summarize

FLOW = """name: survey_comment
start: feedback
nodes:
  feedback:
    type: survey
    question: From 1 to 5, how did I do?
    slot: satisfaction
    comment_prompt: Anything you would like to add? Say it after the tone.
    thanks: Thanks for your feedback.
    next: bye
  bye:
    type: hangup
    text: Goodbye.
"""


def _texts(actions):
    return [a.text for a in actions if isinstance(a, Say)]


def _run(events):
    flow = load_flow_text(FLOW)
    state, out = step(flow, None, CallStarted("CA1"))
    for event in events:
        state, actions = step(flow, state, event)
        out += actions
    return state, out


def test_engine_asks_for_a_comment_after_a_keypad_score_and_keeps_it():
    flow = load_flow_text(FLOW)
    state, _ = step(flow, None, CallStarted("CA1"))
    state, actions = step(flow, state, DtmfPressed("4"))
    assert _texts(actions) == ["Anything you would like to add? Say it after the tone."]
    assert isinstance(actions[-1], Listen) and actions[-1].grammar is None and state.waiting == "comment"
    assert state.variables["satisfaction"] == 4
    state, actions = step(flow, state, Utterance("the wait was too long", 0.9))
    assert _texts(actions) == ["Thanks for your feedback.", "Goodbye."]
    assert state.variables["satisfaction_comment"] == "the wait was too long" and state.ended


def test_spoken_score_then_comment():
    state, out = _run([Utterance("five", 0.9), Utterance("very helpful thanks", 0.9)])
    assert state.variables["satisfaction"] == 5 and state.variables["satisfaction_comment"] == "very helpful thanks"


@pytest.mark.parametrize("event", [NoInput(6.0), DtmfPressed("#"), Utterance("no thanks", 0.9), Utterance("no", 0.9)])
def test_silence_keys_or_a_bare_no_skip_the_comment(event):
    state, out = _run([DtmfPressed("3"), event])
    assert state.variables["satisfaction"] == 3 and "satisfaction_comment" not in state.variables
    assert _texts(out)[-2:] == ["Thanks for your feedback.", "Goodbye."] and state.ended


def test_without_comment_prompt_the_survey_ends_at_the_score():
    flow = load_flow_text(FLOW.replace("    comment_prompt: Anything you would like to add? Say it after the tone.\n", ""))
    state, _ = step(flow, None, CallStarted("CA1"))
    state, actions = step(flow, state, DtmfPressed("2"))
    assert _texts(actions) == ["Thanks for your feedback.", "Goodbye."] and state.ended


def test_validator_refuses_an_empty_or_clashing_comment_prompt():
    with pytest.raises(FlowError) as empty:
        load_flow_text(FLOW.replace("comment_prompt: Anything you would like to add? Say it after the tone.", "comment_prompt: '  '"), "s.yaml")
    assert "node 'feedback' has an empty comment_prompt" in str(empty.value)
    clash = FLOW.replace("    next: bye\n  bye:", "    next: note\n  note:\n    type: set\n    values: {satisfaction_comment: \"'x'\"}\n    next: bye\n  bye:", 1)
    with pytest.raises(FlowError) as taken:
        load_flow_text(clash, "s.yaml")
    assert "keeps its comment in 'satisfaction_comment', which another node also sets" in str(taken.value)


def test_comment_is_stored_redacted_and_shown_in_analytics_and_on_the_call_page(echo_app_factory):
    app, _ = echo_app_factory(public_url="http://localhost")
    db = app.extensions["voicebot"].db
    dialogue = Dialogue(load_flow_text(FLOW), None, call_sid="CAcomment1", caller="+15550008888", db=db, now=None)
    dialogue.start({})
    dialogue.step(DtmfPressed("2"))
    words = "call me back at 555 123 4567 the music was awful"
    dialogue.heard(words, None)
    dialogue.step(Utterance(words, 0.9))
    dialogue.end("hangup")
    [line] = [t for t in calls.load_call(db, "CAcomment1")["transcript"] if t["speaker"] == "system"]
    assert line["details"] == {"survey_score": 2, "scale": 5, "slot": "satisfaction",
                               "comment": "call me back at [PHONE] the music was awful"}
    assert line["text"] == "survey satisfaction: 2 of 5; comment: call me back at [PHONE] the music was awful"
    summary = summarize(calls_with_turns(db))
    assert summary["survey_comments"] == [{"call_sid": "CAcomment1", "day": summary["survey_comments"][0]["day"], "score": 2,
                                           "comment": "call me back at [PHONE] the music was awful"}]
    assert summary["satisfaction"]["n"] == 1
    add_users(db, "supervisor")
    client = app.test_client()
    login(client, "supervisor")
    page = client.get("/admin/analytics").get_data(as_text=True)
    assert '<td class="comment">call me back at [PHONE] the music was awful</td>' in page
    call_page = client.get("/admin/calls/CAcomment1").get_data(as_text=True)
    assert '<q class="comment">call me back at [PHONE] the music was awful</q>' in call_page
    assert "555 123 4567" not in call_page
