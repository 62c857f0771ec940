"""Voice activity detection on 20 ms int16 frames at 8 kHz or 16 kHz.

Two engines behind one class, chosen by ``engine=``:
- ``"silero"`` (default): Silero VAD v6, the ONNX file shipped inside faster-whisper, run with
  onnxruntime. It is a 16 kHz model with a fixed 512-sample window (+64 samples of context)
  and an LSTM state, so 8 kHz frames are upsampled, buffered, and the probability is updated
  every 32 ms. More accurate on noisy/quiet speech (numbers in docs/asr.md).
- ``"webrtc"``: Google's WebRTC GMM VAD (webrtcvad-wheels); a yes/no per frame, very cheap.
- ``"gated"``: Silero's decisions at a fraction of its cost. WebRTC hears every frame; Silero
  sleeps once WebRTC has heard no speech for ``GATE_HANGOVER_FRAMES`` and Silero itself is
  below threshold, and wakes at WebRTC's next speech frame, first catching up on the last
  ``GATE_LOOKBACK_FRAMES`` frames so it scores the onset with the context it would have had.
  Asleep, a frame's probability is 0. Same recall and false alarms as Silero on the choose
  split (docs/asr.md, "VAD: gating Silero"); the saving is the share of frames asleep.

One detector per call (it keeps state); creating one is cheap: the ONNX session is loaded once
per process and shared (onnxruntime sessions are thread-safe for ``run``).
"""
from __future__ import annotations

from collections import deque
from functools import lru_cache
from pathlib import Path

import numpy as np

from voicebot.audio.upsample import StreamingUpsampler
from voicebot.errors import AudioError, ModelNotFoundError

ENGINES = ("silero", "webrtc", "gated")
DEFAULT_ENGINE = "silero"
_WINDOW = 512  # Silero v6 window at 16 kHz
_CONTEXT = 64  # samples of the previous window the model sees before each window
GATE_HANGOVER_FRAMES = 15  # "gated": Silero keeps scoring 300 ms after WebRTC's last speech frame
GATE_LOOKBACK_FRAMES = 10  # "gated": on waking, Silero first scores the 200 ms before the frame


def silero_model_path() -> Path:
    """The Silero VAD ONNX file faster-whisper ships."""
    import faster_whisper

    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


@lru_cache(maxsize=1)
def _silero_session():
    import onnxruntime

    path = silero_model_path()
    if not path.exists():
        raise ModelNotFoundError(f"Silero VAD model not found at {path}; reinstall faster-whisper (`pip install faster-whisper`) or use engine='webrtc'")
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=opts)


class VoiceActivityDetector:
    """Says whether each 20 ms frame (10/20/30 ms accepted) of a call holds speech.

    ``speech_probability`` returns a value in [0, 1] (0 or 1 for webrtc); ``is_speech``
    compares it with ``threshold``. Frames must be fed in order; ``reset()`` forgets the past.
    ``frames`` and ``scored_frames`` count the frames fed and those Silero scored since the
    detector was made, across resets (for "gated", the difference is the saving).
    """

    def __init__(self, sample_rate: int = 8000, engine: str = DEFAULT_ENGINE, threshold: float = 0.5, aggressiveness: int = 2):
        if sample_rate not in (8000, 16000):
            raise AudioError(f"VAD supports 8000 or 16000 Hz audio, not {sample_rate} Hz; resample first")
        if engine not in ENGINES:
            raise AudioError(f"unknown VAD engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.sample_rate = sample_rate
        self.engine = engine
        self.threshold = threshold
        self.aggressiveness = aggressiveness
        if engine in ("silero", "gated"):
            self._session = _silero_session()
        self.frames = self.scored_frames = 0
        self.reset()

    def reset(self) -> None:
        """Forget all audio seen so far (start of a new call or listen)."""
        self._upsampler = StreamingUpsampler() if self.sample_rate == 8000 else None
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._probability = 0.0
        self._quiet_frames = GATE_HANGOVER_FRAMES  # "gated" starts asleep
        self._lookback: deque[np.ndarray] = deque(maxlen=GATE_LOOKBACK_FRAMES)
        if self.engine in ("webrtc", "gated"):
            import webrtcvad

            self._webrtc = webrtcvad.Vad(self.aggressiveness)  # no reset() in webrtcvad: its hangover state would leak

    def speech_probability(self, frame: np.ndarray) -> float:
        """Feed the next frame (int16); return the probability that it is speech."""
        frame = np.asarray(frame, dtype=np.int16)
        if frame.ndim != 1 or len(frame) == 0:
            raise AudioError("VAD frames must be non-empty 1-D int16 arrays")
        self.frames += 1
        if self.engine == "webrtc":
            return self._webrtc_probability(frame)
        if self.engine == "gated":
            return self._gated_probability(frame)
        return self._silero_probability(frame)

    def is_speech(self, frame: np.ndarray) -> bool:
        """Feed the next frame; True when its speech probability reaches ``threshold``."""
        return self.speech_probability(frame) >= self.threshold

    def _webrtc_probability(self, frame: np.ndarray) -> float:
        ms = 1000 * len(frame) // self.sample_rate
        if ms not in (10, 20, 30) or len(frame) * 1000 != ms * self.sample_rate:
            raise AudioError(f"webrtc VAD needs 10, 20 or 30 ms frames; got {len(frame)} samples at {self.sample_rate} Hz")
        return 1.0 if self._webrtc.is_speech(frame.tobytes(), self.sample_rate) else 0.0

    def _gated_probability(self, frame: np.ndarray) -> float:
        heard = self._webrtc_probability(frame) > 0
        asleep = self._quiet_frames >= GATE_HANGOVER_FRAMES and self._probability < self.threshold
        self._quiet_frames = 0 if heard else self._quiet_frames + 1
        if asleep and not heard:
            self._lookback.append(frame)
            self._probability = 0.0
            return 0.0
        if asleep:  # waking: score the lead-in first, as if Silero had never slept
            for earlier in self._lookback:
                self._silero_probability(earlier)
            self._lookback.clear()
        return self._silero_probability(frame)

    def _silero_probability(self, frame: np.ndarray) -> float:
        self.scored_frames += 1
        pcm16k = self._upsampler.process(frame) if self._upsampler else frame
        self._pending = np.concatenate([self._pending, pcm16k.astype(np.float32) / 32768.0])
        while len(self._pending) >= _WINDOW:
            window, self._pending = self._pending[:_WINDOW], self._pending[_WINDOW:]
            model_input = np.concatenate([self._context, window])[None, :]
            out, self._h, self._c = self._session.run(None, {"input": model_input, "h": self._h, "c": self._c})
            self._context = window[-_CONTEXT:]
            self._probability = float(np.asarray(out).reshape(-1)[0])
        return self._probability
