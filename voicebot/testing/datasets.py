"""Where the shared training/evaluation datasets live (see ``../shared/datasets/README.md``).

``VOICEBOT_DATASETS`` wins; else the ``shared/datasets`` folder beside this checkout (how CI and
the development machines lay it out); else ``/work/shared/datasets``. The folder may be absent
on a user's machine: tests that need it skip, benchmarks say so.
"""
from __future__ import annotations

import os
from pathlib import Path

from voicebot.config import PROJECT_ROOT


def shared_datasets_dir() -> Path:
    """The datasets folder to use (it may not exist)."""
    if os.environ.get("VOICEBOT_DATASETS"):
        return Path(os.environ["VOICEBOT_DATASETS"])
    beside = PROJECT_ROOT.parent / "shared" / "datasets"
    return beside if beside.exists() else Path("/work/shared/datasets")
