"""Knowing the caller: profiles by caller ID, identity verification, CRM/CSV import,
recommendations. Imports only ``voicebot.storage``; the session registers these as data sources."""
