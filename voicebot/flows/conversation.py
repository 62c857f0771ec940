"""Conversation tests: YAML scenarios played against a flow through the real engine,
understanding layer, data sources and (for audio turns) speech recogniser.

A scenario file::

    flow: ../retail_demo.yaml          # relative to this file
    scenarios:
      - name: order status by keypad
        caller: "+15550001111"         # CallStarted.caller
        local_time: "2026-11-24T10:00" # drives business hours
        turns:
          - expect: {says: "welcome back"}      # no input: checks the greeting
          - text: where is my order              # or dtmf: "4172#", audio: FILE.wav, silence: true, hangup: true
            expect: {intent: order_status, says: "order number"}

Audio paths are relative to the scenario file. An audio turn is transcribed by the real
recogniser and its audio reaches the understanding layer too, so the caller's voice (prosody,
relative to their own earlier turns in the scenario) counts towards frustration, as in a call.
A scenario whose audio files are missing (e.g. an evaluation-only dataset outside the repo that
is not on this machine) is skipped, with the missing file named, rather than failed.

Expectations (all optional): ``intent``, ``heard`` (ASR text contains these words; digit words
and numerals compare equal), ``slots`` (subset),
``says`` / ``not_says`` (text or list, case-insensitive substrings of what the bot said this
turn), ``style``, ``node``, ``lookup`` (source asked), ``transfer`` (true/false or
``{reason, destination}``), ``ended``. A failing scenario reports a side-by-side transcript.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from voicebot.actions import Lookup, Say, Transfer
from voicebot.errors import FlowError, LookupFailedError
from voicebot.events import CallEnded, CallStarted, DtmfPressed, LookupCompleted, LookupFailed, NoInput, Utterance
from voicebot.flows.engine import step
from voicebot.flows.loader import Flow, load_flow

INPUT_KEYS = ("text", "dtmf", "audio", "silence", "hangup")
EXPECT_KEYS = {"intent", "heard", "slots", "says", "not_says", "style", "node", "lookup", "transfer", "ended"}


@dataclass
class TurnRecord:
    """One exchange: what the caller did, what was recognised, what the bot did."""

    caller: str
    heard: str | None = None
    intent: str | None = None
    says: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    transfer: Transfer | None = None
    node: str | None = None
    ended: bool = False
    failures: list[str] = field(default_factory=list)


@dataclass
class ScenarioResult:
    file: str
    name: str
    turns: list[TurnRecord]
    skipped: str = ""  # why the scenario could not run (it then neither passed nor failed)

    @property
    def passed(self) -> bool:
        return not any(t.failures for t in self.turns)

    def report(self) -> str:
        """The conversation as it happened, failed expectations marked under their turn."""
        if self.skipped:
            return f"SKIP {self.name}  ({self.file}): {self.skipped}"
        lines = [f"{'PASS' if self.passed else 'FAIL'} {self.name}  ({self.file})"]
        for i, t in enumerate(self.turns):
            heard = f"  (heard: {t.heard!r})" if t.heard is not None else ""
            intent = f"  [intent {t.intent}]" if t.intent else ""
            lines.append(f"  {i:>2} caller: {t.caller}{heard}{intent}")
            for text in t.says:
                lines.append(f"       bot: {text}")
            for source in t.lookups:
                lines.append(f"       lookup: {source}")
            if t.transfer:
                lines.append(f"       TRANSFER to {t.transfer.destination} ({t.transfer.reason})")
            if t.ended and not t.transfer:
                lines.append("       CALL ENDED")
            for failure in t.failures:
                lines.append(f"    !! {failure}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"file": self.file, "name": self.name, "passed": self.passed, "skipped": self.skipped,
                "failures": [f"turn {i}: {f}" for i, t in enumerate(self.turns) for f in t.failures]}


class ConversationRunner:
    """Plays scenarios. ``understander`` turns text (and audio) into an ``Understanding``
    (``.understand(text, audio=, tracker=)``); ``sources`` is a ``DataSources``; ``asr_factory``
    is called once, on the first audio turn. With ``voice`` (the default) audio turns' audio is
    understood too, and an understander without a voice analyser gets a copy with one on the
    first audio turn, as a call's would; ``voice=False`` understands only the words."""

    def __init__(self, understander, sources, asr_factory: Callable[[], Any] | None = None, voice: bool = True):
        self.understander = understander
        self.sources = sources
        self.asr_factory = asr_factory
        self.voice = voice
        self.last_tracker = None  # the frustration tracker of the last scenario run, for inspection
        self._asr = None

    def run(self, flow: Flow, scenario: dict, file: str = "", base_dir: Path = Path(".")) -> ScenarioResult:
        from voicebot.nlu.emotion.fusion import FrustrationTracker  # real per-call frustration memory

        missing = missing_audio(scenario, base_dir)
        if missing:
            more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
            return ScenarioResult(file, scenario.get("name", "unnamed"), [], skipped=f"audio file not found: {missing[0]}{more}")
        tracker = self.last_tracker = FrustrationTracker()
        params = {"local_time": scenario["local_time"]} if scenario.get("local_time") else {}
        start = CallStarted(call_id=f"test-{scenario.get('name', '')}", caller=str(scenario.get("caller", "")), params=params)
        state, actions = step(flow, None, start)
        record = TurnRecord(caller="(call starts)")
        state = self._settle(flow, state, actions, record)
        turns, listen = [record], _last_listen(actions)
        for raw in scenario.get("turns", []):
            if not any(k in raw for k in INPUT_KEYS):  # expectations about the previous bot output
                record = turns[-1]
            else:
                record = TurnRecord(caller=_describe(raw))
                event = self._event(raw, base_dir, listen, record, tracker)
                state, actions = step(flow, state, event)
                state = self._settle(flow, state, actions, record)
                listen = _last_listen(actions) or listen
                turns.append(record)
            record.node, record.ended = state.node, state.ended
            record.failures += check(raw.get("expect", {}), record, state.variables)
        return ScenarioResult(file, scenario.get("name", "unnamed"), turns)

    def _event(self, raw: dict, base_dir: Path, listen, record: TurnRecord, tracker):
        if "dtmf" in raw:
            return DtmfPressed(str(raw["dtmf"]))
        if "silence" in raw:
            tracker.note_silence(6.0)
            return NoInput()
        if "hangup" in raw:
            return CallEnded("hangup")
        audio = None
        if "audio" in raw:
            from voicebot.audio.wavfile import read_wav

            audio = read_wav(base_dir / str(raw["audio"]))
            text = self._transcribe(audio, listen)
            record.heard = text
        else:
            text = str(raw["text"])
        audio = audio if self.voice else None  # voice=False: words only, as with voice emotion off
        understanding = self._understander(audio).understand(text, audio=audio, tracker=tracker)
        record.intent = understanding.intent
        return Utterance(text=text, understanding=understanding)

    def _understander(self, audio):
        """The understander, given a voice analyser (once) when an audio turn needs one."""
        if audio is not None and self.voice and getattr(self.understander, "acoustic", False) is None:
            from voicebot.nlu.emotion.acoustic import AcousticAnalyzer

            self.understander = copy.copy(self.understander)  # the caller's object stays as it was
            self.understander.acoustic = AcousticAnalyzer(warm=True)
        return self.understander

    def _transcribe(self, audio, listen) -> str:
        from voicebot.asr.base import Grammar

        if self._asr is None:
            if self.asr_factory is None:
                raise FlowError("this scenario has audio turns but no speech recogniser was given")
            self._asr = self.asr_factory()
        grammar = None
        if listen is not None and listen.grammar in ("digits", "yesno"):
            grammar = Grammar(listen.grammar)
        elif listen is not None and isinstance(listen.grammar, tuple):
            grammar = Grammar("phrases", listen.grammar)
        if grammar is not None and not self._asr.supports_grammar(grammar):
            grammar = None
        return self._asr.transcribe(audio.pcm, audio.sample_rate, grammar).text

    def _settle(self, flow: Flow, state, actions, record: TurnRecord):
        """Record actions; answer ``Lookup`` actions from the data sources until none is pending."""
        while True:
            lookups = []
            for action in actions:
                if isinstance(action, Say):
                    record.says.append(action.text)
                    record.styles.append(action.style or "")
                elif isinstance(action, Transfer):
                    record.transfer = action
                elif isinstance(action, Lookup):
                    record.lookups.append(action.source)
                    lookups.append(action)
            if not lookups:
                return state
            lookup = lookups[-1]
            try:
                event = LookupCompleted(lookup.lookup_id, self.sources.run(lookup.source, lookup.params, lookup.timeout_s))
            except LookupFailedError as exc:
                event = LookupFailed(lookup.lookup_id, str(exc))
            state, actions = step(flow, state, event)


def missing_audio(scenario: dict, base_dir: Path) -> list[Path]:
    """Audio files a scenario's turns name that do not exist (paths relative to ``base_dir``)."""
    paths = [base_dir / str(t["audio"]) for t in scenario.get("turns", []) if isinstance(t, dict) and "audio" in t]
    return [p for p in paths if not p.is_file()]


def _last_listen(actions):
    from voicebot.actions import Listen

    listens = [a for a in actions if isinstance(a, Listen)]
    return listens[-1] if listens else None


def _describe(raw: dict) -> str:
    if "text" in raw:
        return repr(str(raw["text"]))
    if "dtmf" in raw:
        return f"[keys {raw['dtmf']}]"
    if "audio" in raw:
        return f"[audio {raw['audio']}]"
    return "[silence]" if "silence" in raw else "[hangs up]"


def _words(text: str) -> str:
    """Lower-case words with digit words as numerals, so "five 0" and "5 zero" compare equal."""
    from voicebot.flows.slots import DIGIT_WORDS

    words = re.findall(r"[a-z']+|\d", text.lower())
    return " " + " ".join(DIGIT_WORDS.get(w, w) if w not in ("to", "too", "for", "ate", "o") else w for w in words) + " "


def _as_list(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def check(expect: dict, record: TurnRecord, variables: dict) -> list[str]:
    """Failed expectations of one turn, as sentences (empty when all hold)."""
    failures = [f"unknown expectation '{k}' (known: {', '.join(sorted(EXPECT_KEYS))})" for k in expect if k not in EXPECT_KEYS]
    spoken = " ".join(record.says).lower()
    if "intent" in expect and record.intent != expect["intent"]:
        failures.append(f"expected intent {expect['intent']!r}, understood {record.intent!r}")
    if "heard" in expect and _words(str(expect["heard"])) not in _words(record.heard or ""):
        failures.append(f"expected to hear {expect['heard']!r}, recogniser heard {record.heard!r}")
    for key, value in (expect.get("slots") or {}).items():
        if variables.get(key) != value:
            failures.append(f"expected slot {key} = {value!r}, got {variables.get(key)!r}")
    for text in _as_list(expect["says"]) if "says" in expect else []:
        if text.lower() not in spoken:
            failures.append(f"expected the bot to say {text!r}")
    for text in _as_list(expect["not_says"]) if "not_says" in expect else []:
        if text.lower() in spoken:
            failures.append(f"expected the bot NOT to say {text!r}")
    if "style" in expect and expect["style"] not in record.styles:
        failures.append(f"expected a prompt in style {expect['style']!r}, got {record.styles}")
    if "node" in expect and record.node != expect["node"]:
        failures.append(f"expected to be at node {expect['node']!r}, at {record.node!r}")
    if "lookup" in expect and expect["lookup"] not in record.lookups:
        failures.append(f"expected a lookup of {expect['lookup']!r}, got {record.lookups}")
    if "ended" in expect and record.ended != bool(expect["ended"]):
        failures.append(f"expected the call {'to end' if expect['ended'] else 'to go on'}, it {'ended' if record.ended else 'goes on'}")
    if "transfer" in expect:
        failures += _check_transfer(expect["transfer"], record.transfer)
    return failures


def _check_transfer(expected, actual: Transfer | None) -> list[str]:
    if expected is False:
        return [f"expected no transfer, got one ({actual.reason})"] if actual else []
    if actual is None:
        return ["expected a transfer, there was none"]
    if isinstance(expected, dict):
        return [f"expected transfer {k} {v!r}, got {getattr(actual, k, None)!r}"
                for k, v in expected.items() if getattr(actual, k, None) != v]
    return []


def load_scenarios(path: str | Path) -> tuple[Flow, list[dict]]:
    """The flow a scenario file names and its scenarios; ``FlowError`` when malformed."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FlowError(f"{path}: cannot read scenarios: {exc}") from None
    if not isinstance(data, dict) or "flow" not in data or not isinstance(data.get("scenarios"), list):
        raise FlowError(f"{path}: a scenario file needs 'flow: FILE' and a list under 'scenarios'")
    for i, scenario in enumerate(data["scenarios"]):
        for j, turn in enumerate(scenario.get("turns", []) if isinstance(scenario, dict) else [None]):
            if not isinstance(turn, dict) or sum(k in turn for k in INPUT_KEYS) > 1:
                raise FlowError(f"{path}: scenario {i + 1} turn {j + 1} needs at most one of {', '.join(INPUT_KEYS)} plus 'expect'")
    return load_flow(path.parent / str(data["flow"])), data["scenarios"]


def scenario_files(target: str | Path) -> list[Path]:
    """The scenario files in a directory (``*.yaml``/``*.yml``), or the single file given."""
    target = Path(target)
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise FlowError(f"{target}: no such file or directory")
    files = sorted([*target.glob("*.yaml"), *target.glob("*.yml")])
    if not files:
        raise FlowError(f"{target}: no scenario files (*.yaml) found")
    return files
