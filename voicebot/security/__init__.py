"""voicebot.security."""
