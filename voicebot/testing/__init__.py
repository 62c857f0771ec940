"""voicebot.testing."""
