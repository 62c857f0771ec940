"""Which intent model the live calls use: the console's activated version (``storage.learning``,
trained by ``nlu.retrain`` and activated by the evaluation gate) when it knows every intent of
the current flow, else the flow's own model trained on its example phrases."""
from __future__ import annotations

import logging
from pathlib import Path

from voicebot.errors import NLUError, StorageError
from voicebot.nlu.intents import OOS

log = logging.getLogger(__name__)


def active_model_dir(db) -> str | None:
    """The directory of the active console model version, or None (none active, or no database)."""
    if db is None:
        return None
    from voicebot.storage.learning import active_version

    try:
        version = active_version(db)
    except StorageError as exc:
        log.warning("cannot read the active intent model version: %s", exc)
        return None
    return version["path"] if version and Path(version["path"]).is_dir() else None


def load_for_flow(model_dir: str, flow, **kw):
    """The ``Understander`` saved in ``model_dir`` if it knows all of ``flow``'s intents, else None."""
    from voicebot.nlu.understander import Understander

    try:
        understander = Understander.load(model_dir, **kw)
    except NLUError as exc:
        log.warning("active intent model %s cannot be loaded (%s); using the flow's own", model_dir, exc)
        return None
    missing = set(flow.intents) - {OOS} - set(understander.intents.classes)
    if missing:
        log.warning("active intent model %s lacks intents %s of flow %s; using the flow's own (retrain it)",
                    model_dir, ", ".join(sorted(missing)), flow.name)
        return None
    return understander
