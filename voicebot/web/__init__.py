"""voicebot.web."""
