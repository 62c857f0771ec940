"""Local microphone and speaker through sounddevice (PortAudio), for ``voicebot talk``.

``LocalAudio`` speaks the phone line's format on both sides: ``frames()`` yields 20 ms frames
of 8 kHz int16 PCM from the input device and ``play()`` sends 8 kHz int16 PCM to the output
device. When a device cannot run at 8 kHz it is opened at its default rate and the audio is
resampled in a streaming way (soxr), so frame boundaries never click.

Any missing or unusable device raises ``AudioError`` with one line saying what to do; this
happens on machines without a sound card (PortAudio then lists no devices at all).
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np

from voicebot.errors import AudioError

LINE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = LINE_RATE * FRAME_MS // 1000  # 160


def _sd():
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        raise AudioError(f"sound devices are unavailable: {exc}; install libportaudio2") from exc
    return sounddevice


def refresh_devices() -> None:
    """Re-scan the sound devices (PortAudio reads the ALSA configuration only when it starts)."""
    sd = _sd()
    sd._terminate()
    sd._initialize()


def list_devices() -> list[dict]:
    """Every device PortAudio sees: ``index``, ``name``, ``inputs``, ``outputs``, ``default_rate``."""
    return [
        {"index": d["index"], "name": d["name"], "inputs": d["max_input_channels"],
         "outputs": d["max_output_channels"], "default_rate": int(d["default_samplerate"])}
        for d in _sd().query_devices()
    ]


def _find_device(device: int | str | None, kind: str) -> dict:
    sd = _sd()
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    try:
        info = sd.query_devices(device, kind=kind)
    except (ValueError, sd.PortAudioError) as exc:
        if not any(d[channels] > 0 for d in sd.query_devices()):
            raise AudioError(f"no {kind} sound device found (is there a sound card? `python -m sounddevice` lists devices); "
                             f"use `voicebot call` with WAV files instead") from None
        raise AudioError(f"{kind} device {device!r} not found: {str(exc).splitlines()[0]}; `python -m sounddevice` lists devices") from None
    if info[channels] < 1:
        raise AudioError(f"device {info['name']!r} has no {kind} channels")
    return info


def _device_rate(info: dict, kind: str, wanted: int | None) -> int:
    """``wanted`` if given, else 8 kHz when the device accepts it, else the device's default."""
    if wanted:
        return int(wanted)
    sd = _sd()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=info["index"], samplerate=LINE_RATE, channels=1, dtype="int16")
        return LINE_RATE
    except (ValueError, sd.PortAudioError):
        return int(info["default_samplerate"])


class _Resampler:
    """Streaming int16 resampler; the identity when the rates match."""

    def __init__(self, from_rate: int, to_rate: int):
        self._stream = None
        if from_rate != to_rate:
            import soxr

            self._stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16", quality="HQ")

    def __call__(self, pcm: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return pcm
        return self._stream.resample_chunk(pcm, last=last)


class LocalAudio:
    """The developer's microphone and speaker as an 8 kHz telephone line.

    ``input_device`` / ``output_device``: a PortAudio index or (part of) a name; None is the
    system default. ``input_rate`` / ``output_rate``: force the device's rate (None: 8 kHz when
    supported, else the device default). Use as a context manager or call ``close()``.
    """

    def __init__(self, input_device: int | str | None = None, output_device: int | str | None = None, *,
                 input_rate: int | None = None, output_rate: int | None = None):
        self._input_spec, self._output_spec = input_device, output_device
        self._input_rate_wanted, self._output_rate_wanted = input_rate, output_rate
        self._stop_capture = threading.Event()
        self._stop_playback = threading.Event()
        self.overflows = 0  # input blocks the device reported as overflowed (audio lost)

    def check(self) -> None:
        """Raise ``AudioError`` now if the input or output device is missing or unusable."""
        for spec, kind, wanted in ((self._input_spec, "input", self._input_rate_wanted), (self._output_spec, "output", self._output_rate_wanted)):
            _device_rate(_find_device(spec, kind), kind, wanted)

    # -- capture --------------------------------------------------------------------------

    def frames(self, max_seconds: float | None = None) -> Iterator[np.ndarray]:
        """Yield 20 ms frames (160 int16 samples at 8 kHz) until ``stop()`` or ``max_seconds``.

        A reader thread keeps reading the device into a queue, so a slow consumer (a busy
        machine) never lets the device overflow and drop the caller's words; overflows the
        device still reports are counted in ``overflows``."""
        sd = _sd()
        info = _find_device(self._input_spec, "input")
        rate = _device_rate(info, "input", self._input_rate_wanted)
        block = rate * FRAME_MS // 1000
        limit = None if max_seconds is None else int(max_seconds * 1000 / FRAME_MS)
        self._stop_capture.clear()
        self.overflows = 0
        try:
            stream = sd.InputStream(device=info["index"], samplerate=rate, channels=1, dtype="int16", blocksize=block)
        except (ValueError, sd.PortAudioError) as exc:
            raise AudioError(f"cannot open input device {info['name']!r} at {rate} Hz: {exc}") from None
        captured: queue.Queue = queue.Queue()
        reader = threading.Thread(target=self._read, args=(stream, block, captured), name="voicebot-mic", daemon=True)
        with stream:
            reader.start()
            pending, produced, to_line = np.zeros(0, dtype=np.int16), 0, _Resampler(rate, LINE_RATE)
            try:
                while not self._stop_capture.is_set() and (limit is None or produced < limit):
                    data = captured.get()
                    if isinstance(data, Exception):
                        raise AudioError(f"input device {info['name']!r} failed: {data}") from None
                    pending = np.concatenate([pending, to_line(data)])
                    while len(pending) >= FRAME_SAMPLES and not self._stop_capture.is_set() and (limit is None or produced < limit):
                        frame, pending = pending[:FRAME_SAMPLES].copy(), pending[FRAME_SAMPLES:]
                        produced += 1
                        yield frame
            finally:
                self._stop_capture.set()
                reader.join(timeout=2.0)

    def _read(self, stream, block: int, captured: queue.Queue) -> None:
        """The reader thread: device blocks into ``captured`` until ``stop()``; a device error is put there too."""
        sd = _sd()
        try:
            while not self._stop_capture.is_set():
                data, overflowed = stream.read(block)
                self.overflows += bool(overflowed)
                captured.put(data[:, 0].copy())
        except sd.PortAudioError as exc:
            captured.put(exc)

    def stop(self) -> None:
        """End ``frames()`` after the current frame (callable from any thread)."""
        self._stop_capture.set()

    # -- playback -------------------------------------------------------------------------

    def play(self, pcm: np.ndarray, sample_rate: int = LINE_RATE) -> bool:
        """Play int16 mono ``pcm`` and wait until it is handed to the device.

        Returns True when all of it played, False when ``interrupt()`` cut it short (barge-in).
        """
        sd = _sd()
        info = _find_device(self._output_spec, "output")
        rate = _device_rate(info, "output", self._output_rate_wanted)
        samples = np.asarray(pcm, dtype=np.int16)
        samples = _Resampler(sample_rate, rate)(samples, last=True)
        block = rate * FRAME_MS // 1000
        self._stop_playback.clear()
        try:
            stream = sd.OutputStream(device=info["index"], samplerate=rate, channels=1, dtype="int16", blocksize=block)
        except (ValueError, sd.PortAudioError) as exc:
            raise AudioError(f"cannot open output device {info['name']!r} at {rate} Hz: {exc}") from None
        completed = False
        stream.start()
        try:
            for start in range(0, len(samples), block):  # 20 ms at a time, so interrupt() is prompt
                if self._stop_playback.is_set():
                    return False
                try:
                    stream.write(np.ascontiguousarray(samples[start:start + block]).reshape(-1, 1))
                except sd.PortAudioError as exc:
                    raise AudioError(f"output device {info['name']!r} failed: {exc}") from None
            completed = True
            return True
        finally:
            if completed:
                stream.stop()  # let the device drain what it holds
            stream.close(ignore_errors=True)  # on interrupt: drop it at once

    def interrupt(self) -> None:
        """Stop the current ``play()`` within 20 ms (callable from any thread)."""
        self._stop_playback.set()

    def close(self) -> None:
        self.stop()
        self.interrupt()

    def __enter__(self) -> "LocalAudio":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
