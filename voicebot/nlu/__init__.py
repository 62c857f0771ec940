"""Understanding: intents, entities, emotion and frustration."""
