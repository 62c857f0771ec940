"""Emotion of a caller: from words (text.py), from the voice (acoustic.py), fused per call (fusion.py)."""
