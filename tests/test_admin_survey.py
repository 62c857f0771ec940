"""Survey answers reach the console's analytics: a call that answers the flow's survey stores the
score as a system line when it ends (``session.dialogue``), and the satisfaction number is computed
from it; a call that never answered it stores none."""
from __future__ import annotations

from voicebot.events import DtmfPressed
from voicebot.flows.loader import load_flow_text
from voicebot.session.dialogue import Dialogue
from voicebot.storage import calls
from voicebot.storage.call_queries import calls_with_turns
from voicebot.storage.db import Database
from voicebot.web.admin.aggregates import summarize

SURVEY_FLOW = """name: survey_demo
start: menu
intents:
  billing: [billing, my bill]
  hours: [store hours, opening times]
nodes:
  menu:
    type: menu
    prompt: Press 1 for billing.
    options:
      - {key: "1", intent: billing, goto: billing}
      - {key: "2", intent: hours, goto: feedback}
  billing:
    type: say
    text: Your bill is ready.
    next: feedback
  feedback:
    type: survey
    question: From 1 to 5, how did I do?
    slot: satisfaction
    next: bye
  bye:
    type: hangup
    text: Goodbye.
"""


def _call(db, sid: str, keys: list[str]) -> None:
    dialogue = Dialogue(load_flow_text(SURVEY_FLOW, "survey.yaml"), None, call_sid=sid, caller="+15550007777", db=db,
                        now=None)
    dialogue.start({})
    for key in keys:
        dialogue.step(DtmfPressed(key))
    dialogue.end("hangup")


def test_survey_scores_are_stored_and_feed_satisfaction(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'survey.db'}")
    db.create_all()
    _call(db, "CAsurvey1", ["1", "4"])
    _call(db, "CAsurvey2", ["2", "2"])
    _call(db, "CAsurvey3", ["1"])  # hung up at the survey question: no score
    lines = [t for t in calls.load_call(db, "CAsurvey1")["transcript"] if t["speaker"] == "system"]
    assert [(t["text"], t["details"]) for t in lines] == [
        ("survey satisfaction: 4 of 5", {"survey_score": 4, "scale": 5, "slot": "satisfaction"})]
    assert not [t for t in calls.load_call(db, "CAsurvey3")["transcript"] if "survey" in t["text"]]
    assert summarize(calls_with_turns(db))["satisfaction"] == {"mean": 3.0, "n": 2, "distribution": {2: 1, 4: 1}}
