"""Customer records in: a CSV file (``import_csv``) or an HTTP CRM endpoint (``fetch_crm_records``
for a bulk import, ``crm_fetcher`` for one caller at call start).

A record is a mapping with ``phone`` and ``name`` (required) and optionally ``email``, ``tier``,
``postcode``, ``birth_date`` (YYYY-MM-DD), ``language``, ``external_id`` (the CRM's id) and
consent flags ``marketing`` / ``recording`` (yes/no, true/false, 1/0). Promises:
- a record is matched by ``external_id``, else by phone and name (so two people sharing a
  household number stay two customers), updated in place when found, created otherwise;
- a bad record never stops the others: ``ImportReport.errors`` names its row and the reason,
  and nothing of that row is stored;
- the CRM's failures (down, slow, not JSON, wrong shape) all become ``CrmUnavailableError``.
"""
from __future__ import annotations

import csv
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

from voicebot.errors import CrmUnavailableError, CustomerDataError
from voicebot.storage.customers import customers_with_phone
from voicebot.storage.db import Database
from voicebot.storage.encrypted import readable
from voicebot.storage.phones import normalise_phone, phone_hash
from voicebot.storage.tables import Customer

FIELDS = ("phone", "name", "email", "tier", "postcode", "birth_date", "language", "external_id", "marketing", "recording")
FLAGS = ("marketing", "recording")
_TRUE, _FALSE = {"1", "true", "yes", "y"}, {"0", "false", "no", "n", ""}


@dataclass
class ImportReport:
    """What an import did: counts, and one line per rejected row."""

    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "rejected": len(self.errors), "errors": self.errors}


def clean_record(raw: dict) -> dict:
    """A record checked and normalised; ``CustomerDataError`` says what is wrong."""
    unknown = sorted(k for k in raw if k not in FIELDS and k not in ("orders",))
    if unknown:
        raise CustomerDataError(f"unknown column(s) {', '.join(unknown)}")
    record = {k: str(v).strip() for k, v in raw.items() if k in FIELDS and v is not None}
    record["phone"] = normalise_phone(record.get("phone", ""))
    if len(record["phone"]) < 8:
        raise CustomerDataError(f"phone {raw.get('phone')!r} is not a phone number")
    if not record.get("name"):
        raise CustomerDataError("name is empty")
    if record.get("birth_date"):
        try:
            record["birth_date"] = date.fromisoformat(record["birth_date"]).isoformat()
        except ValueError:
            raise CustomerDataError(f"birth_date {record['birth_date']!r} is not YYYY-MM-DD") from None
    if record.get("email") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", record["email"]):
        raise CustomerDataError(f"email {record['email']!r} is not an email address")
    for flag in FLAGS:
        if flag in record:
            value = record[flag].lower()
            if value not in _TRUE | _FALSE:
                raise CustomerDataError(f"{flag} {record[flag]!r} is not yes/no")
            record[flag] = value in _TRUE
    return record


def import_records(db: Database, records: Iterable[dict], first_row: int = 1) -> ImportReport:
    """Store ``records`` (rows numbered from ``first_row`` in error messages)."""
    report = ImportReport()
    db.create_all()
    for number, raw in enumerate(records, start=first_row):
        try:
            record = clean_record(raw)
        except CustomerDataError as exc:
            report.errors.append(f"row {number}: {exc}")
            continue
        with db.session() as session:
            customer = _match(session, db, record)
            if customer is None:
                customer = Customer(phone=record["phone"], name=record["name"], phone_hash="")
                session.add(customer)
                report.created += 1
            else:
                report.updated += 1
            _apply(db, customer, record)
    return report


def _match(session, db: Database, record: dict) -> Customer | None:
    if record.get("external_id"):
        found = session.query(Customer).filter(Customer.external_id == record["external_id"]).one_or_none()
        if found is not None:
            return found
    for customer in customers_with_phone(session, db, record["phone"]):
        if readable(customer.name, "").casefold() == record["name"].casefold():
            return customer
    return None


def _apply(db: Database, customer: Customer, record: dict) -> None:
    for key in ("phone", "name", "email", "tier", "postcode", "birth_date", "language", "external_id"):
        if key in record:
            setattr(customer, key, record[key])
    customer.phone_hash = phone_hash(db, record["phone"])
    preferences = dict(readable(customer.preferences, {}) or {})
    preferences.update({flag: record[flag] for flag in FLAGS if flag in record})
    customer.preferences = preferences


def import_csv(db: Database, path: str | Path) -> ImportReport:
    """Import a CSV file with a header row (columns: ``FIELDS``)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"phone", "name"} <= set(reader.fieldnames):
                raise CustomerDataError(f"{path}: the header must name at least the columns phone and name")
            return import_records(db, list(reader), first_row=2)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CustomerDataError(f"cannot read {path}: {exc}") from None


def _get_json(url: str, timeout_s: float):
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise CrmUnavailableError(f"CRM GET {url} answered {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise CrmUnavailableError(f"CRM GET {url} failed: {getattr(exc, 'reason', exc)}") from None
    except ValueError:
        raise CrmUnavailableError(f"CRM GET {url} did not return JSON") from None


def fetch_crm_records(url: str, timeout_s: float = 10.0) -> list[dict]:
    """Every record the CRM lists at ``url`` (a JSON list, or an object with ``customers``)."""
    body = _get_json(url, timeout_s)
    records = body.get("customers") if isinstance(body, dict) else body
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise CrmUnavailableError(f"CRM GET {url} did not return a list of customer objects")
    return records


def crm_fetcher(url: str, timeout_s: float = 1.5) -> Callable[[str], dict | None]:
    """One caller from the CRM: GET ``url`` with ``?phone=+1555...`` added; a JSON object is
    the record, 404 or ``{}`` is "not known", anything else raises ``CrmUnavailableError``."""

    def fetch(phone: str) -> dict | None:
        joiner = "&" if "?" in url else "?"
        body = _get_json(f"{url}{joiner}{urllib.parse.urlencode({'phone': phone})}", timeout_s)
        if body is None or body == {}:
            return None
        if not isinstance(body, dict):
            raise CrmUnavailableError("CRM answer for a caller is not a JSON object")
        try:
            return clean_record({k: v for k, v in body.items() if k in FIELDS})
        except CustomerDataError as exc:
            raise CrmUnavailableError(f"CRM record unusable: {exc}") from None

    return fetch
