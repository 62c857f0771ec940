"""A local stand-in for Twilio's Calls REST API, recording what it was asked.

Speaks the request/response shapes voicebot uses: ``POST
/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` with a form body (``Twiml``, ``Url``,
``Status``), and ``POST .../Calls.json`` creating an outbound call (``To``, ``From``, ``Url``,
``StatusCallback``, ``Timeout``; answered 201 with a new CallSid; ``on_create(fn)`` hears it, and
``voicebot.testing.twilio_rooms`` plays the called party, conferences and queues) and HTTP basic auth (AccountSid:AuthToken), answered with the call resource as
JSON, or Twilio's JSON error body (401 bad credentials, 404 unknown call when ``known_calls``
is set, or a failure queued with ``fail_next``). ``on_update(fn)`` lets a simulated Twilio react
as the real one would (end the media stream after a transfer or hang-up).

Like Twilio, the stand-in answers first and acts afterwards, one request at a time in the order
they came: every listener hears one update (or created call) before any listener hears the
next, even when a listener's own reaction makes the bot send another (a ring-out's status
callback answered by a hand-back).
"""
from __future__ import annotations

import base64
import json
import logging
import queue
import re
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs

log = logging.getLogger(__name__)
_CALL_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-zA-Z]+)/Calls/(?P<call>CA[0-9a-zA-Z]+)\.json$")
_CREATE_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-zA-Z]+)/Calls\.json$")


@dataclass(frozen=True)
class CallUpdate:
    """One recorded ``Calls/{sid}.json`` update request."""

    account_sid: str
    call_sid: str
    params: dict[str, str]
    status_code: int


class RestStandin:
    """A threaded HTTP server on 127.0.0.1 speaking Twilio's Calls update API. ``.url`` is its base URL."""

    def __init__(self, account_sid: str, auth_token: str, port: int = 0):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.updates: list[CallUpdate] = []
        self.known_calls: set[str] | None = None  # None: every CallSid exists
        self._failures: list[tuple[int, int, str]] = []
        self._listeners: list[Callable[[CallUpdate], None]] = []
        self.created: list[CallUpdate] = []  # outbound calls placed (call_sid: the new call's)
        self._create_listeners: list[Callable[[CallUpdate], None]] = []
        self._lock = threading.Lock()
        self._events: queue.Queue = queue.Queue()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                standin._handle(self)

            def do_GET(self):  # noqa: N802
                if self.path == "/updates.json":  # for tools that share a stand-in across processes
                    standin._reply(self, 200, [u.__dict__ for u in standin.updates])
                else:
                    standin._reply(self, 404, {"code": 20404, "message": "not found", "status": 404})

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="rest-standin", daemon=True)
        self._thread.start()
        self._dispatcher = threading.Thread(target=self._dispatch, name="rest-standin-events", daemon=True)
        self._dispatcher.start()

    def on_update(self, listener: Callable[[CallUpdate], None]) -> None:
        self._listeners.append(listener)

    def on_create(self, listener: Callable[[CallUpdate], None]) -> None:
        self._create_listeners.append(listener)

    def fail_next(self, status: int = 500, code: int = 20500, message: str = "Internal Server Error") -> None:
        """Answer the next update with this Twilio error."""
        self._failures.append((status, code, message))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._events.put(None)
        self._dispatcher.join(timeout=5)

    def _dispatch(self) -> None:
        while (event := self._events.get()) is not None:
            listeners, request = event
            for listener in list(listeners):
                try:
                    listener(request)
                except Exception:  # one failing listener must not silence the stand-in for the rest of the test
                    log.exception("REST stand-in listener failed on %s", request.call_sid)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        match = _CALL_PATH.match(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        params = {k: v[-1] for k, v in parse_qs(handler.rfile.read(length).decode("utf-8")).items()}
        created = _CREATE_PATH.match(handler.path)
        if created and not match:
            return self._create(handler, created["account"], params)
        if not match:
            return self._reply(handler, 404, _error(20404, f"The requested resource {handler.path} was not found", 404))
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        account, call = match["account"], match["call"]
        if handler.headers.get("Authorization") != expected or account != self.account_sid:
            status, body = 401, _error(20003, "Authenticate", 401)
        elif self.known_calls is not None and call not in self.known_calls:
            status, body = 404, _error(20404, f"The requested resource /2010-04-01/Accounts/{account}/Calls/{call}.json was not found", 404)
        elif self._failures:
            code_status, code, message = self._failures.pop(0)
            status, body = code_status, _error(code, message, code_status)
        else:
            status = 200
            body = {"sid": call, "account_sid": account, "status": params.get("Status", "in-progress"),
                    "uri": f"/2010-04-01/Accounts/{account}/Calls/{call}.json", "api_version": "2010-04-01"}
        update = CallUpdate(account, call, params, status)
        with self._lock:
            self.updates.append(update)
        self._reply(handler, status, body)
        if status == 200:
            self._events.put((self._listeners, update))

    def _create(self, handler: BaseHTTPRequestHandler, account: str, params: dict[str, str]) -> None:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != expected or account != self.account_sid:
            return self._reply(handler, 401, _error(20003, "Authenticate", 401))
        if not params.get("To") or not params.get("From") or not (params.get("Url") or params.get("Twiml")):
            return self._reply(handler, 400, _error(21201, "To, From and Url (or Twiml) are required", 400))
        call = "CA" + secrets.token_hex(16)
        created = CallUpdate(account, call, params, 201)
        with self._lock:
            self.created.append(created)
        self._reply(handler, 201, {"sid": call, "account_sid": account, "to": params["To"], "from": params["From"],
                                   "status": "queued", "uri": f"/2010-04-01/Accounts/{account}/Calls/{call}.json",
                                   "api_version": "2010-04-01"})
        self._events.put((self._create_listeners, created))

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def _error(code: int, message: str, status: int) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
