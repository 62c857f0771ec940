"""Data sources over a real seeded SQLite database, a real local HTTP server and registered
Python functions; failures and time-outs become LookupFailedError. PostgreSQL when configured."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import private_pg_schema
from sqlalchemy import func, select

from voicebot.actions import Lookup
from voicebot.errors import LookupFailedError
from voicebot.events import LookupCompleted, LookupFailed
from voicebot.flows.loader import load_flow_text
from voicebot.session.datasources import DataSources, http_source
from voicebot.session.lookups import lookup_pool, run_lookup
from voicebot.storage import flow_versions
from voicebot.storage.db import Database
from voicebot.storage.seed import seed_demo
from voicebot.storage.tables import Customer, Order


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('sources') / 'demo.db'}")
    seed_demo(database)
    yield database
    database.engine.dispose()


@pytest.fixture(scope="module")
def sources(db):
    s = DataSources()
    s.add_sql(db)
    return s


def test_demo_facts(sources):
    shipped = sources.call("order_by_number", {"number": "4172"})
    assert (shipped["found"], shipped["status"], shipped["eta"]) == (True, "shipped", "Thursday")
    assert sources.call("order_by_number", {"number": "5093"})["status"] == "processing"
    assert sources.call("order_by_number", {"number": "9999"}) == {"found": False, "number": "9999"}


def test_customer_by_phone_normalises_numbers(sources):
    for phone in ("+15550001111", "+1 (555) 000-1111", "555-000-1111"):
        assert sources.call("customer_by_phone", {"phone": phone})["first_name"] == "Ana"
    assert sources.call("customer_by_phone", {"phone": "+15559990000"})["found"] is False


def test_recommendations_come_from_past_purchases(sources):
    ana = sources.call("recommendations", {"phone": "+15550001111"})
    assert ana["found"] and ana["last_item"] == "wireless headphones"
    assert "usb-c charger" in ana["items"] and "headphones" not in ana["items"]  # not what she owns
    stranger = sources.call("recommendations", {"phone": "+15559990000"})
    assert stranger["found"] is False and stranger["items"]  # best sellers instead
    orders = sources.call("orders_by_phone", {"phone": "+15550001111"})
    assert [o["number"] for o in orders["orders"]] == ["4172", "3381"]  # newest first


def test_seeding_is_idempotent(db):
    def counts():
        with db.session() as session:
            return session.scalar(select(func.count(Customer.id))), session.scalar(select(func.count(Order.id)))

    before = counts()
    seed_demo(db)
    assert counts() == before and before[0] >= 3


def test_unknown_source_and_failing_functions(sources):
    with pytest.raises(LookupFailedError, match="not registered"):
        sources.call("weather", {})
    local = DataSources()
    local.register("boom", lambda params: 1 / 0)
    local.register("not_a_dict", lambda params: [1, 2])
    local.register("echo", lambda params: {"got": params})
    assert local.call("echo", {"a": 1}) == {"got": {"a": 1}}
    with pytest.raises(LookupFailedError, match="failed: division by zero"):
        local.call("boom", {})
    with pytest.raises(LookupFailedError, match="not a JSON object"):
        local.call("not_a_dict", {})


def test_lookups_run_on_the_pool_with_their_own_time_limit():
    """One pool, one timeout: a source that never answers is given up at the lookup's
    ``timeout_s`` while it is still running (its thread is abandoned, not waited for)."""
    release, finished = threading.Event(), threading.Event()

    def stuck(params):
        release.wait(30)
        finished.set()
        return {"late": True}

    local = DataSources()
    local.register("stuck", stuck)
    local.register("echo", lambda params: {"got": params})
    local.register("boom", lambda params: 1 / 0)
    pool = lookup_pool()
    try:
        assert run_lookup(pool, local, Lookup("l1", "echo", {"a": 1})) == LookupCompleted("l1", {"got": {"a": 1}})
        failed = run_lookup(pool, local, Lookup("l2", "boom"))
        assert isinstance(failed, LookupFailed) and "division by zero" in failed.reason
        timed_out = run_lookup(pool, local, Lookup("l3", "stuck", timeout_s=0.2))
        assert timed_out == LookupFailed("l3", "timed out after 0.2 s") and not finished.is_set()  # given up while it runs
    finally:
        release.set()
        pool.shutdown(wait=True)


class _Api(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        if self.path.startswith("/broken"):
            body, status = b"<html>oops</html>", 500
        elif self.path.startswith("/text"):
            body, status = b"not json", 200
        else:
            body, status = json.dumps({"path": self.path}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the client gave up (the time-out test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_source_fills_and_encodes_parameters(api):
    fetch = http_source(api + "/loyalty/{phone}", timeout_s=2)
    assert fetch({"phone": "+1 555"}) == {"path": "/loyalty/%2B1%20555"}


def test_http_source_failures(api):
    with pytest.raises(LookupFailedError, match="failed"):
        http_source(api + "/slow", timeout_s=0.3)({})
    with pytest.raises(LookupFailedError, match="failed"):
        http_source(api + "/broken", timeout_s=2)({})
    with pytest.raises(LookupFailedError, match="did not return JSON"):
        http_source(api + "/text", timeout_s=2)({})
    with pytest.raises(LookupFailedError, match="needs parameter"):
        http_source(api + "/x/{missing}", timeout_s=2)({})


def test_flow_declared_sources_are_registered(api, db):
    flow = load_flow_text(f"""\
name: sources
start: look
data_sources:
  loyalty: {{type: http, url: "{api}/loyalty/{{phone}}", timeout_s: 2}}
  upper: {{type: python, function: "string:capwords"}}
nodes:
  look: {{type: lookup, source: loyalty, params: {{phone: "{{caller}}"}}, save_as: points, next: bye}}
  bye: {{type: hangup}}
""")
    sources = DataSources.for_flow(flow, db)
    assert {"loyalty", "upper", "order_by_number"} <= sources.names()
    assert sources.call("loyalty", {"phone": "42"}) == {"path": "/loyalty/42"}
    with pytest.raises(LookupFailedError, match="data source 'upper' failed"):
        sources.call("upper", {})  # capwords needs a string, gets the params dict: a real failure path


def test_flow_versions_repository(db):
    first = flow_versions.save_flow_version(db, "demo", "a: 1", "sha-a")
    assert flow_versions.save_flow_version(db, "demo", "a: 1", "sha-a") == first  # unchanged: not duplicated
    second = flow_versions.save_flow_version(db, "demo", "a: 2", "sha-b")
    assert [v["id"] for v in flow_versions.list_flow_versions(db, "demo")] == [second, first]
    assert flow_versions.get_flow_version(db, first)["source"] == "a: 1"
    assert flow_versions.get_flow_version(db, 10**6) is None


@pytest.mark.postgres
def test_seed_and_lookups_on_postgresql():
    with private_pg_schema() as url:
        _seed_and_look_up(Database(url))


def _seed_and_look_up(database):
    seed_demo(database)
    seed_demo(database)
    sources = DataSources()
    sources.add_sql(database)
    assert sources.call("order_by_number", {"number": "4172"})["eta"] == "Thursday"
    assert sources.call("order_by_number", {"number": "9999"})["found"] is False
    assert sources.call("customer_by_phone", {"phone": "+15550001111"})["first_name"] == "Ana"
    database.engine.dispose()
