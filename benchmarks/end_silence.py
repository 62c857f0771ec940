"""End-of-turn silence vs cutting callers off: what a shorter wait would cost.

For real recorded utterances (all 40 read_speech_en sentences and every 4th RAVDESS clip, at
8 kHz), run the session's endpointer (Silero VAD) with each end-of-turn silence and count the
utterances it ends before the speaker finished (its last speech frame more than 0.1 s before the
last frame within 20 dB of the loudest). Also reports how far the VAD's end of speech trails
that energy end (the part of measured turn latency the server cannot see).

Run: python benchmarks/end_silence.py [--silences 0.3,0.4,0.5,0.7] [--thresholds 0.5]
"""
from __future__ import annotations

import argparse
import csv
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from voicebot.audio.endpointing import Endpointer, EndpointSettings, SpeechEnded  # noqa: E402
from voicebot.audio.vad import VoiceActivityDetector  # noqa: E402
from voicebot.audio.wavfile import read_wav  # noqa: E402
from voicebot.testing.datasets import shared_datasets_dir  # noqa: E402

FRAME = 160  # 20 ms at 8 kHz


def utterances() -> list:
    root = shared_datasets_dir()
    read = [root / "read_speech_en" / r["path"] for r in csv.DictReader(open(root / "read_speech_en" / "manifest.csv"))]
    acted = [root / "emotional_speech_ravdess" / r["path"] for r in csv.DictReader(open(root / "emotional_speech_ravdess" / "manifest.csv"))]
    return read + acted[::4]


def energy_end_s(frames: list[np.ndarray]) -> float:
    """End of the last frame within 20 dB of the loudest (the simulator's end of speech)."""
    energy = np.array([np.mean(f.astype(float) ** 2) for f in frames])
    return (np.flatnonzero(energy >= energy.max() * 0.01)[-1] + 1) * FRAME / 8000


def run(silence_s: float, threshold: float, items: list) -> dict:
    cut, lags = 0, []
    for path in items:
        pcm = read_wav(path).at_rate(8000).pcm
        frames = [pcm[i:i + FRAME] for i in range(0, len(pcm) - FRAME + 1, FRAME)]
        end = energy_end_s(frames)
        endpointer = Endpointer(VoiceActivityDetector(8000, engine="silero", threshold=threshold),
                                EndpointSettings(end_silence_s=silence_s, start_timeout_s=30))
        for frame in frames + [np.zeros(FRAME, np.int16)] * 150:
            event = endpointer.feed(frame)
            if isinstance(event, SpeechEnded):
                if event.last_speech_at_s < end - 0.1:
                    cut += 1
                else:
                    lags.append(event.last_speech_at_s - end)
                break
    return {"silence_s": silence_s, "threshold": threshold, "utterances": len(items), "cut_before_end": cut,
            "vad_end_lag_p50_s": round(float(np.percentile(lags, 50)), 3), "vad_end_lag_p95_s": round(float(np.percentile(lags, 95)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--silences", default="0.3,0.4,0.45,0.5,0.7")
    parser.add_argument("--thresholds", default="0.5", help="Silero speech thresholds (the session uses 0.5)")
    args = parser.parse_args()
    items = utterances()
    for threshold in (float(t) for t in args.thresholds.split(",")):
        for silence in (float(s) for s in args.silences.split(",")):
            r = run(silence, threshold, items)
            print(f"silence {silence:.2f} s, threshold {threshold:.2f}: {r['cut_before_end']}/{r['utterances']} cut before the end; "
                  f"VAD end trails energy end by p50 {r['vad_end_lag_p50_s']:.3f} s, p95 {r['vad_end_lag_p95_s']:.3f} s", flush=True)


if __name__ == "__main__":
    main()
