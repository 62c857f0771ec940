"""Silero (onnx) vs webrtc VAD on real speech at 8 kHz, clean and with added noise.

Streams: 1.5 s of background, a real utterance (read_speech_en resampled to 8 kHz, RAVDESS
actors 1-12 at 8 kHz), 1.5 s of background. Background is digital silence ("clean") or white
noise at 15 dB / 5 dB SNR relative to the utterance. Reference labels: a frame of the clean
utterance is speech when its energy is within 35 dB of the utterance's loudest frame; padding
is non-speech. Reports frame recall on speech, false-alarm rate on non-speech, and the cost per
20 ms frame.

Run: python benchmarks/vad_compare.py [--json] [--limit N]
     python benchmarks/vad_compare.py --upsamplers fir,soxr-QQ,soxr-HQ   (Silero only: the
     8 -> 16 kHz upsampler in front of it, our FIR vs libsoxr's streaming resampler)
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

import voicebot.audio.vad as vad_module
from voicebot.audio.upsample import StreamingUpsampler
from voicebot.audio.vad import VoiceActivityDetector
from voicebot.audio.wavfile import read_wav
from voicebot.testing.datasets import shared_datasets_dir

DATASETS = shared_datasets_dir()
FRAME = 160


def utterances(limit: int) -> list[np.ndarray]:
    read = [read_wav(DATASETS / "read_speech_en" / r["path"]).at_rate(8000).pcm for r in csv.DictReader(open(DATASETS / "read_speech_en" / "manifest.csv"))]
    ravdess = [read_wav(DATASETS / "emotional_speech_ravdess" / r["path"]).pcm for r in list(csv.DictReader(open(DATASETS / "emotional_speech_ravdess" / "manifest.csv")))[::11]]
    return (read + ravdess)[:limit]


def labelled_stream(pcm: np.ndarray, snr_db: float | None, rng) -> tuple[np.ndarray, np.ndarray]:
    pad = np.zeros(int(1.5 * 8000))
    x = np.concatenate([pad, pcm.astype(np.float64), pad])
    n = len(x) // FRAME
    energy = np.array([np.mean(pcm[i * FRAME:(i + 1) * FRAME].astype(np.float64) ** 2) + 1e-9 for i in range(len(pcm) // FRAME)])
    speech = 10 * np.log10(energy) > 10 * np.log10(energy.max()) - 35
    labels = np.zeros(n, dtype=bool)
    offset = len(pad) // FRAME
    labels[offset:offset + len(speech)] = speech
    if snr_db is not None:
        power = np.mean(pcm.astype(np.float64) ** 2)
        x = x + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(x))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)[: n * FRAME], labels


def evaluate(engine: str, streams) -> dict:
    vad = VoiceActivityDetector(8000, engine=engine)
    hits = misses = alarms = quiet = 0
    cost = 0.0
    frames = 0
    for pcm, labels in streams:
        vad.reset()
        start = time.perf_counter()
        decisions = np.array([vad.is_speech(pcm[i * FRAME:(i + 1) * FRAME]) for i in range(len(labels))])
        cost += time.perf_counter() - start
        frames += len(labels)
        hits += int(np.sum(decisions & labels))
        misses += int(np.sum(~decisions & labels))
        alarms += int(np.sum(decisions & ~labels))
        quiet += int(np.sum(~labels))
    return {"recall": hits / (hits + misses), "false_alarm": alarms / quiet, "us_per_frame": 1e6 * cost / frames}


class SoxrUpsampler:
    """soxr.ResampleStream behind StreamingUpsampler's interface (benchmark only)."""

    quality = "HQ"

    def __init__(self) -> None:
        import soxr

        self._stream = soxr.ResampleStream(8000, 16000, 1, dtype="int16", quality=self.quality)

    def process(self, pcm: np.ndarray) -> np.ndarray:
        return self._stream.resample_chunk(np.asarray(pcm, dtype=np.int16))


def upsampler(name: str):
    if name == "fir":
        return StreamingUpsampler
    return type(name, (SoxrUpsampler,), {"quality": name.split("-", 1)[1]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--limit", type=int, default=88)
    parser.add_argument("--upsamplers", default="", help="e.g. fir,soxr-QQ,soxr-HQ: compare upsamplers for Silero instead of engines")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    speech = utterances(args.limit)
    for condition, snr in (("clean", None), ("snr15", 15.0), ("snr5", 5.0)):
        streams = [labelled_stream(u, snr, rng) for u in speech]
        variants = [("silero", u) for u in args.upsamplers.split(",")] if args.upsamplers else [("silero", "fir"), ("webrtc", "fir")]
        for engine, up in variants:
            vad_module.StreamingUpsampler = upsampler(up)  # the class VoiceActivityDetector instantiates
            engine_label = f"{engine}/{up}" if args.upsamplers else engine
            row = {"condition": condition, "engine": engine_label, "utterances": len(streams), **evaluate(engine, streams)}
            if args.json:
                print(json.dumps(row))
            else:
                print(f"{condition:6} {row['engine']:7} recall {row['recall']:.3f}  false alarms {row['false_alarm']:.3f}  {row['us_per_frame']:.0f} us/frame")


if __name__ == "__main__":
    main()
