"""Read-only queries over calls, turns and transfers for the admin console (search, analytics,
the review queue). ``storage.calls`` stays the only writer of those tables; nothing here writes.

Values are returned as plain dicts; encrypted values no key opens read as ``[unreadable]``.
Times are timezone-aware UTC ``datetime`` objects (SQLite hands back naive UTC; fixed here).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from voicebot.storage.db import Database
from voicebot.storage.encrypted import UnreadableValue
from voicebot.storage.phones import phone_hashes
from voicebot.storage.tables import Call, TransferRecord, Turn

UNREADABLE = "[unreadable]"
OUT_OF_SCOPE = {None, "oos"}
LOW_CONFIDENCE = 0.6  # a caller turn under this is worth a reviewer's look
EMOTION_WINDOW = 5000  # newest calls the emotion filter looks through


def search_calls(db: Database, *, since: datetime | None = None, until: datetime | None = None,
                 outcome: str = "", intent: str = "", channel: str = "", caller: str = "", emotion: str = "",
                 limit: int = 200) -> list[dict[str, Any]]:
    """Calls started in [since, until), newest first, filtered by exact outcome, channel, an intent
    any caller turn had, the caller's phone (matched through its keyed hash) and an emotion any
    caller turn showed (turn details are encrypted, so that filter runs here over the newest
    ``EMOTION_WINDOW`` calls)."""
    limit = max(1, min(limit, 1000))
    with db.session() as s:
        query = select(Call).order_by(Call.id.desc()).limit(EMOTION_WINDOW if emotion else limit)
        if since is not None:
            query = query.where(Call.started_at >= since)
        if until is not None:
            query = query.where(Call.started_at < until)
        if outcome:
            query = query.where(Call.outcome == outcome)
        if channel:
            query = query.where(Call.channel == channel)
        if caller:
            query = query.where(Call.caller_hash.in_(phone_hashes(db, caller) or ["-"]))
        if intent:
            query = query.where(Call.id.in_(select(Turn.call_id).where(Turn.intent == intent)))
        rows = s.scalars(query).all()
        ids = [c.id for c in rows]
        turns = s.scalars(select(Turn).where(Turn.call_id.in_(ids), Turn.speaker == "caller")).all() if ids else []
        by_call: dict[int, list[Turn]] = {}
        for t in turns:
            by_call.setdefault(t.call_id, []).append(t)
        found = [{"call_sid": c.call_sid, "started_at": _aware(c.started_at), "channel": c.channel,
                  "caller": _plain(c.caller, ""), "status": c.status, "outcome": c.outcome or "",
                  "duration_s": c.duration_s,
                  "intents": sorted({t.intent for t in by_call.get(c.id, []) if t.intent}),
                  "emotions": sorted({str(d["emotion"]) for d in (_plain(t.details, {}) for t in by_call.get(c.id, []))
                                      if isinstance(d, dict) and d.get("emotion")}),
                  "max_frustration": max((t.frustration for t in by_call.get(c.id, []) if t.frustration is not None),
                                         default=None)}
                 for c in rows]
        return [row for row in found if not emotion or emotion in row["emotions"]][:limit]


def calls_with_turns(db: Database, *, since: datetime | None = None, until: datetime | None = None,
                     limit: int = 20_000) -> list[dict[str, Any]]:
    """Calls in [since, until), oldest first, each with its turns and transfer reasons: the input
    of the console's analytics (``web.admin.aggregates``)."""
    with db.session() as s:
        query = select(Call).order_by(Call.id).limit(limit)
        if since is not None:
            query = query.where(Call.started_at >= since)
        if until is not None:
            query = query.where(Call.started_at < until)
        rows = s.scalars(query).all()
        ids = [c.id for c in rows]
        turns: dict[int, list[dict]] = {}
        transfers: dict[int, list[str]] = {}
        if ids:
            for t in s.scalars(select(Turn).where(Turn.call_id.in_(ids)).order_by(Turn.id)):
                turns.setdefault(t.call_id, []).append(_turn(t))
            for r in s.scalars(select(TransferRecord).where(TransferRecord.call_id.in_(ids)).order_by(TransferRecord.id)):
                transfers.setdefault(r.call_id, []).append(r.reason)
        return [{"call_sid": c.call_sid, "started_at": _aware(c.started_at), "channel": c.channel,
                 "outcome": c.outcome or "", "status": c.status, "duration_s": c.duration_s,
                 "flow_name": c.flow_name, "flow_version": c.flow_version, "turns": turns.get(c.id, []), "transfer_reasons": transfers.get(c.id, [])} for c in rows]


def review_candidates(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """Caller turns worth a reviewer's look, newest first: out of scope (no intent or ``oos``),
    understood with confidence under ``LOW_CONFIDENCE``, or the last caller turn of a call that
    went to a human. Each: ``turn_id, call_sid, text, intent, confidence, reason, faq_id`` (the FAQ
    answer the bot gave, if any)."""
    with db.session() as s:
        query = (select(Turn, Call).join(Call, Call.id == Turn.call_id).where(Turn.speaker == "caller")
                 .order_by(Turn.id.desc()).limit(limit * 5))
        found, last_of_call = [], {}
        for turn, call in s.execute(query):
            last_of_call.setdefault(call.id, turn.id)
        for turn, call in s.execute(query):
            reason = ("out of scope" if turn.intent in OUT_OF_SCOPE else
                      "low confidence" if turn.confidence is not None and turn.confidence < LOW_CONFIDENCE else
                      "escalated" if call.outcome == "transferred" and last_of_call[call.id] == turn.id else "")
            text = _plain(turn.text, UNREADABLE)
            if reason and text.strip() and text != UNREADABLE:
                details = _plain(turn.details, {})
                found.append({"turn_id": turn.id, "call_sid": call.call_sid, "text": text, "intent": turn.intent,
                              "confidence": turn.confidence, "reason": reason, "at": _aware(turn.created_at),
                              "faq_id": details.get("faq_id") if isinstance(details, dict) else None})
            if len(found) >= limit:
                break
        return found


def _turn(t: Turn) -> dict[str, Any]:
    details = _plain(t.details, {})
    return {"id": t.id, "speaker": t.speaker, "text": _plain(t.text, UNREADABLE), "intent": t.intent,
            "confidence": t.confidence, "frustration": t.frustration, "latency_ms": t.latency_ms,
            "details": details if isinstance(details, dict) else {}, "at": _aware(t.created_at)}


def _plain(value: Any, default: Any) -> Any:
    return default if isinstance(value, UnreadableValue) else value


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def caller_turn(db: Database, turn_id: int) -> dict[str, Any] | None:
    """One stored caller turn (``id, text, intent, confidence, call_sid``), or None."""
    if not 0 < int(turn_id) < 2**63:
        return None
    with db.session() as s:
        row = s.execute(select(Turn, Call.call_sid).join(Call, Call.id == Turn.call_id).where(Turn.id == int(turn_id))).first()
        if row is None or row[0].speaker != "caller":
            return None
        turn, call_sid = row
        return {"id": turn.id, "text": _plain(turn.text, UNREADABLE), "intent": turn.intent,
                "confidence": turn.confidence, "call_sid": call_sid}
