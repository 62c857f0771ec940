"""Twilio webhook signatures (``X-Twilio-Signature``) for Flask requests.

A thin wrapper over the twilio library's ``RequestValidator``. Twilio signs the exact URL it
requested plus the POST form parameters; behind a proxy or tunnel the URL Flask sees differs
from the one Twilio used, so when ``public_url`` (``VOICEBOT_PUBLIC_URL``) is set, the signed URL
is rebuilt from it and the request's path and query.
"""
from __future__ import annotations

from typing import Mapping
from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


def public_request_url(request, public_url: str = "") -> str:
    """The URL Twilio requested: ``public_url`` + path + query when configured, else ``request.url``."""
    if not public_url:
        return request.url
    base = public_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def is_valid_twilio_request(request, auth_token: str, public_url: str = "") -> bool:
    """True when the Flask ``request`` carries a valid ``X-Twilio-Signature`` for ``auth_token``."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    return validator.validate(public_request_url(request, public_url), request.form, signature)


def is_valid_signature(url: str, params: Mapping[str, str], signature: str, auth_token: str) -> bool:
    """True when ``signature`` is Twilio's for ``url`` and ``params`` (e.g. a Media Stream handshake,
    which Twilio signs over its ``wss://`` URL with no parameters)."""
    if not signature or not auth_token:
        return False
    return RequestValidator(auth_token).validate(url, dict(params), signature)


def sign(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for a POST of ``params`` to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, dict(params))

