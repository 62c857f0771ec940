"""Replayed and stale Twilio requests, correctly signed, are refused (409) and change nothing;
the media stream token is single use, bound to its CallSid, and expires.

What Twilio's data allows: the signature covers the URL and form but no time or nonce, so a
captured request verifies forever. A voice webhook is refused once its call streamed, ended or
began long ago; a status callback when its SequenceNumber is not newer, a final status repeats,
or its Timestamp is stale."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from conftest import ACCOUNT_SID, StreamClient, answer_call, new_call_sid, signed_post

from voicebot.errors import TelephonyError
from voicebot.storage import calls
from voicebot.storage.tables import Call


def _voice(call_sid: str) -> dict:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+15551230000", "To": "+15552220000",
            "CallStatus": "ringing", "Direction": "inbound"}


def _status(call_sid: str, status: str, **extra) -> dict:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "CallStatus": status, **extra}


def _shift(db, call_sid: str, **columns_back: float) -> None:
    """Move the call's timestamps into the past by the given seconds."""
    with db.session() as s:
        call = s.query(Call).filter_by(call_sid=call_sid).one()
        for column, seconds in columns_back.items():
            setattr(call, column, getattr(call, column) - timedelta(seconds=seconds))


def test_a_voice_webhook_replayed_after_the_stream_started_is_refused(echo_server):
    call_sid, url, params = answer_call(echo_server.url)
    client = StreamClient(url)
    try:
        client.start(call_sid, params)
        assert client.recv_until(lambda m: m["event"] == "media") is not None  # the call is live
        replay = signed_post(echo_server.url, "/twilio/voice", _voice(call_sid))
        assert replay.status_code == 409 and "replay" in replay.text and "<Stream" not in replay.text
        call = calls.get_call(echo_server.state.db, call_sid)
        assert call.stream_token == params["token"] and call.token_used  # no new token was issued
    finally:
        client.close()


def test_a_voice_webhook_for_an_ended_or_old_call_is_refused(echo_server):
    db = echo_server.state.db
    ended, _, _ = answer_call(echo_server.url)
    assert signed_post(echo_server.url, "/twilio/status", _status(ended, "no-answer")).status_code == 204
    assert signed_post(echo_server.url, "/twilio/voice", _voice(ended)).status_code == 409
    retried, _, first = answer_call(echo_server.url)
    _, _, second = answer_call(echo_server.url, retried)  # Twilio's retry, seconds later: fine
    assert second["token"] != first["token"]
    _shift(db, retried, started_at=calls.RETRY_WINDOW_S + 5)
    stale = signed_post(echo_server.url, "/twilio/voice", _voice(retried))
    assert stale.status_code == 409 and "stale" in stale.text
    assert calls.get_call(db, retried).stream_token == second["token"]


def test_the_same_signed_status_callback_twice_is_refused_the_second_time(echo_server):
    db = echo_server.state.db
    call_sid, _, _ = answer_call(echo_server.url)
    progress = _status(call_sid, "in-progress", SequenceNumber="1")
    assert signed_post(echo_server.url, "/twilio/status", progress).status_code == 204
    assert signed_post(echo_server.url, "/twilio/status", progress).status_code == 409
    older = _status(call_sid, "ringing", SequenceNumber="0")
    assert signed_post(echo_server.url, "/twilio/status", older).status_code == 409  # out of date
    done = _status(call_sid, "completed", SequenceNumber="2", CallDuration="30")
    assert signed_post(echo_server.url, "/twilio/status", done).status_code == 204
    replay = signed_post(echo_server.url, "/twilio/status", done)
    assert replay.status_code == 409
    call = calls.get_call(db, call_sid)
    assert (call.status, call.duration_s, call.status_sequence) == ("completed", 30.0, 2)


def test_a_final_status_repeated_without_a_sequence_number_is_a_replay(echo_server):
    call_sid, _, _ = answer_call(echo_server.url)
    first = _status(call_sid, "completed", CallDuration="12")
    assert signed_post(echo_server.url, "/twilio/status", first).status_code == 204
    assert signed_post(echo_server.url, "/twilio/status", dict(first, CallDuration="13")).status_code == 409
    assert calls.get_call(echo_server.state.db, call_sid).duration_s == 12.0


def test_a_status_callback_with_a_stale_timestamp_is_refused(echo_server):
    call_sid, _, _ = answer_call(echo_server.url)
    old = format_datetime(datetime.now(timezone.utc) - timedelta(hours=2), usegmt=True)
    stale = signed_post(echo_server.url, "/twilio/status", _status(call_sid, "completed", Timestamp=old))
    assert stale.status_code == 409 and "stale" in stale.text
    assert calls.get_call(echo_server.state.db, call_sid).status == "ringing"
    now = format_datetime(datetime.now(timezone.utc), usegmt=True)
    assert signed_post(echo_server.url, "/twilio/status", _status(call_sid, "completed", Timestamp=now)).status_code == 204


def test_an_expired_stream_token_is_refused(echo_server):
    db = echo_server.state.db
    call_sid, url, params = answer_call(echo_server.url)
    _shift(db, call_sid, stream_token_at=calls.TOKEN_TTL_S + 1)
    client = StreamClient(url)
    try:
        client.start(call_sid, params)
        assert client.closed_by_server(timeout=5)
        assert not [m for m in client.received if m["event"] == "media"]
    finally:
        client.close()
    assert not calls.get_call(db, call_sid).token_used
    with pytest.raises(TelephonyError, match="expired"):
        calls.claim_stream_token(db, call_sid, params["token"])


def test_a_token_opens_only_its_own_call_and_only_once(echo_server):
    db = echo_server.state.db
    first, _, first_params = answer_call(echo_server.url)
    second, _, _ = answer_call(echo_server.url)
    with pytest.raises(TelephonyError, match="wrong token"):
        calls.claim_stream_token(db, second, first_params["token"])
    calls.claim_stream_token(db, first, first_params["token"])
    with pytest.raises(TelephonyError, match="already used"):
        calls.claim_stream_token(db, first, first_params["token"])
    with pytest.raises(TelephonyError, match="unknown call"):
        calls.claim_stream_token(db, new_call_sid(), first_params["token"])
