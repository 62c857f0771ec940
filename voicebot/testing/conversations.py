"""Conversation tests: YAML scenarios (``voicebot.testing.scenarios``) played through the code a
live call runs, minus the sound.

Each scenario is a ``voicebot.session.dialogue.Dialogue``, as in a call: the real engine and
understanding layer (with the per-call frustration memory), the same recording of turns. An
audio turn is decoded as a call decodes the end of an utterance (``session.recognition``: the
same Listen -> grammar mapping, fallback and answer test, at 8 kHz as a phone delivers it), and
its audio reaches the understanding layer too, so the caller's voice counts towards
frustration. Lookups run as a text channel runs them (``session.lookups.run_lookup``: one pool,
the lookup's own time limit).
"""
from __future__ import annotations

import copy
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Callable

from voicebot.actions import Listen, Lookup, Say, Transfer
from voicebot.errors import FlowError
from voicebot.events import CallEnded, DtmfPressed, NoInput, Utterance
from voicebot.flows.loader import Flow
from voicebot.session.dialogue import Dialogue
from voicebot.session.lookups import lookup_pool, run_lookup
from voicebot.session.recognition import recognize
from voicebot.testing.scenarios import INPUT_KEYS, ScenarioResult, TurnRecord, check, describe, missing_audio

SILENCE_S = 6.0  # a "silence: true" turn: the caller said nothing for a prompt's usual start timeout


class ConversationRunner:
    """Plays scenarios. ``understander`` is the flow's ``Understander``; ``sources`` a
    ``DataSources``; ``asr_factory`` is called once, on the first audio turn. With ``voice`` (the
    default) audio turns' audio is understood too (an understander without a voice analyser
    gets a copy with one, as a call's would); ``voice=False`` understands only the words."""

    def __init__(self, understander, sources, asr_factory: Callable[[], Any] | None = None, voice: bool = True,
                 executor: Executor | None = None):
        self.understander = understander
        self.sources = sources
        self.asr_factory = asr_factory
        self.voice = voice
        self.executor = executor
        self.last_tracker = None  # the frustration tracker of the last scenario run, for inspection
        self._asr = None

    def run(self, flow: Flow, scenario: dict, file: str = "", base_dir: Path = Path(".")) -> ScenarioResult:
        name = scenario.get("name", "unnamed")
        missing = missing_audio(scenario, base_dir)
        if missing:
            more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
            return ScenarioResult(file, name, [], skipped=f"audio file not found: {missing[0]}{more}")
        turns_in = scenario.get("turns", [])
        has_audio = any(isinstance(t, dict) and "audio" in t for t in turns_in)
        dialogue = Dialogue(flow, self._understander(has_audio), call_sid=f"test-{name}",
                            caller=str(scenario.get("caller", "")), now=None)
        self.last_tracker = dialogue.tracker
        params = {"local_time": scenario["local_time"]} if scenario.get("local_time") else {}
        if scenario.get("resumed"):  # the call came back to the bot (e.g. no agent answered a transfer)
            params["resumed"] = str(scenario["resumed"])
        record = TurnRecord(caller="(call starts)")
        listen = self._settle(dialogue, dialogue.start(params), record, None)
        turns = [record]
        for raw in turns_in:
            if not any(k in raw for k in INPUT_KEYS):  # expectations about the previous bot output
                record = turns[-1]
            else:
                record = TurnRecord(caller=describe(raw))
                actions = self._turn(dialogue, raw, base_dir, listen, record)
                listen = self._settle(dialogue, actions, record, listen)
                turns.append(record)
            record.node, record.ended = dialogue.state.node, dialogue.state.ended
            record.failures += check(raw.get("expect", {}), record, dialogue.state.variables)
        return ScenarioResult(file, name, turns)

    def _turn(self, dialogue: Dialogue, raw: dict, base_dir: Path, listen: Listen | None, record: TurnRecord):
        if "dtmf" in raw:
            return dialogue.step(DtmfPressed(str(raw["dtmf"])))
        if "silence" in raw:
            return dialogue.step(NoInput(SILENCE_S))
        if "hangup" in raw:
            return dialogue.step(CallEnded("hangup"))
        audio, confidence = None, 1.0  # typed words are exact
        if "audio" in raw:
            from voicebot.audio.wavfile import read_wav

            audio = read_wav(base_dir / str(raw["audio"])).at_rate(8000)  # as a phone delivers it
            recognition = recognize(self._recogniser(), audio.pcm, listen)
            text, confidence = recognition.text, recognition.confidence
            record.heard = text
        else:
            text = str(raw["text"])
        understanding = dialogue.understand(text, audio if self.voice else None)
        record.intent = understanding.intent
        dialogue.heard(text, understanding)
        return dialogue.step(Utterance(text, confidence, understanding))

    def _understander(self, voiced: bool):
        """The understander, given a voice analyser (once) when audio turns need one."""
        if voiced and self.voice and getattr(self.understander, "acoustic", False) is None:
            from voicebot.nlu.emotion.acoustic import AcousticAnalyzer

            self.understander = copy.copy(self.understander)  # the caller's object stays as it was
            self.understander.acoustic = AcousticAnalyzer(warm=True)
        return self.understander

    def _recogniser(self):
        if self._asr is None:
            if self.asr_factory is None:
                raise FlowError("this scenario has audio turns but no speech recogniser was given")
            self._asr = self.asr_factory()
        return self._asr

    def _settle(self, dialogue: Dialogue, actions, record: TurnRecord, listen: Listen | None) -> Listen | None:
        """Record actions; answer ``Lookup`` actions until none is pending. The last ``Listen``
        (what the caller's next turn answers, as in a call)."""
        while True:
            lookups = []
            for action in actions:
                if isinstance(action, Say):
                    record.says.append(action.text)
                    record.styles.append(action.style or "")
                    dialogue.said(action.text)
                elif isinstance(action, Transfer):
                    record.transfer = action
                elif isinstance(action, Listen):
                    listen = action
                elif isinstance(action, Lookup):
                    record.lookups.append(action.source)
                    lookups.append(action)
            if not lookups:
                return listen
            if self.executor is None:
                self.executor = lookup_pool()
            actions = dialogue.step(run_lookup(self.executor, self.sources, lookups[-1]))
