"""Screenshots of the console with real data: calls placed by the simulated Twilio with recorded
speech through the real pipeline (ASR, NLU, flow, TTS), then the dashboard, analytics, a call
and the demo flow's graph in headless Chromium, saved as docs/console-*.png. Slow: loads models."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from admin_helpers import PASSWORD, add_users
from conftest import ACCOUNT_SID, AUTH_TOKEN

from voicebot.storage import calls
from voicebot.testing.twilio_sim import Keys, Speech, TwilioSimulator

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "audio_fixtures"
DOCS = ROOT / "docs"  # VOICEBOT_UPDATE_SCREENSHOTS=1 writes the checked-in pictures; else a temporary folder


def test_dashboard_and_analytics_show_charts_of_simulated_calls(real_server, chromium, tmp_path):
    out = DOCS if os.environ.get("VOICEBOT_UPDATE_SCREENSHOTS") == "1" else tmp_path
    sim = TwilioSimulator(real_server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID,
                          rest_standin=real_server.standin, reply_timeout_s=60)

    def spoken(text: str) -> Speech:  # a caller's words in espeak-ng's voice, as a phone carries them
        return Speech(real_server.state.pipeline.tts.synthesize(text).at_rate(8000).pcm, text)

    placed = [  # espeak-ng's words chosen so that the recogniser hears them at 8 kHz (it mishears "store hours")
        sim.call([Speech.from_wav(FIXTURES / "order_4172.wav")], caller="+15550001111"),
        sim.call([spoken("I want to return an item"), Keys("0")], caller="+15550002222"),
        sim.call([spoken("recommendations")], caller="+15550003333"),
        sim.call([Speech.from_wav(FIXTURES / "read_LJ001-0001_8k_mulaw.wav"),
                  Speech.from_wav(FIXTURES / "read_LJ001-0012_8k_mulaw.wav")], caller="+15550004444"),
        sim.call([Keys("1"), Speech.from_wav(FIXTURES / "order_5093.wav")], caller="+15550005555"),
        sim.call([Speech.from_wav(FIXTURES / "order_4172.wav"), Keys("2"), Keys("5")], caller="+15550001111"),  # survey: 5
    ]
    assert placed[1].transfer is not None
    add_users(real_server.state.db, "admin")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(real_server.url + "/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("canvas#intents[data-drawn]")
    assert int(page.inner_text("#n-calls")) >= len(placed)
    assert re.fullmatch(r"\d\.\d\d / 5 \(\d+\)", page.inner_text("#satisfaction")), page.inner_text("#satisfaction")
    lines = calls.load_call(real_server.state.db, placed[1].call_sid)["transcript"]
    assert "returns" in {row["intent"] for row in lines}, [(r["speaker"], r["text"], r["intent"]) for r in lines]
    assert int(page.get_attribute("canvas#intents", "data-drawn")) >= 3  # several intents heard
    assert int(page.get_attribute("canvas#latency", "data-drawn")) >= 1
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / "console-dashboard.png"), full_page=True)
    page.goto(real_server.url + "/admin/analytics")
    page.wait_for_selector("canvas#outcomes[data-drawn]")
    assert page.locator("#worst tr").count() >= 2  # a header and at least one prompt
    page.screenshot(path=str(out / "console-analytics.png"), full_page=True)
    page.goto(real_server.url + f"/admin/calls/{placed[1].call_sid}")
    assert page.inner_text("#outcome") == "transferred"
    assert page.locator("#transcript tr.caller").count() >= 1
    page.screenshot(path=str(out / "console-call.png"), full_page=True)
    page.goto(real_server.url + "/admin/flows/retail_demo")
    assert page.locator("svg#flow-graph g.node").count() >= 10
    page.screenshot(path=str(out / "console-flow.png"), full_page=True)
    context.close()
