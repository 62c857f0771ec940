"""The admin console in real headless Chromium (Debian's, driven by Playwright) against a real
server: each role logs in (an analyst is refused flow editing with 403), an admin edits a flow,
sees the validator's message for an invalid one, publishes and rolls back; a call placed by the
simulated Twilio is opened from the calls list; a supervisor labels utterances with one click
each, retrains, reads the gate's report and rolls back."""
from __future__ import annotations

import pytest
from admin_helpers import FLOW, PASSWORD, add_users
from conftest import ACCOUNT_SID, AUTH_TOKEN

from voicebot.storage import calls, learning
from voicebot.testing.live_server import LiveServer
from voicebot.testing.twilio_sim import Keys, TwilioSimulator

UTTERANCES = {"billing": ["why is my bill so high", "I was charged twice this month", "I paid twice",
                          "my invoice amount is wrong", "question about my last bill"],
              "store_hours": ["are you open on sunday", "what are your opening hours", "is the shop open late tonight",
                              "opening times this weekend", "how late are you open"]}


@pytest.fixture(scope="module")
def console_server(echo_app_factory, tmp_path_factory):
    flow_path = tmp_path_factory.mktemp("console-flows") / "tiny.yaml"
    flow_path.write_text(FLOW)
    app, sessions = echo_app_factory(flow_path=str(flow_path))
    db = app.extensions["voicebot"].db
    add_users(db, "admin", "supervisor", "analyst")
    with LiveServer(app) as server:
        yield server.url, db, flow_path, app


def _login(chromium, url: str, name: str):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(url + "/admin/")
    assert page.url.endswith("/admin/login?next=/admin/")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#who")
    assert page.inner_text("#who") == f"{name} ({name})"
    return context, page


def test_each_role_logs_in_and_an_analyst_may_not_edit_flows(chromium, console_server):
    url, db, _, _ = console_server
    for role, sees_flows in (("admin", True), ("supervisor", False), ("analyst", False)):
        context, page = _login(chromium, url, role)
        assert (page.locator("nav >> text=Flows").count() == 1) is sees_flows
        assert page.locator("canvas#intents").count() == 1  # the dashboard's charts
        if role == "analyst":
            response = page.goto(url + "/admin/flows/tiny/edit")
            assert response.status == 403
            page.goto(url + "/admin/")
        page.click("#logout")
        page.wait_for_selector("#username")
        context.close()


def test_a_wrong_password_is_refused_in_the_page(page, console_server):
    url, _, _, _ = console_server
    page.goto(url + "/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", "guess")
    page.click("#login")
    assert page.inner_text("#login-error") == "wrong user name or password"


def test_an_admin_edits_publishes_and_rolls_back_a_flow(chromium, console_server):
    url, _, flow_path, _ = console_server
    context, page = _login(chromium, url, "admin")
    page.goto(url + "/admin/flows/tiny")
    assert page.locator("svg#flow-graph g.node").count() == 4
    page.goto(url + "/admin/flows/tiny/edit")
    page.fill("#source", FLOW.replace("goto: billing}", "goto: billling}"))
    page.click("#publish")
    problems = page.inner_text("#problems")
    assert f"{flow_path}:11: node 'menu' goes to unknown node 'billling'" in problems
    assert "The published version is unchanged" in problems and flow_path.read_text() == FLOW
    page.fill("#source", FLOW.replace("We open at ten.", "We open at eight."))
    page.click("#publish")
    assert page.inner_text("#message").startswith("published ")
    assert "We open at eight." in flow_path.read_text()
    page.goto(url + "/admin/flows/tiny/history")
    versions = page.locator("tr.version")
    assert versions.count() == 2
    oldest = versions.nth(1).get_attribute("data-id")
    page.click(f"#rollback-{oldest}")
    page.wait_for_selector("#versions")
    assert flow_path.read_text() == FLOW
    context.close()


def test_a_call_from_the_simulated_twilio_opens_in_the_console(chromium, console_server, rest_standin):
    url, _, _, _ = console_server
    sim = TwilioSimulator(url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, rest_standin=rest_standin)
    result = sim.call([Keys("0")], caller="+15550004444")  # the echo session transfers on 0
    assert result.transfer is not None
    context, page = _login(chromium, url, "supervisor")
    page.goto(url + "/admin/calls?outcome=transferred")
    page.click(f"text={result.call_sid}")
    assert page.inner_text("h1") == f"Call {result.call_sid}"
    assert page.inner_text("#outcome") == "transferred"
    transfer = page.inner_text(".transfer")
    assert "to +15550100000 · reason caller pressed 0" in transfer and '"digits": "0"' in transfer
    context.close()


def test_a_supervisor_relabels_retrains_sees_the_gate_and_rolls_back(chromium, console_server):
    url, db, _, _ = console_server
    call_id = calls.begin_call(db, "CAbrowserlearn", "+15550005555")
    for texts in UTTERANCES.values():
        for text in texts:
            calls.add_turn(db, call_id, "bot", "Say billing or store hours.")
            calls.add_turn(db, call_id, "caller", text, intent="oos", confidence=0.1)
    calls.end_call(db, call_id, "abandoned", "hangup")
    context, page = _login(chromium, url, "supervisor")
    page.goto(url + "/admin/review")
    for intent, texts in UTTERANCES.items():
        for text in texts:
            row = page.locator("tr.item", has_text=text)
            row.locator(f"button.label-{intent}").click()  # one click
            page.wait_for_selector("#queue")
            assert page.locator("tr.item", has_text=text).count() == 0
    assert len(learning.current_labels(db)) == 10
    page.goto(url + "/admin/models")
    page.click("#retrain")
    report = page.inner_text("#gate-report")
    assert "version 1 activated" in report and "not worse: accuracy" in report
    assert page.locator("#gate-table tr.per-intent").count() == 2
    assert learning.active_version(db)["id"] == 1
    page.click("#baseline")  # roll back to the flow's own model
    page.wait_for_selector("#versions")
    assert learning.active_version(db) is None
    page.click("#activate-1")
    page.wait_for_selector("#versions")
    assert learning.active_version(db)["id"] == 1
    context.close()


def test_an_admin_adds_an_faq_answer_in_the_page_and_sees_it_listed(page, console_server):
    from voicebot.storage import faq

    url, db, _, _ = console_server
    page.goto(url + "/admin/login?next=/admin/faq")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#faq-add")
    page.fill("#faq-add textarea[name=variants]", "is there parking at the store\nwhere can I park")
    page.fill("#faq-add textarea[name=answer]", "Free parking behind the store.")
    page.click("#faq-add button")
    page.wait_for_selector("#faq-list tr.faq")
    row = page.locator("#faq-list tr.faq").last
    assert row.locator("textarea[name=answer]").input_value() == "Free parking behind the store."
    assert row.locator("textarea[name=variants]").input_value() == "is there parking at the store\nwhere can I park"
    assert [a["answer"] for a in faq.answers(db)][-1] == "Free parking behind the store."
