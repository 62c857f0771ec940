"""Wiring of the channels into the web app (``create_app`` calls ``register`` once).

One ``ConversationHub`` per app (``app.extensions["voicebot.channels"]``) serves every text
channel. Its parts come from the loaded pipeline when there is one (the same flow, understander
and data sources as calls), else from the configured flow file with an understander trained for
it (test apps built with a session factory, no speech models). The machine-facing blueprints
(chat API, SMS, email, WeChat) carry their own credentials and are exempt from CSRF.
"""
from __future__ import annotations

from flask import Flask

from voicebot.channels.base import ChannelParts
from voicebot.channels.hub import ConversationHub


def register(app: Flask, state, csrf) -> ConversationHub:
    """Build the app's hub and register the channels' routes."""
    from voicebot.channels import mail, sms, webchat, wechat
    from voicebot.web import chats

    def parts() -> ChannelParts:
        if state.pipeline is not None:
            return ChannelParts.from_pipeline(state.pipeline)
        return ChannelParts.for_flow(state.settings.flow_path, state.db)

    from voicebot.storage.conversation_rights import purge_conversations
    from voicebot.storage.retention import retention_days

    purge_conversations(state.db, retention_days(state.settings))  # as create_app purges calls
    hub = ConversationHub(parts)
    app.extensions["voicebot.channels"] = hub
    machines = (webchat.blueprint(hub), sms.blueprint(state, hub), mail.blueprint(state, hub), wechat.blueprint(state, hub))
    for machine in machines:
        csrf.exempt(machine)
        app.register_blueprint(machine)
    from voicebot.telephony import browser

    app.register_blueprint(browser.blueprint(state))  # the softphone's socket (/chat/voice)
    app.register_blueprint(chats.page)
    app.register_blueprint(chats.agent)
    return hub
