"""The browser test rig itself: Debian's Chromium under Playwright opens the running app's start
page (what every console and chat test builds on)."""
from __future__ import annotations


def test_headless_chromium_opens_the_start_page(page, echo_server):
    response = page.goto(echo_server.url + "/")
    assert response.status == 200
    assert "/twilio/voice" in page.content()  # the start page says where to point Twilio
