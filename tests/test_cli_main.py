"""The `voicebot` entry point: verbs are listed, unknown verbs fail cleanly."""
import subprocess
import sys


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_public_verb():
    result = run_cli("--help")
    assert result.returncode == 0
    for verb in ("serve", "call", "transcribe", "say", "analyze", "nlu", "flows", "models", "bench", "talk"):
        assert verb in result.stdout


def test_unknown_verb_is_a_one_line_error_without_traceback():
    result = run_cli("no-such-verb")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "no-such-verb" in result.stderr
