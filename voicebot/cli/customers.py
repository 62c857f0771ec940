"""``voicebot customers``: bring customer profiles in.

``voicebot customers import FILE.csv`` (header row; columns phone, name, and optionally email,
tier, postcode, birth_date, language, external_id, marketing, recording) and
``voicebot customers import --crm URL`` (a JSON list, or ``{"customers": [...]}``, from an HTTP
CRM endpoint). Prints what was created, updated and rejected (``--json``: one object);
a rejected row is named with its reason and the others are still imported; exit code 1 when
any row was rejected.
"""
from __future__ import annotations

import json
import sys

import click


@click.group(help="Customer profiles: import from CSV or a CRM endpoint.")
def customers():
    pass


@customers.command("import", help="Import customers from FILE.csv or from --crm URL.")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--crm", "crm_url", default=None, help="CRM endpoint returning a JSON list of customers "
              "(default with --crm-default: VOICEBOT_CRM_URL)")
@click.option("--timeout", default=10.0, show_default=True, help="seconds to wait for the CRM")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def import_(file, crm_url, timeout, as_json):
    from voicebot.config import load_settings
    from voicebot.customers.importer import fetch_crm_records, import_csv, import_records
    from voicebot.storage.keys import open_database

    if bool(file) == bool(crm_url):
        raise click.UsageError("give either FILE.csv or --crm URL")
    settings = load_settings()
    db = open_database(settings).db
    try:
        report = import_csv(db, file) if file else import_records(db, fetch_crm_records(crm_url, timeout))
    finally:
        db.engine.dispose()
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        click.echo(f"{report.created} created, {report.updated} updated, {len(report.errors)} rejected")
        for line in report.errors:
            click.echo(f"  {line}", err=True)
    if report.errors:
        sys.exit(1)
