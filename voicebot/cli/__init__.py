"""The ``voicebot`` command line."""
