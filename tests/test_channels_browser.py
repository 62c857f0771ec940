"""The chat widget in real headless Chromium: a customer on ``/chat`` taps menu buttons, types,
is handed to a human, the agent answers from the agent page, and the customer sees it; a dropped
connection comes back with what was missed."""
from __future__ import annotations

import pytest

from voicebot.storage.seed import seed_demo


@pytest.fixture(autouse=True, scope="module")
def demo_data(echo_server):
    seed_demo(echo_server.state.db)


def bot_lines(page) -> list[str]:
    return page.locator("#voicebot-chat .vb-bot").all_inner_texts()


def test_a_customer_chats_is_handed_over_and_sees_the_agents_reply(echo_server, chromium):
    context = chromium.new_context()
    customer = context.new_page()
    customer.goto(echo_server.url + "/chat")
    customer.wait_for_selector("#voicebot-chat .vb-choice >> text=Order status", timeout=120_000)
    assert bot_lines(customer) == ["Welcome to Acme.", "How can I help? Pick a topic, or type your order number."]
    customer.click("#voicebot-chat .vb-choice >> text=Order status")
    customer.wait_for_selector("#voicebot-chat .vb-bot >> text=Please type your order number.")
    customer.fill("#voicebot-chat .vb-text", "4172")
    customer.press("#voicebot-chat .vb-text", "Enter")
    customer.wait_for_selector("#voicebot-chat .vb-bot >> text=has shipped")
    assert "Order 4 1 7 2 has shipped and arrives Thursday." in bot_lines(customer)
    customer.fill("#voicebot-chat .vb-text", "I want to talk to a person")
    customer.press("#voicebot-chat .vb-text", "Enter")
    customer.wait_for_selector("#voicebot-chat .vb-bot >> text=Connecting you to an agent.")
    session = customer.get_attribute("#voicebot-chat", "data-session")

    agent_context = chromium.new_context()
    agent = agent_context.new_page()
    agent.goto(echo_server.url + "/agent/chats")
    agent.click(f"a[href='/agent/chats/{session}']")
    agent.wait_for_selector("#lines .customer >> text=I want to talk to a person")
    assert "agent_requested" in agent.inner_text("h1")
    agent.fill("#reply-text", "Hi, I'm Sam. I can see order 4172.")
    agent.press("#reply-text", "Enter")
    customer.wait_for_selector("#voicebot-chat .vb-agent >> text=Agent: Hi, I'm Sam. I can see order 4172.", timeout=10_000)

    customer.evaluate("document.getElementById('voicebot-chat').voicebot.drop()")  # the connection drops
    agent.fill("#reply-text", "Are you still there?")
    agent.press("#reply-text", "Enter")
    customer.wait_for_selector("#voicebot-chat .vb-agent >> text=Agent: Are you still there?", timeout=15_000)
    customer.fill("#voicebot-chat .vb-text", "yes, thanks")
    customer.press("#voicebot-chat .vb-text", "Enter")
    agent.wait_for_selector("#lines .customer >> text=yes, thanks", timeout=10_000)
    assert customer.locator("#voicebot-chat .vb-agent").count() == 2  # each line once, replay or not
    context.close()
    agent_context.close()
