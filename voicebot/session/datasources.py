"""Data sources a flow's ``lookup`` nodes call, run beside the session runner (never by the engine).

Three kinds, one call: ``DataSources.call(source, params) -> dict``:
- built-in SQL over the customers/orders tables (``customer_by_phone``: the caller's profile from
  ``voicebot.customers.profiles``, asking the CRM for unknown numbers when one is configured;
  ``verify_identity``: a ``verify`` node's check; ``request_callback``: store a callback; ``order_by_number``, ``orders_by_phone``,
  ``recommendations``);
- HTTP APIs declared in the flow (GET, JSON object answer, with a timeout);
- Python functions registered by name (``register``) or declared as ``module:function``.
Every failure (error, non-dict answer) is raised as ``LookupFailedError``. ``call`` runs on the
caller's thread: the lookup pool and the one time limit are ``voicebot.session.lookups``'s (an
HTTP source also gives its socket the timeout its declaration names, so a stuck request ends).
Registration is explicit: nothing registers itself on import.
"""
from __future__ import annotations

import importlib
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

from voicebot.errors import LookupFailedError
from voicebot.customers.profiles import caller_profile
from voicebot.customers.recommendations import recommend_for_phone
from voicebot.customers.verification import verify_identity
from voicebot.flows import schema as s
from voicebot.session.callback_requests import request_callback
from voicebot.storage import customers
from voicebot.storage.db import Database

SourceFunction = Callable[[dict[str, Any]], dict[str, Any]]


class DataSources:
    """A registry of named data sources. Thread-safe to ``run``; register at start-up."""

    def __init__(self) -> None:
        self._sources: dict[str, SourceFunction] = {}

    @classmethod
    def for_flow(cls, flow, db: Database | None, crm: Callable[[str], dict | None] | None = None) -> "DataSources":
        """The built-in SQL sources over ``db`` plus the HTTP / Python sources ``flow`` declares;
        ``crm`` (``customers.importer.crm_fetcher``) is asked about callers ``db`` does not know."""
        sources = cls()
        if db is not None:
            sources.add_sql(db, crm)
        for name, spec in flow.model.data_sources.items():
            if isinstance(spec, s.HttpSource):
                sources.register(name, http_source(spec.url, spec.timeout_s))
            elif spec.function:
                sources.register(name, _import_function(name, spec.function))
        return sources

    def add_sql(self, db: Database, crm: Callable[[str], dict | None] | None = None) -> None:
        """Register the built-in SQL sources over ``db``."""
        self.register("customer_by_phone", lambda p: caller_profile(db, str(p.get("phone", "")), crm=crm))
        self.register("request_callback", lambda p: request_callback(db, p))
        self.register("verify_identity", lambda p: verify_identity(db, p.get("customer", ""), str(p.get("factor", "")),
                                                                   str(p.get("answer", ""))))
        self.register("order_by_number", lambda p: customers.order_by_number(db, str(p.get("number", ""))))
        self.register("orders_by_phone", lambda p: customers.orders_by_phone(db, str(p.get("phone", ""))))
        self.register("recommendations", lambda p: recommend_for_phone(db, str(p.get("phone", ""))))

    def register(self, name: str, function: SourceFunction) -> None:
        """Make ``function(params) -> dict`` available to lookup nodes as ``name``."""
        self._sources[name] = function

    def names(self) -> set[str]:
        return set(self._sources)

    def call(self, source: str, params: dict[str, Any]) -> dict[str, Any]:
        """Call ``source`` with ``params``; its dict answer, or ``LookupFailedError``."""
        function = self._sources.get(source)
        if function is None:
            raise LookupFailedError(f"data source '{source}' is not registered")
        try:
            result = function(dict(params))
        except LookupFailedError:
            raise
        except Exception as exc:  # any failure of outside code becomes one error type
            raise LookupFailedError(f"data source '{source}' failed: {exc}") from exc
        if not isinstance(result, dict):
            raise LookupFailedError(f"data source '{source}' returned {type(result).__name__}, not a JSON object")
        return result


def http_source(url_template: str, timeout_s: float) -> SourceFunction:
    """A source that GETs ``url_template`` with ``{param}`` placeholders URL-encoded."""

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        quoted = {k: urllib.parse.quote(str(v), safe="") for k, v in params.items()}
        try:
            url = url_template.format(**quoted)
        except (KeyError, IndexError) as exc:
            raise LookupFailedError(f"URL {url_template} needs parameter {exc}") from None
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                body = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise LookupFailedError(f"GET {url} failed: {getattr(exc, 'reason', exc)}") from None
        except ValueError:
            raise LookupFailedError(f"GET {url} did not return JSON") from None
        return body

    return fetch


def _import_function(name: str, target: str) -> SourceFunction:
    module_name, attr = target.split(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise LookupFailedError(f"data source '{name}': cannot import {target}: {exc}") from None
