"""voicebot.telephony.twilio."""
