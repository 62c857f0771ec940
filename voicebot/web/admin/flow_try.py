"""``/admin/flows/<file>/try`` (admins): a text conversation with the draft (or, without one, the
published flow) before it goes live, driven by text as conversation tests drive it (``testing.conversations``): a
``session.dialogue.Dialogue`` with the real engine and understanding layer, lookups answered
from this server's data sources (``session.lookups.run_lookup``), nothing stored as a call.

The page is stateless: the caller's turns so far travel in the form (``turns``, one per line:
``say: words`` or ``key: 1``) and the whole conversation is replayed for each new turn. The
flow's intent model is trained on its example phrases with the frozen encoder (about a second)
and kept per flow text (``MAX_CACHED`` flows).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from flask import render_template, request

from voicebot.errors import FlowError, NLUError
from voicebot.storage import admin as store
from voicebot.web.admin import bp
from voicebot.web.admin.auth import require
from voicebot.web.admin.flows import flow_file, validate
from voicebot.web.state import current_state

MAX_TURNS = 30
MAX_CACHED = 4
_understanders: OrderedDict = OrderedDict()
_lock = threading.Lock()
_pool = None  # the lookup threads of tried conversations, made on first use


def _lookup_pool():
    global _pool
    from voicebot.session.lookups import lookup_pool

    with _lock:
        if _pool is None:
            _pool = lookup_pool()
        return _pool


def _understander(flow):
    from voicebot.nlu.understander import Understander

    with _lock:
        if flow.sha256 not in _understanders:
            _understanders[flow.sha256] = Understander.from_examples(flow.intents, fine_tune=False)
            while len(_understanders) > MAX_CACHED:
                _understanders.popitem(last=False)
        return _understanders[flow.sha256]


@dataclass
class Exchange:
    caller: str
    intent: str | None = None
    says: list[str] = field(default_factory=list)
    transfer: str = ""
    ended: bool = False


def converse(flow, understander, sources, turns: list[dict]) -> list[Exchange]:
    """Play ``turns`` (``{"text": ...}`` or ``{"dtmf": ...}``) through a Dialogue on ``flow``."""
    from voicebot.events import DtmfPressed, Utterance
    from voicebot.session.dialogue import Dialogue

    dialogue = Dialogue(flow, understander, call_sid="console-try", caller="", now=None)
    exchanges = [Exchange("(call starts)")]
    _settle(dialogue, dialogue.start({}), exchanges[-1], sources)
    for turn in turns:
        if dialogue.state.ended:
            break
        exchange = Exchange(f"key {turn['dtmf']}" if "dtmf" in turn else repr(turn["text"]))
        if "dtmf" in turn:
            actions = dialogue.step(DtmfPressed(turn["dtmf"]))
        else:
            understanding = dialogue.understand(turn["text"])
            exchange.intent = understanding.intent
            dialogue.heard(turn["text"], understanding)
            actions = dialogue.step(Utterance(turn["text"], 1.0, understanding))
        _settle(dialogue, actions, exchange, sources)
        exchange.ended = dialogue.state.ended
        exchanges.append(exchange)
    return exchanges


def _settle(dialogue, actions, exchange: Exchange, sources) -> None:
    """Note what the bot says and does; answer lookups until none is pending."""
    from voicebot.actions import Lookup, Say, Transfer
    from voicebot.session.lookups import run_lookup

    while True:
        lookups = []
        for action in actions:
            if isinstance(action, Say):
                exchange.says.append(action.text)
                dialogue.said(action.text)
            elif isinstance(action, Transfer):
                exchange.transfer = action.reason
            elif isinstance(action, Lookup):
                lookups.append(action)
        if not lookups:
            return
        actions = dialogue.step(run_lookup(_lookup_pool(), sources, lookups[-1]))


def parse_turns(text: str) -> list[dict]:
    """``say: words`` / ``key: 12#`` lines as scenario turns; other lines are ignored."""
    turns = []
    for line in text.splitlines()[:MAX_TURNS]:
        kind, _, value = line.partition(":")
        value = value.strip()
        if kind.strip() == "say" and value:
            turns.append({"text": value[:300]})
        elif kind.strip() == "key" and value:
            turns.append({"dtmf": "".join(c for c in value if c in "0123456789*#")[:20]})
    return [t for t in turns if t.get("text") or t.get("dtmf")]


@bp.route("/flows/<file>/try", methods=["GET", "POST"])
@require("flows")
def flow_try(file: str):
    from voicebot.session.datasources import DataSources

    path, state = flow_file(file), current_state()
    draft = store.get_draft(state.db, file)
    source = draft["source"] if draft else path.read_text(encoding="utf-8")
    history = request.form.get("turns", "") if request.method == "POST" else ""
    said, key = request.form.get("say", "").strip(), request.form.get("key", "").strip()
    if said:
        history += f"say: {said}\n"
    elif key:
        history += f"key: {key}\n"
    if request.form.get("restart"):
        history = ""
    try:
        flow = validate(source, path)
        result = converse(flow, _understander(flow), DataSources.for_flow(flow, state.db), parse_turns(history))
        error = ""
    except (FlowError, NLUError) as exc:
        result, error = None, str(exc)
    return render_template("admin/flow_try.html", file=file, draft=draft, history=history, result=result, error=error)
