"""The layering rules of docs/architecture.md, enforced on the source.

Every ``import`` of a voicebot module anywhere in a file (top level or inside a function) is an
edge from the importing module's layer to the imported one's; an edge not in ``ALLOWED`` fails
the build, naming the file, line and rule. Also: no module over ``MAX_LINES`` lines.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "voicebot"
MAX_LINES = 350
CONTRACTS = {"errors", "events", "actions", "config", "observability", "vocabulary", "__init__"}  # leaf modules, importable by all

# Which layers each layer may import (besides itself and the contracts). Data flows one way:
# the stages (audio, asr, nlu, flows, tts) never reach sideways or up; flows is pure; only
# session wires the stages; telephony and session never import web.
ALLOWED: dict[str, set[str]] = {
    "audio": set(),
    "asr": {"audio"},
    "nlu": {"audio"},
    "tts": {"audio"},
    "flows": set(),
    "handoff": set(),
    "storage": {"privacy"},  # encrypted columns; data-rights operations (export, erase, purge) live in storage
    "security": set(),
    "privacy": set(),  # pure: redaction and encryption primitives
    "customers": {"storage"},
    "session": {"audio", "asr", "nlu", "tts", "flows", "handoff", "storage", "customers", "privacy"},
    "telephony": {"audio", "session", "handoff", "storage", "security", "privacy"},
    "channels": {"audio", "session", "handoff", "storage", "security", "privacy", "customers", "flows", "nlu", "asr", "tts"},
    "web": {"audio", "asr", "nlu", "tts", "flows", "handoff", "storage", "security", "privacy", "customers", "session",
            "telephony", "channels"},
    "testing": {"audio", "asr", "nlu", "tts", "flows", "handoff", "storage", "security", "privacy", "customers", "session",
                "telephony", "channels", "web"},
    "cli": {"audio", "asr", "nlu", "tts", "flows", "handoff", "storage", "security", "privacy", "customers", "session",
            "telephony", "channels", "web", "testing"},
}


def layer_of(module: str) -> str:
    """``voicebot.session.call`` -> ``session``; ``voicebot.config`` -> ``config``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """Every voicebot module ``source`` imports, anywhere in the file, with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against the importing package
                package = module.split(".")[: -node.level]
                base = ".".join(package + ([base] if base else []))
            found += [(node.lineno, f"{base}.{alias.name}" if base == "voicebot" else base) for alias in node.names]
    return [(line, name) for line, name in found if name == "voicebot" or name.startswith("voicebot.")]


def violations(package: Path) -> list[str]:
    """Forbidden imports in the package at ``package`` (a ``voicebot`` directory), as sentences."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        module = "voicebot." + ".".join(path.relative_to(package).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        source_layer = layer_of(module)
        for line, target in imported_modules(path.read_text(encoding="utf-8"), module):
            target_layer = layer_of(target)
            if target_layer in CONTRACTS or target_layer == source_layer:
                continue
            if source_layer in CONTRACTS:
                problems.append(f"{path.relative_to(package.parent)}:{line}: contract module '{source_layer}' imports {target}")
            elif source_layer not in ALLOWED:
                problems.append(f"{path.relative_to(package.parent)}:{line}: layer '{source_layer}' has no rule in ALLOWED")
            elif target_layer not in ALLOWED[source_layer]:
                problems.append(f"{path.relative_to(package.parent)}:{line}: {source_layer} must not import {target_layer} ({target})")
    return problems


def test_layers_import_only_downwards():
    assert violations(PACKAGE) == []


@pytest.mark.parametrize("layer, code", [
    ("flows", "def helper():\n    from voicebot.storage import calls\n"),  # inside a function still counts
    ("flows", "import voicebot.session.dialogue\n"),
    ("asr", "from voicebot.nlu import entities\n"),
    ("nlu", "from voicebot.flows.slots import extract\n"),
    ("tts", "from voicebot.telephony.twilio import rest\n"),
    ("storage", "from voicebot.session import dialogue\n"),
    ("telephony", "from voicebot.web.state import AppState\n"),
    ("session", "def f():\n    from voicebot import web\n"),
    ("audio", "from voicebot.asr.base import Grammar\n"),
])
def test_a_forbidden_import_is_caught(tmp_path, layer, code):
    package = tmp_path / "voicebot"
    (package / layer).mkdir(parents=True)
    (package / layer / "__init__.py").write_text("")
    (package / layer / "sneaky.py").write_text(textwrap.dedent(code))
    [problem] = violations(package)
    assert f"voicebot/{layer}/sneaky.py" in problem and f"{layer} must not import" in problem


def test_allowed_imports_pass_the_checker(tmp_path):
    package = tmp_path / "voicebot"
    (package / "session").mkdir(parents=True)
    (package / "session" / "ok.py").write_text("from voicebot.flows.engine import step\nfrom voicebot import observability\n"
                                               "from .dialogue import Dialogue\n")
    assert violations(package) == []


def test_no_module_is_over_the_size_limit():
    too_long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert too_long == {}


def test_the_call_runner_reads_in_one_pass():
    """Every module of the session layer (the call path a newcomer reads first) stays under 300 lines."""
    too_long = {p.name: n for p in (PACKAGE / "session").glob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) >= 300}
    assert too_long == {}
