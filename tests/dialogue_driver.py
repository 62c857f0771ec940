"""A text conversation over a real database, as a channel drives ``Dialogue``: what the bot says is
recorded, lookups are answered by the real data sources, transfers and hang-ups are carried out.
Used by the privacy tests (consent, redaction, erasure) that look at what was stored."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from voicebot.actions import HangUp, Lookup, Say, Transfer
from voicebot.events import DtmfPressed, NoInput
from voicebot.flows.loader import load_flow
from voicebot.session.datasources import DataSources
from voicebot.session.dialogue import Dialogue
from voicebot.session.lookups import lookup_pool, run_lookup

FLOWS = Path(__file__).resolve().parent.parent / "flows"
DEMO = load_flow(FLOWS / "retail_demo.yaml")
RECORDED_LINE = load_flow(FLOWS / "examples" / "recorded_line.yaml")
_POOL = lookup_pool()


def seeded_database(folder: Path):
    """The demo database in ``folder``, opened as a server opens it (key file, encrypted columns)."""
    from voicebot.config import Settings
    from voicebot.storage.keys import open_database
    from voicebot.storage.seed import seed_demo

    db = open_database(Settings(data_dir=str(folder))).db
    seed_demo(db)
    return db


@lru_cache(maxsize=None)
def understander_for(flow):
    """The flow's understanding layer (trained once per flow in this test run)."""
    from voicebot.nlu.understander import Understander

    return Understander.from_examples(flow.intents)


@dataclass
class TextCall:
    """One conversation: ``say(text)``, ``press(keys)``, ``silence()``, then ``hang_up()``."""

    dialogue: Dialogue
    sources: DataSources
    said: list[str] = field(default_factory=list)
    handoff: object = None
    ended: bool = False

    @classmethod
    def start(cls, flow, understander, db, caller: str, call_sid: str) -> "TextCall":
        call = cls(Dialogue(flow, understander, call_sid=call_sid, caller=caller, db=db, now=None),
                   DataSources.for_flow(flow, db))
        call._run(call.dialogue.start({"local_time": "2026-11-24T10:00"}))
        return call

    def say(self, text: str) -> "TextCall":
        self._run(self.dialogue.hear(text))
        return self

    def press(self, keys: str) -> "TextCall":
        self._run(self.dialogue.step(DtmfPressed(keys)))
        return self

    def silence(self) -> "TextCall":
        self._run(self.dialogue.step(NoInput(6.0)))
        return self

    def hang_up(self, reason: str = "hangup") -> "TextCall":
        self.dialogue.end(reason)
        return self

    def _run(self, actions) -> None:
        while True:
            lookups = []
            for action in actions:
                if isinstance(action, Say):
                    self.said.append(action.text)
                    self.dialogue.said(action.text)
                elif isinstance(action, Lookup):
                    lookups.append(action)
                elif isinstance(action, Transfer):
                    self.handoff, self.ended = self.dialogue.handoff(action), True
                elif isinstance(action, HangUp):
                    self.dialogue.hang_up(action)
                    self.ended = True
            if not lookups:
                return
            actions = self.dialogue.step(run_lookup(_POOL, self.sources, lookups[-1]))
