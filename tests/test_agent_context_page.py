"""The agent's page for a handed-over call, in headless Chromium on the real server: the "at a
glance" box shows who (the profile with its segments), why, the frustration over the call and
what is known; ``/agent/transfers/latest`` is the newest record."""
from __future__ import annotations

import requests

from voicebot.actions import Transfer
from voicebot.handoff.context import TranscriptLine, build_context, spoken_summary
from voicebot.storage import calls


def test_the_agent_page_shows_the_whole_context_at_a_glance(page, echo_server):
    db = echo_server.state.db
    sid = "CA" + "ab" * 16
    calls.begin_call(db, sid, "+15550004444")
    profile = {"found": True, "name": "Dana Whitfield", "tier": "gold", "segments": ["frequent_buyer", "recent_complaint"]}
    transfer = Transfer("+15550100000", "caller_frustrated", {"intent": "order_status", "slots": {"order_number": "9120"}})
    lines = [TranscriptLine("caller", "where is my blender", "order_status"), TranscriptLine("caller", "this is useless", "oos")]
    context = build_context(transfer, call_sid=sid, caller="+15550004444", transcript=lines, customer=profile,
                            frustration_trace=[0.2, 0.55, 0.81])
    record_id = calls.save_transfer(db, sid, "+15550100000", "caller_frustrated", context)
    assert requests.get(f"{echo_server.url}/agent/transfers/latest", timeout=5).json()["id"] == record_id
    page.goto(f"{echo_server.url}/agent/transfers/{record_id}/view")
    assert page.inner_text("#who") == "Dana Whitfield (gold, frequent buyer, recent complaint)"
    assert page.inner_text("#frustration") == "Frustration over the call: 0.2 → 0.55 → 0.81 (peak 0.81)"
    assert page.inner_text("#known") == "Known: order_number = 9120"
    assert page.inner_text("#why") == 'Transferred (caller_frustrated) about order_status; last said: "this is useless".'
    assert spoken_summary(context) == ("Caller Dana Whitfield, gold customer, frequent buyer, recent complaint. "
                                       "Reason: caller frustrated, about order status. Known: order number 9120. "
                                       "The caller is upset.")
