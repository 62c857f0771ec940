"""voicebot.telephony."""
