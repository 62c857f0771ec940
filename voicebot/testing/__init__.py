"""Driving voicebot without a phone: the simulated Twilio (``twilio_sim``), a stand-in for
Twilio's REST API (``rest_standin``), the bot in this process (``in_process``), conversation
tests (``scenarios``, ``conversations``) and a protocol test double (``echo_session``)."""
