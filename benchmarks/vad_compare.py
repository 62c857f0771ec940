"""Silero (onnx) vs webrtc VAD on real speech at 8 kHz, clean and with added noise.

Streams: 1.5 s of background, a real utterance (read_speech_en resampled to 8 kHz, RAVDESS
actors 1-12 at 8 kHz), 1.5 s of background. Background is digital silence ("clean") or white
noise at 15 dB / 5 dB SNR relative to the utterance. Reference labels: a frame of the clean
utterance is speech when its energy is within 35 dB of the utterance's loudest frame; padding
is non-speech. Reports frame recall on speech, false-alarm rate on non-speech, and the cost per
20 ms frame.

Run: python benchmarks/vad_compare.py [--json] [--limit N] [--split choose|report]
     (engines silero, webrtc and gated: Silero behind a WebRTC gate. For each it also prints
     the share of frames Silero scored, and how far the endpointer's start and end of speech
     move against plain Silero's on the same stream: the gate must not move them.
     ``--split choose``: read_speech_en 1-20 and RAVDESS only, as every choice is made;
     ``report``: read_speech_en 21-40.)
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
from voicebot.audio.endpointing import Endpointer, SpeechEnded, SpeechStarted
from voicebot.audio.upsample import StreamingUpsampler
from voicebot.audio.vad import VoiceActivityDetector
from voicebot.audio.wavfile import read_wav
from voicebot.testing.datasets import shared_datasets_dir

DATASETS = shared_datasets_dir()
FRAME = 160


def utterances(limit: int, split: str = "all") -> list[np.ndarray]:
    read = [read_wav(DATASETS / "read_speech_en" / r["path"]).at_rate(8000).pcm for r in csv.DictReader(open(DATASETS / "read_speech_en" / "manifest.csv"))]
    ravdess = [read_wav(DATASETS / "emotional_speech_ravdess" / r["path"]).pcm for r in list(csv.DictReader(open(DATASETS / "emotional_speech_ravdess" / "manifest.csv")))[::11]]
    chosen = {"all": read + ravdess, "choose": read[:20] + ravdess, "report": read[20:]}[split]
    return chosen[:limit]


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
    return {"recall": hits / (hits + misses), "false_alarm": alarms / quiet, "us_per_frame": 1e6 * cost / frames,
            "silero_scored": vad.scored_frames / frames}


def endpoints(engine: str, streams) -> list[tuple[float | None, float | None]]:
    """(speech start, last speech) the endpointer reports on each stream with ``engine``."""
    found = []
    for pcm, _ in streams:
        endpointer = Endpointer(VoiceActivityDetector(8000, engine=engine))
        start = end = None
        for i in range(len(pcm) // FRAME):
            event = endpointer.feed(pcm[i * FRAME:(i + 1) * FRAME])
            if isinstance(event, SpeechStarted):
                start = event.at_s
            elif isinstance(event, SpeechEnded):
                end = event.last_speech_at_s
        found.append((start, end))
    return found


def endpoint_shift(engine: str, streams, reference) -> dict:
    """How far ``engine``'s endpoints move from ``reference``'s (plain Silero's), in ms."""
    return _shift(endpoints(engine, streams), reference)


def _moved(row: dict) -> str:
    return (f"{row['streams_moved']} moved, {row['starts_moved_over_100ms']} starts and {row['ends_moved_over_100ms']} ends by > 100 ms "
            f"(start <= {row['start_shift_ms_max']:.0f} ms, end <= {row['end_shift_ms_max']:.0f} ms), {row['events_missing_or_extra']} missing/extra")


def _shift(found, reference) -> dict:
    starts, ends, differ = [], [], 0
    for (start, end), (ref_start, ref_end) in zip(found, reference):
        if (start is None) != (ref_start is None) or (end is None) != (ref_end is None):
            differ += 1
            continue
        if start is not None:
            starts.append(round(abs(start - ref_start) * 1000))
        if end is not None:
            ends.append(round(abs(end - ref_end) * 1000))
    return {"start_shift_ms_max": max(starts, default=0.0), "end_shift_ms_max": max(ends, default=0.0),
            "starts_moved_over_100ms": sum(1 for x in starts if x > 100), "ends_moved_over_100ms": sum(1 for x in ends if x > 100),
            "streams_moved": sum(1 for x in starts + ends if x > 0), "events_missing_or_extra": differ}


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
    parser.add_argument("--split", choices=["all", "choose", "report"], default="all")
    parser.add_argument("--upsamplers", default="", help="e.g. fir,soxr-QQ,soxr-HQ: compare upsamplers for Silero instead of engines")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    speech = utterances(args.limit, args.split)
    for condition, snr in (("clean", None), ("snr15", 15.0), ("snr5", 5.0)):
        streams = [labelled_stream(u, snr, rng) for u in speech]
        variants = [("silero", u) for u in args.upsamplers.split(",")] if args.upsamplers else [("silero", "fir"), ("webrtc", "fir"), ("gated", "fir")]
        reference = endpoints("silero", streams) if not args.upsamplers else None
        if reference is not None:  # Silero against itself when the same audio arrives one frame later
            later = [(np.concatenate([pcm[:FRAME], pcm]), labels) for pcm, labels in streams]
            moved = [(None if a is None else a - FRAME / 8000, None if b is None else b - FRAME / 8000) for a, b in endpoints("silero", later)]
            row = {"condition": condition, "engine": "silero, audio 20 ms later", **_shift(moved, reference)}
            print(json.dumps(row) if args.json else
                  f"{condition:6} silero, audio 20 ms later: endpoints vs Silero: {_moved(row)}")
        for engine, up in variants:
            vad_module.StreamingUpsampler = upsampler(up)  # the class VoiceActivityDetector instantiates
            engine_label = f"{engine}/{up}" if args.upsamplers else engine
            row = {"condition": condition, "engine": engine_label, "utterances": len(streams), **evaluate(engine, streams)}
            if reference is not None and engine != "silero":
                row.update(endpoint_shift(engine, streams, reference))
            if args.json:
                print(json.dumps(row))
                continue
            line = (f"{condition:6} {row['engine']:7} recall {row['recall']:.3f}  false alarms {row['false_alarm']:.3f}  "
                    f"{row['us_per_frame']:.0f} us/frame  Silero scored {row['silero_scored']:.0%} of frames")
            if "streams_moved" in row:
                line += f"  endpoints vs Silero: {_moved(row)}"
            print(line)


if __name__ == "__main__":
    main()
