"""Conversation-test files: YAML scenarios, what each turn expects, and how a result reads.

A scenario file::

    flow: ../retail_demo.yaml          # relative to this file
    scenarios:
      - name: order status by keypad
        caller: "+15550001111"         # CallStarted.caller
        local_time: "2026-11-24T10:00" # drives business hours
        resumed: transfer_failed       # optional: the call came back to the bot after a transfer
        turns:
          - expect: {says: "welcome back"}      # no input: checks the greeting
          - text: where is my order              # or dtmf: "4172#", audio: FILE.wav, silence: true, hangup: true
            expect: {intent: order_status, says: "order number"}

Audio paths are relative to the scenario file. A scenario whose audio files are missing (e.g.
an evaluation-only dataset outside the repo that is not on this machine) is skipped, with the
missing file named, rather than failed. ``voicebot.testing.conversations`` plays them.

Expectations (all optional): ``intent``, ``heard`` (ASR text contains these words; digit words
and numerals compare equal), ``slots`` (subset),
``says`` / ``not_says`` (text or list, case-insensitive substrings of what the bot said this
turn), ``style``, ``node``, ``lookup`` (source asked), ``transfer`` (true/false or
``{reason, destination}``), ``ended``. A failing scenario reports a side-by-side transcript.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from voicebot.actions import Transfer
from voicebot.errors import FlowError
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


def missing_audio(scenario: dict, base_dir: Path) -> list[Path]:
    """Audio files a scenario's turns name that do not exist (paths relative to ``base_dir``)."""
    paths = [base_dir / str(t["audio"]) for t in scenario.get("turns", []) if isinstance(t, dict) and "audio" in t]
    return [p for p in paths if not p.is_file()]


def describe(raw: dict) -> str:
    """How a caller turn reads in a report."""
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
