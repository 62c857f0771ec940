"""Redaction of log lines: personal data never reaches a log handler.

``RedactionFilter`` is a ``logging.Filter`` that rewrites a record's message (arguments filled
in) and its traceback text with every PII span replaced by ``[TYPE]`` (``redaction.redact``);
it never drops a record. ``install_log_redaction()`` applies it to every record of the
``voicebot`` logger and its children at the moment the record is made, so it holds whatever
handlers the host process (gunicorn, werkzeug, pytest, a CLI) attaches; installing it twice
changes nothing. A logger's own filters would miss child loggers, and handlers belong to the
host, which is why the record factory is the hook.
"""
from __future__ import annotations

import logging
import threading

from voicebot.privacy.redaction import redact_text

_install_lock = threading.Lock()
_installed_prefixes: set[str] = set()


class RedactionFilter(logging.Filter):
    """Replaces PII in a record's message and traceback; always lets the record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> None:
    """Rewrite ``record`` in place: its formatted message and traceback text, redacted."""
    if getattr(record, "redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports that itself, with the raw parts
        return
    record.msg, record.args = redact_text(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
    record.redacted = True


def install_log_redaction(prefix: str = "voicebot") -> None:
    """Redact every record logged by ``prefix`` or a logger below it, from now on, in this process."""
    with _install_lock:
        if prefix in _installed_prefixes:
            return
        _installed_prefixes.add(prefix)
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if record.name == prefix or record.name.startswith(prefix + "."):
                redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
