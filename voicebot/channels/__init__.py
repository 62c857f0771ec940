"""Text and browser channels: one small module per medium (see docs/channels.md)."""
