"""Text to speech: offline synthesis to telephone audio, with a phrase cache."""
