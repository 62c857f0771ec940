"""Customer profiles, verification and import (voicebot.customers) over a real seeded SQLite
database, a real HTTP CRM (a local server that answers, fails or stalls) and the real CLI."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from voicebot.customers.importer import crm_fetcher, import_csv, import_records
from voicebot.customers.profiles import caller_profile
from voicebot.customers.verification import LOCK_MINUTES, MAX_FAILURES, verify_identity
from voicebot.errors import FlowError
from voicebot.flows.loader import load_flow_text
from voicebot.storage.db import Database
from voicebot.storage.phones import phone_hash
from voicebot.storage.seed import seed_demo
from voicebot.storage.tables import Call, Customer, TransferRecord

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
DANA, SHARED, ANA = "+15550004444", "+15550005555", "+15550001111"


@pytest.fixture()
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'customers.db'}")
    seed_demo(database)
    yield database
    database.engine.dispose()


def _dana_id(db) -> int:
    return caller_profile(db, DANA, NOW)["id"]


def test_known_caller_profile_has_name_segments_and_factors_but_nothing_private(db):
    profile = caller_profile(db, "(555) 000-4444", NOW)
    assert (profile["found"], profile["first_name"], profile["tier"]) == (True, "Dana", "gold")
    assert profile["segments"] == ["frequent_buyer"] and profile["marketing_ok"] is True
    assert profile["factors"] == ["postcode", "date_of_birth", "last_order"]
    text = json.dumps(profile)
    for secret in ("94107", "1985", "Blender", "9120"):
        assert secret not in text


def test_unknown_withheld_and_shared_numbers_are_not_personalised(db):
    assert caller_profile(db, "+15559990000", NOW) == {"found": False, "reason": "unknown", "phone": "+15559990000"}
    assert caller_profile(db, "anonymous", NOW) == {"found": False, "reason": "withheld", "phone": ""}
    assert caller_profile(db, "", NOW)["reason"] == "withheld"
    assert caller_profile(db, SHARED, NOW) == {"found": False, "reason": "shared_number", "phone": SHARED}


def test_recent_complaint_segment_comes_from_call_history(db):
    assert caller_profile(db, ANA, NOW)["segments"] == []
    with db.session() as s:
        call = Call(call_sid="CA-old-complaint", caller=ANA, caller_hash=phone_hash(db, ANA), started_at=NOW - timedelta(days=3))
        s.add(call)
        s.flush()
        s.add(TransferRecord(call_id=call.id, destination="agent", reason="caller_frustrated", context={}))
    assert caller_profile(db, ANA, NOW)["recent_complaint"] is True
    assert caller_profile(db, ANA, NOW + timedelta(days=40))["recent_complaint"] is False


def test_verification_by_postcode_birth_date_and_last_order(db):
    cid = _dana_id(db)
    ok = verify_identity(db, cid, "postcode", "nine four one oh seven", NOW)
    assert ok == {"ok": True, "locked": False, "last_order": {
        "number": "9120", "item": "blender", "status": "shipped", "eta": "Friday", "when": "shipped on Tuesday"}}
    assert verify_identity(db, cid, "date_of_birth", "1985-03-14", NOW)["ok"] is True
    assert verify_identity(db, cid, "last_order", "9 1 2 0", NOW)["ok"] is True
    assert verify_identity(db, cid, "last_order", "8830", NOW) == {"ok": False, "locked": False, "reason": "mismatch"}


def test_failed_verification_discloses_nothing_and_locks_after_repeated_failures(db):
    cid = _dana_id(db)
    for attempt in range(1, MAX_FAILURES):
        assert verify_identity(db, cid, "postcode", "12345", NOW) == {"ok": False, "locked": False, "reason": "mismatch"}
    assert verify_identity(db, cid, "postcode", "12345", NOW)["locked"] is True
    assert verify_identity(db, cid, "postcode", "94107", NOW) == {"ok": False, "locked": True, "reason": "locked"}
    later = NOW + timedelta(minutes=LOCK_MINUTES + 1)
    assert verify_identity(db, cid, "postcode", "94107", later)["ok"] is True


def test_verification_without_the_factor_on_file_or_customer_fails(db):
    ana = caller_profile(db, ANA, NOW)["id"]
    assert verify_identity(db, ana, "postcode", "", NOW) == {"ok": False, "locked": False, "reason": "factor not on file"}
    assert verify_identity(db, "", "postcode", "94107", NOW)["reason"] == "no customer"
    assert verify_identity(db, 99999, "postcode", "94107", NOW)["reason"] == "no customer"


class _Crm(BaseHTTPRequestHandler):
    mode = "ok"

    def do_GET(self):  # noqa: N802
        if self.mode == "slow":
            time.sleep(3)
        if self.mode == "broken":
            self.send_response(500)
            self.end_headers()
            return
        phone = parse_qs(urlparse(self.path).query).get("phone", [""])[0]
        if urlparse(self.path).path == "/all":
            body = [{"phone": "+15557770001", "name": "Gus Hale", "postcode": "10001"}, {"phone": "x", "name": "Bad"}]
        elif phone == "+15557770000":
            body = {"phone": phone, "name": "Hana Ito", "postcode": "02139", "language": "ja", "external_id": "crm-7"}
        else:
            body = {}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def crm():
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Crm", (_Crm,), {}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_crm_fills_in_an_unknown_caller_once_and_is_skipped_when_down_or_slow(db, crm):
    url = f"http://127.0.0.1:{crm.server_port}/customer"
    profile = caller_profile(db, "+15557770000", NOW, crm=crm_fetcher(url, 1.0))
    assert (profile["found"], profile["first_name"], profile["language"]) == (True, "Hana", "ja")
    assert caller_profile(db, "+15557770000", NOW)["found"] is True  # stored: no CRM needed next time
    assert caller_profile(db, "+15557770009", NOW, crm=crm_fetcher(url, 1.0))["reason"] == "unknown"
    crm.RequestHandlerClass.mode = "broken"
    assert caller_profile(db, "+15557770008", NOW, crm=crm_fetcher(url, 1.0))["reason"] == "crm_unavailable"
    crm.RequestHandlerClass.mode = "slow"
    started = time.monotonic()
    assert caller_profile(db, "+15557770007", NOW, crm=crm_fetcher(url, 0.3))["reason"] == "crm_unavailable"
    assert time.monotonic() - started < 2.5  # the CRM's 3 s stall is not waited out
    dead = crm_fetcher("http://127.0.0.1:9/customer", 0.5)
    assert caller_profile(db, "+15557770006", NOW, crm=dead)["reason"] == "crm_unavailable"
    assert caller_profile(db, DANA, NOW, crm=dead)["found"] is True  # known callers never wait for the CRM


def test_csv_import_creates_updates_and_names_bad_rows(db, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("phone,name,email,postcode,birth_date,marketing\n"
                    "+1 555 777 1000,Ida Park,ida@example.com,60601,1990-01-02,yes\n"
                    "555-777-1001,Jon Roe,,,,no\n"
                    "12,No Phone,,,,\n"
                    "+15557771002,Kim Lee,,,1990-13-40,\n"
                    "+15550004444,Dana Whitfield,dana@new.example.com,94107,,\n")
    report = import_csv(db, path)
    assert report.to_dict() == {"created": 2, "updated": 1, "rejected": 2, "errors": [
        "row 4: phone '12' is not a phone number", "row 5: birth_date '1990-13-40' is not YYYY-MM-DD"]}
    ida = caller_profile(db, "+15557771000", NOW)
    assert (ida["first_name"], ida["marketing_ok"], ida["factors"]) == ("Ida", True, ["postcode", "date_of_birth"])
    assert caller_profile(db, DANA, NOW)["email"] == "dana@new.example.com"
    assert verify_identity(db, ida["id"], "postcode", "60601", NOW)["ok"] is True


def test_import_keeps_two_people_on_one_line_apart(db):
    import_records(db, [{"phone": "+15557772000", "name": "Lea Roy"}, {"phone": "+15557772000", "name": "Max Roy"}])
    import_records(db, [{"phone": "+15557772000", "name": "Lea Roy", "tier": "gold"}])
    with db.session() as s:
        rows = s.scalars(select(Customer).where(Customer.phone_hash == phone_hash(db, "+15557772000"))).all()
        assert sorted((r.tier for r in rows)) == ["gold", "standard"]
    assert caller_profile(db, "+15557772000", NOW)["reason"] == "shared_number"


def test_cli_import_reports_and_exits_1_on_rejected_rows(tmp_path, crm):
    from voicebot.cli.customers import customers

    env = {"VOICEBOT_DATA_DIR": str(tmp_path), "VOICEBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    good = tmp_path / "good.csv"
    good.write_text("phone,name\n+15557773000,Ned Fox\n")
    result = CliRunner().invoke(customers, ["import", str(good), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"created": 1, "updated": 0, "rejected": 0, "errors": []}
    result = CliRunner().invoke(customers, ["import", "--crm", f"http://127.0.0.1:{crm.server_port}/all"], env=env)
    assert result.exit_code == 1
    assert "1 created, 0 updated, 1 rejected" in result.output
    no_header = tmp_path / "bad.csv"
    no_header.write_text("who,what\n1,2\n")
    result = CliRunner().invoke(customers, ["import", str(no_header)], env=env)
    assert result.exit_code == 1 and "must name at least the columns phone and name" in str(result.exception)
    assert CliRunner().invoke(customers, ["import"], env=env).exit_code == 2


VERIFY_FLOW = """
name: t
start: who
nodes:
  who: {type: lookup, source: customer_by_phone, params: {phone: "{caller}"}, save_as: customer, next: check}
  check: {type: verify, factor: postcode, prompt: ZIP please, next: ok, on_fail: %s}
  ok: {type: hangup, text: "Hello {verified.last_order.item}"}
  refused: {type: hangup, text: Sorry}
"""


def test_verify_node_expands_and_its_references_are_checked():
    flow = load_flow_text(VERIFY_FLOW % "refused")
    assert flow.nodes["check_ask"].sensitive is True and flow.nodes["check_check"].source == "verify_identity"
    with pytest.raises(FlowError) as err:
        load_flow_text(VERIFY_FLOW % "nowhere")
    assert "goes to unknown node 'nowhere'" in str(err.value)
    with pytest.raises(FlowError) as err:
        load_flow_text(VERIFY_FLOW.replace("factor: postcode", "factor: shoe_size") % "refused")
    assert "factor" in str(err.value)
