"""Call flows that admins write: a YAML language (``schema``), loading and validation
(``loader``, ``validate``) and the pure engine (``engine.step``: no storage, audio, recognition
or web; state in ``state``). The live reloading store, data sources and conversation tests run
beside the session runner (``voicebot.session.flow_store``, ``voicebot.session.datasources``,
``voicebot.testing.conversations``). See docs/flows.md."""
