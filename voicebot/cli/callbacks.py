"""``voicebot callbacks``: the callbacks callers asked for (``storage.callbacks``).

``voicebot callbacks due [--at ISO] [--json]`` lists pending callbacks whose time has come (by
now, or by ``--at``), soonest first; ``voicebot callbacks list`` lists every pending one;
``voicebot callbacks done ID`` marks one done.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import click


def _db():
    from voicebot.config import load_settings
    from voicebot.storage.keys import open_database

    return open_database(load_settings()).db


def _print(rows: list[dict], as_json: bool) -> None:
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"#{row['id']}  {row['due_at']}  {row['phone']}  {row['name'] or '-'}  ({row['reason'] or 'requested'}): "
                       f"\"{row['requested_text']}\"")
    if not as_json:
        click.echo(f"{len(rows)} callback{'s' if len(rows) != 1 else ''}")


@click.group(help="Callbacks callers asked for.")
def callbacks():
    pass


@callbacks.command(help="Pending callbacks due now (or by --at).")
@click.option("--at", "at", default=None, help="ISO date/time instead of now, e.g. 2026-12-02T10:00")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per callback")
def due(at, as_json):
    from voicebot.storage.callbacks import list_callbacks

    try:
        moment = datetime.fromisoformat(at) if at else datetime.now(timezone.utc)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not an ISO date/time", param_hint="--at") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    db = _db()
    try:
        _print(list_callbacks(db, due_before=moment), as_json)
    finally:
        db.engine.dispose()


@callbacks.command("list", help="Every pending callback.")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per callback")
def list_(as_json):
    from voicebot.storage.callbacks import list_callbacks

    db = _db()
    try:
        _print(list_callbacks(db), as_json)
    finally:
        db.engine.dispose()


@callbacks.command(help="Mark callback ID done.")
@click.argument("callback_id", type=int)
def done(callback_id):
    from voicebot.storage.callbacks import set_status

    db = _db()
    try:
        if not set_status(db, callback_id, "done"):
            raise click.ClickException(f"no callback {callback_id}")
    finally:
        db.engine.dispose()
    click.echo(f"callback {callback_id} done")
