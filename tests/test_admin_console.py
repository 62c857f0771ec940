"""The admin console over the real Flask app (test client, real SQLite, real argon2id and CSRF):
login and lockout, CSRF refusals, roles with audited 403s, calls search and redaction for
analysts, analytics with CSV export, and ``voicebot admin create-user``."""
from __future__ import annotations

import csv
import io
import re

import pytest
from admin_helpers import FLOW, PASSWORD, add_users, csrf_token, login
from click.testing import CliRunner

from voicebot.storage import admin as store
from voicebot.storage import calls


@pytest.fixture()
def console(echo_app_factory):
    app, _ = echo_app_factory(public_url="http://localhost")
    db = app.extensions["voicebot"].db
    add_users(db, "admin", "supervisor", "analyst")
    return app, db


def _actions(db) -> list[tuple[str, str, str]]:
    return [(e["actor"], e["action"], e["target"]) for e in store.audit_entries(db)]


def test_pages_need_a_login(console):
    app, _ = console
    client = app.test_client()
    response = client.get("/admin/calls")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login?next=/admin/calls")
    assert client.post("/admin/logout").status_code in (400, 401)  # no CSRF token / no user: never a logout


def test_login_and_logout_are_audited(console):
    app, db = console
    client = app.test_client()
    response = login(client, "admin")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="who">admin (admin)<' in page
    token = csrf_token(page)
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302
    assert _actions(db)[:2] == [("admin", "logout", ""), ("admin", "login", "127.0.0.1")]


def test_a_login_without_or_with_a_forged_csrf_token_is_refused(console):
    app, db = console
    client = app.test_client()
    token = csrf_token(client.get("/admin/login").get_data(as_text=True))
    missing = client.post("/admin/login", data={"username": "admin", "password": PASSWORD})
    assert missing.status_code == 400 and "CSRF token is missing" in missing.get_data(as_text=True)
    forged = client.post("/admin/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "x" + token[1:]})
    assert forged.status_code == 400 and "CSRF token is invalid" in forged.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # still logged out
    assert not any(a == "login" for _, a, _ in _actions(db))


def test_wrong_passwords_lock_the_user_out_even_for_the_right_one(console):
    app, db = console
    client = app.test_client()
    for _ in range(5):
        wrong = login(client, "supervisor", "not the password")
        assert wrong.status_code == 401 and "wrong user name or password" in wrong.get_data(as_text=True)
    locked = login(client, "supervisor")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 800
    assert "too many login attempts" in locked.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    actions = [a for actor, a, _ in _actions(db) if actor == "supervisor"]
    assert actions == ["login.locked"] + ["login.failed"] * 5


def test_roles_get_403_for_what_they_may_not_do_and_it_is_audited(console):
    app, db = console
    analyst, supervisor, admin = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((analyst, "analyst"), (supervisor, "supervisor"), (admin, "admin")):
        assert login(client, name).status_code == 302
    assert analyst.get("/admin/flows").status_code == 403
    assert analyst.get("/admin/review").status_code == 403
    assert analyst.get("/admin/analytics").status_code == 200
    assert supervisor.get("/admin/audit").status_code == 403
    assert supervisor.get("/admin/review").status_code == 200
    assert supervisor.get("/admin/flows").status_code == 403
    assert admin.get("/admin/flows").status_code == 200
    forbidden = [(e["actor"], e["target"], e["details"]["role"]) for e in store.audit_entries(db, action="forbidden")]
    assert forbidden == [("supervisor", "/admin/flows", "supervisor"), ("supervisor", "/admin/audit", "supervisor"),
                         ("analyst", "/admin/review", "analyst"), ("analyst", "/admin/flows", "analyst")]
    audit_page = admin.get("/admin/audit?action=forbidden").get_data(as_text=True)
    assert audit_page.count('<td class="action">forbidden</td>') == 4


def _stored_call(db, sid: str, caller: str = "+15550001111") -> None:
    call_id = calls.begin_call(db, sid, caller)
    calls.add_turn(db, call_id, "bot", "How can I help?")
    calls.add_turn(db, call_id, "caller", "my email is ana@example.com and I want billing", intent="billing",
                   confidence=0.91, frustration=0.2, latency_ms=640.0, details={"asr_confidence": 0.83})
    calls.add_turn(db, call_id, "caller", "agent now", intent="oos", confidence=0.3, frustration=0.7, latency_ms=900.0,
                   details={"emotion": "angry"})
    calls.save_transfer(db, sid, "+15550100000", "caller asked for an agent", {"summary": "wants billing, ana@example.com"})
    calls.end_call(db, call_id, "transferred", "hangup")


def test_calls_search_and_the_call_page_redacted_for_analysts(console):
    app, db = console
    _stored_call(db, "CAadmin1")
    other = calls.begin_call(db, "CAadmin2", "+15559998888")
    calls.end_call(db, other, "contained", "hangup")
    supervisor, analyst = app.test_client(), app.test_client()
    login(supervisor, "supervisor")
    login(analyst, "analyst")
    found = supervisor.get("/admin/calls?outcome=transferred&intent=billing").get_data(as_text=True)
    assert "CAadmin1" in found and "CAadmin2" not in found
    by_phone = supervisor.get("/admin/calls?customer=(555) 999-8888").get_data(as_text=True)
    assert "CAadmin2" in by_phone and "CAadmin1" not in by_phone
    angry = supervisor.get("/admin/calls?emotion=angry").get_data(as_text=True)
    assert "CAadmin1" in angry and "CAadmin2" not in angry and "<td>angry</td>" in angry
    assert "no calls match" in supervisor.get("/admin/calls?emotion=joyful").get_data(as_text=True)
    assert supervisor.get("/admin/calls?from=yesterday").status_code == 400
    assert supervisor.get("/admin/calls?outcome=exploded").status_code == 400
    full = supervisor.get("/admin/calls/CAadmin1").get_data(as_text=True)
    assert "ana@example.com and I want billing" in full and "0.83" in full and "640 ms" in full
    assert "caller asked for an agent" in full and "+15550001111" in full
    redacted = analyst.get("/admin/calls/CAadmin1").get_data(as_text=True)
    assert "ana@example.com" not in redacted and "my email is [EMAIL] and I want billing" in redacted
    assert "+15550001111" not in redacted and "***11" in redacted and 'id="redacted-note"' in redacted
    assert supervisor.get("/admin/calls/CAnothing").status_code == 404
    views = [(e["actor"], e["details"]["redacted"]) for e in store.audit_entries(db, action="call.view")]
    assert views == [("analyst", True), ("supervisor", False)]


def test_analytics_page_and_csv_export(console):
    app, db = console
    _stored_call(db, "CAstats1")
    contained = calls.begin_call(db, "CAstats2", "+15550002222")
    calls.end_call(db, contained, "contained", "hangup")
    client = app.test_client()
    login(client, "analyst")
    page = client.get("/admin/analytics").get_data(as_text=True)
    assert 'id="containment">50.0%<' in page and 'id="transfer-rate">50.0%<' in page
    assert 'id="chart-data"' in page and "vendor/chartjs/chart.umd.min.js" in page
    rows = list(csv.reader(io.StringIO(client.get("/admin/analytics.csv").get_data(as_text=True))))
    assert rows[0] == ["metric", "key", "value"]
    assert ["containment", "", "0.5"] in rows and ["intent_distribution", "billing", "1"] in rows
    assert ["transfer_reasons", "caller asked for an agent", "1"] in rows
    assert client.get("/static/vendor/chartjs/chart.umd.min.js").status_code == 200


def test_cli_creates_users_and_refuses_bad_ones(tmp_path, monkeypatch):
    from voicebot.cli.admin import admin
    from voicebot.config import load_settings
    from voicebot.storage.keys import open_database

    monkeypatch.setenv("VOICEBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VOICEBOT_ADMIN_PASSWORD", PASSWORD)
    runner = CliRunner()
    made = runner.invoke(admin, ["create-user", "ops.lead", "--role", "supervisor"])
    assert made.exit_code == 0, made.output
    assert "created supervisor ops.lead" in made.output
    again = runner.invoke(admin, ["create-user", "ops.lead", "--role", "analyst"])
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    bad_role = runner.invoke(admin, ["create-user", "x", "--role", "root"])
    assert bad_role.exit_code == 2 and "root" in bad_role.output
    monkeypatch.setenv("VOICEBOT_ADMIN_PASSWORD", "short")
    weak = runner.invoke(admin, ["create-user", "weak", "--role", "admin"])
    assert weak.exit_code == 1 and "at least 10 characters" in weak.output
    db = open_database(load_settings()).db
    user = store.get_user(db, "ops.lead")
    assert user["role"] == "supervisor" and user["password_hash"].startswith("$argon2id$")
    assert store.get_user(db, "weak") is None
    assert [(e["actor"], e["action"], e["target"]) for e in store.audit_entries(db)] == [("cli", "user.create", "ops.lead")]


# -- flows -------------------------------------------------------------------------------------------



@pytest.fixture()
def flow_console(echo_app_factory, tmp_path):
    flow_path = tmp_path / "flows" / "tiny.yaml"
    flow_path.parent.mkdir()
    flow_path.write_text(FLOW)
    app, _ = echo_app_factory(public_url="http://localhost", flow_path=str(flow_path))
    db = app.extensions["voicebot"].db
    add_users(db, "admin")
    client = app.test_client()
    login(client, "admin")
    return client, db, flow_path


def _post_flow(client, source: str, action: str):
    token = csrf_token(client.get("/admin/flows/tiny/edit").get_data(as_text=True))
    return client.post("/admin/flows/tiny/edit", data={"source": source, "action": action, "csrf_token": token})


def test_an_invalid_flow_is_refused_with_the_validators_message_and_nothing_changes(flow_console):
    client, db, path = flow_console
    broken = FLOW.replace("goto: hours}", "goto: nowhere}")
    response = _post_flow(client, broken, "publish")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"{path}:12: node &#39;menu&#39; goes to unknown node &#39;nowhere&#39;" in page
    assert "The published version is unchanged" in page
    assert path.read_text() == FLOW and store.get_draft(db, "tiny") is None
    assert [e["details"]["problems"] for e in store.audit_entries(db, action="flow.refused")] == [page.count('class="problem error"')]


def test_draft_publish_history_diff_and_rollback(flow_console):
    client, db, path = flow_console
    edited = FLOW.replace("We open at ten.", "We open at nine.")
    assert _post_flow(client, edited, "save").status_code == 302
    assert path.read_text() == FLOW and store.get_draft(db, "tiny")["source"] == edited
    assert "We open at nine." in client.get("/admin/flows/tiny/edit").get_data(as_text=True)
    assert _post_flow(client, edited, "publish").status_code == 302
    assert path.read_text() == edited and store.get_draft(db, "tiny") is None
    history = client.get("/admin/flows/tiny/history").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'class="version" data-id="(\d+)"', history)]
    assert len(ids) == 2  # the text it replaced, then the published one
    diff = client.get(f"/admin/flows/tiny/diff/{ids[1]}").get_data(as_text=True)
    assert '<span class="del">-    text: We open at ten.</span>' in diff and '<span class="add">+    text: We open at nine.</span>' in diff
    token = csrf_token(history)
    assert client.post(f"/admin/flows/tiny/rollback/{ids[1]}", data={"csrf_token": token}).status_code == 302
    assert path.read_text() == FLOW
    actions = [e["action"] for e in store.audit_entries(db) if e["action"].startswith("flow.")]
    assert actions == ["flow.rollback", "flow.publish", "flow.draft"]
    graph = client.get("/admin/flows/tiny").get_data(as_text=True)
    assert graph.count('class="node"') == 4 and 'data-name="menu"' in graph
    assert client.get("/admin/flows/..%2Fsecret").status_code == 404
    assert client.get("/admin/flows/nothing/edit").status_code == 404


def test_trying_a_draft_talks_to_the_draft_not_the_live_flow(flow_console):
    client, db, path = flow_console
    _post_flow(client, FLOW.replace("Billing is open nine to five.", "Billing is open around the clock."), "save")
    token = csrf_token(client.get("/admin/flows/tiny/try").get_data(as_text=True))
    page = client.post("/admin/flows/tiny/try", data={"csrf_token": token, "turns": "", "say": "a question about my invoice"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Billing is open around the clock." in text and "nine to five" not in text
    assert "Say billing or store hours." in text and "say: a question about my invoice" in text
    assert path.read_text() == FLOW  # trying changed nothing
