"""voicebot.privacy: PII redaction and encryption at rest (keyring, key file, rekey)."""
