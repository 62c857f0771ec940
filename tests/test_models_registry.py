"""Model registry: package models resolve, downloads are checksum-verified and unpacked.

Downloads run against a real local HTTP server serving a zip built by the test."""
from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile

import pytest

from voicebot.asr import models
from voicebot.asr.registry import auto_choice, load_asr
from voicebot.config import load_settings
from voicebot.errors import ASRError, ModelNotFoundError


@pytest.fixture()
def served(tmp_path):
    """A zip laid out like a Vosk model (one top folder with am/, conf/) behind HTTP."""
    site = tmp_path / "site"
    site.mkdir()
    archive = site / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("vosk-model-tiny/am/final.mdl", b"acoustic model bytes")
        zf.writestr("vosk-model-tiny/conf/model.conf", b"--sample-frequency=16000\n")
        zf.writestr("vosk-model-tiny/README", b"test model")
    evil = site / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", b"x")
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(site), **kw)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield base, hashlib.sha256(archive.read_bytes()).hexdigest()
    server.shutdown()


def spec(url: str, sha256: str) -> models.ModelSpec:
    return models.ModelSpec("vosk-test", "vosk", "en", "test model", url=url, sha256=sha256)


def test_download_verifies_and_unpacks(served, tmp_path):
    base, digest = served
    dest = tmp_path / "models"
    path = models.download(spec(f"{base}/model.zip", digest), dest_dir=dest, progress=False)
    assert path == dest / "vosk-test"
    assert (path / "am" / "final.mdl").read_bytes() == b"acoustic model bytes"
    assert [p.name for p in dest.iterdir()] == ["vosk-test"]  # no temp files left
    # a second call finds it and does not fetch again (the URL is now wrong on purpose)
    assert models.download(spec(f"{base}/gone.zip", digest), dest_dir=dest, progress=False) == path


def test_checksum_mismatch_leaves_nothing(served, tmp_path):
    base, _ = served
    dest = tmp_path / "models"
    with pytest.raises(ModelNotFoundError, match="checksum mismatch"):
        models.download(spec(f"{base}/model.zip", "0" * 64), dest_dir=dest, progress=False)
    assert list(dest.iterdir()) == []


def test_unsafe_archive_is_refused(served, tmp_path):
    base, _ = served
    with pytest.raises(ModelNotFoundError, match="unsafe path"):
        models.download(spec(f"{base}/evil.zip", ""), dest_dir=tmp_path / "m", progress=False)
    assert not (tmp_path / "escape.txt").exists()


def test_unreachable_url_says_what_to_do(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ModelNotFoundError) as info:
        models.download(spec(f"http://127.0.0.1:{port}/m.zip", "ab" * 32), dest_dir=tmp_path, progress=False)
    message = str(info.value)
    assert "unreachable" in message and "models/vosk-test/" in message and "sha256sum" in message
    assert "\n" not in message


def test_package_models_are_installed_and_vosk_english_is_not():
    for name in ("whisper-tiny.en", "moonshine-tiny-en", "pocketsphinx-en-us", "vosk-ko", "silero-vad"):
        assert models.model_path(name) is not None and models.model_path(name).is_dir()
    settings = load_settings(models_dir="/nonexistent-models")
    assert models.model_path("vosk-en-us-small", settings) is None
    pooled = {"open": "pool:cascade", "digits": "pool:cascade", "yesno": "pool:cascade", "phrases": "pool:cascade", "jsgf": "pocketsphinx"}
    assert auto_choice(settings) == pooled  # the measured routes, in worker processes by default
    in_process = load_settings(models_dir="/nonexistent-models", asr_workers=0)
    assert auto_choice(in_process) == {kind: route.removeprefix("pool:") for kind, route in pooled.items()}


def test_auto_prefers_an_installed_english_vosk_model(tmp_path):
    (tmp_path / "vosk-en-us-small" / "am").mkdir(parents=True)
    assert auto_choice(load_settings(models_dir=str(tmp_path)))["open"] == "vosk"


def test_load_asr_errors_are_voicebot_errors(tmp_path):
    settings = load_settings(models_dir=str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="models download vosk-en-us-small"):
        load_asr("vosk", settings)
    with pytest.raises(ASRError, match="unknown ASR backend"):
        load_asr("nope", settings)
    with pytest.raises(ModelNotFoundError, match="not a Vosk model directory"):
        load_asr(f"vosk:{tmp_path}", settings)


def test_unknown_model_name():
    with pytest.raises(ModelNotFoundError, match="known models"):
        models.download("nope")


def test_models_cli_lists_and_fails_cleanly(tmp_path):
    env_run = lambda *args: subprocess.run([sys.executable, "-m", "voicebot.cli.main", "models", *args], capture_output=True, text=True, timeout=60,
                                           env={**os.environ, "VOICEBOT_MODELS_DIR": str(tmp_path)})
    listed = env_run("list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    by_name = {r["name"]: r for r in rows if "name" in r}
    assert by_name["whisper-tiny.en"]["installed"] and not by_name["vosk-en-us-small"]["installed"]
    assert by_name["moonshine-tiny-en"]["installed"] and by_name["moonshine-tiny-en"]["source"] == "pip install moonshine-voice==0.1.0"
    assert rows[-1]["auto"]["open"] == "pool:cascade" and rows[-1]["auto"]["jsgf"] == "pocketsphinx"
    failed = env_run("download", "nope")
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
