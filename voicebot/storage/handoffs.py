"""A handed-over call that comes back to the bot (no agent answered, the queue wait ran out):
``reopen_stream`` gives its record a fresh one-time Media Stream token, as the voice webhook
does for a new call, so the returning stream is authenticated the same way.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy import select

from voicebot.errors import StorageError
from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.tables import Call


def reopen_stream(db: Database, call_sid: str) -> tuple[str, str, str]:
    """A fresh stream token for ``call_sid``, and the call's caller and called numbers.
    Raises ``StorageError`` when the call is unknown."""
    token = secrets.token_urlsafe(24)
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is None:
            raise StorageError(f"cannot give call {call_sid} back to the bot: no such call")
        call.stream_token, call.stream_token_at, call.token_used = token, datetime.now(timezone.utc), False
        call.status, call.ended_at = "in-progress", None
        return token, readable(call.caller, ""), readable(call.called, "")
