"""``voicebot privacy``: redact personal data from text (more verbs arrive with storage wiring).

``voicebot privacy redact TEXT... | --text-file FILE [--json]``: each input line is redacted on
its own. With ``--json``, one object per line: ``{"text": redacted, "entities": [{"type",
"start", "end"}, ...]}`` with offsets into that input line (a public contract: keep the keys).
"""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.group(help="Privacy tools: redact personal data.")
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


__all__ = ["privacy"]
