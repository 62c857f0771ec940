"""Per-call runner: the only place where the stages (audio, ASR, NLU, flow, TTS) meet."""
