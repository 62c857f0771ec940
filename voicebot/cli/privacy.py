"""``voicebot privacy``: redact personal data from text, and the data-rights operations over the
database (retention purge, export and erasure of a customer, re-encryption with a new key).

``voicebot privacy redact TEXT... | --text-file FILE [--json]``: each input line is redacted on
its own. With ``--json``, one object per line: ``{"text": redacted, "entities": [{"type",
"start", "end"}, ...]}`` with offsets into that input line (a public contract: keep the keys).

``purge`` (cron-safe, idempotent), ``export --phone N``, ``erase --phone N`` and ``rekey`` open
the configured database with its key (``storage.keys.open_database``) and print one JSON
object on standard output.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import click


@click.group(help="Privacy tools: redact personal data; purge, export, erase and re-encrypt stored data.")
def privacy():
    pass


@privacy.command(help="Replace card numbers, SSNs, phones, emails, birth dates, addresses... with [TYPE].")
@click.argument("texts", nargs=-1)
@click.option("--text-file", type=click.Path(dir_okay=False, exists=True, allow_dash=True),
              help="a file with one utterance per line ('-' for standard input)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per input line")
def redact(texts, text_file, as_json):
    from voicebot.privacy.redaction import redact as redact_text

    lines = [line for text in texts for line in text.splitlines() or [""]]
    if text_file:
        with click.open_file(text_file, encoding="utf-8", errors="replace") as handle:
            lines += handle.read().splitlines()
    if not texts and not text_file:
        raise click.UsageError("give TEXT arguments or --text-file")
    for line in lines:
        result = redact_text(line)
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False) if as_json else result.text)


@privacy.command(help="Delete data older than its retention period (VOICEBOT_RETAIN_*_DAYS). Idempotent: safe from cron.")
def purge():
    from voicebot.storage.conversation_rights import purge_conversations
    from voicebot.storage.retention import purge_expired, retention_days

    settings, db = _open()
    deleted = purge_expired(db, retention_days(settings))
    texts = purge_conversations(db, retention_days(settings))  # chat, SMS, email, WeChat
    click.echo(json.dumps({"deleted": deleted, "deleted_conversations": texts, "retention_days": retention_days(settings)}))


@privacy.command(help="Everything held about a customer (profile, orders, consent, calls with transcripts), as JSON.")
@click.option("--phone", required=True, help="the customer's phone number, any format")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="write to FILE (mode 0600), not standard output")
def export(phone, out):
    from voicebot.storage.conversation_rights import export_conversations
    from voicebot.storage.subject_data import export_subject

    _, db = _open()
    subject = export_subject(db, _phone(phone))
    subject["conversations"] = export_conversations(db, _phone(phone))  # chat, SMS, email, WeChat
    data = json.dumps(subject, ensure_ascii=False, indent=2)
    if not out:
        click.echo(data)
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data + "\n")
    click.echo(json.dumps({"written": str(Path(out).resolve())}))


@privacy.command(help="Delete everything held about a customer, from every table.")
@click.option("--phone", required=True, help="the customer's phone number, any format")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def erase(phone, yes):
    from voicebot.storage.conversation_rights import erase_conversations
    from voicebot.storage.subject_data import erase_subject

    phone = _phone(phone)
    if not yes:
        click.confirm(f"Delete everything held about {phone}? This cannot be undone", abort=True, err=True)
    _, db = _open()
    click.echo(json.dumps({"phone": phone, "deleted": erase_subject(db, phone),
                           "deleted_conversations": erase_conversations(db, phone)}))


@privacy.command(help="Re-encrypt everything with the newest key (the first of VOICEBOT_ENCRYPTION_KEY); idempotent.")
def rekey():
    from rich.progress import Progress

    from voicebot.storage.rekeying import rekey_database

    _, db = _open()
    with Progress(transient=True, console=_stderr_console()) as progress:
        task = progress.add_task("re-encrypting", total=None)
        report, hashes = rekey_database(db, progress=lambda n: progress.advance(task, n))
    click.echo(json.dumps({"key_id": db.keyring.key_ids[0], "examined": report.examined, "rewritten": report.rewritten,
                           "hashes_rewritten": hashes, "unreadable": report.unreadable}))
    if report.unreadable:
        raise click.ClickException(f"{len(report.unreadable)} value(s) no configured key opens were left as they are "
                                   "(listed above): keep the old key until they are dealt with")


def _open():
    from voicebot.config import load_settings
    from voicebot.privacy.logs import install_log_redaction
    from voicebot.storage.keys import open_database

    install_log_redaction()
    settings = load_settings()
    opened = open_database(settings)
    if opened.key_file_created:
        click.echo(f"generated a new encryption key in {opened.key_file_created}: back it up", err=True)
    return settings, opened.db


def _phone(value: str) -> str:
    from voicebot.storage.phones import normalise_phone

    phone = normalise_phone(value)
    if len(phone) < 8:
        raise click.BadParameter(f"{value!r} is not a phone number (give at least 7 digits, e.g. +15550001111)",
                                 param_hint="--phone")
    return phone


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


__all__ = ["privacy"]
