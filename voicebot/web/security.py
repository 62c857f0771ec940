"""Web hardening of the app, applied by ``create_app``: headers, cookies, CSRF, sizes, proxies.

- Headers on every response (flask-talisman): a Content-Security-Policy that allows this
  site's own resources and inline styles but no inline or foreign scripts, no framing
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: strict-origin-when-cross-origin``, and HSTS when the request
  came over TLS (directly, or through a proxy counted in ``VOICEBOT_TRUSTED_PROXIES``).
  Plain http is never redirected: TLS is the reverse proxy's job (SECURITY.md).
- Session cookie: HttpOnly, SameSite=Lax, Secure unless ``VOICEBOT_PUBLIC_URL`` is plain http.
- CSRF (Flask-WTF ``CSRFProtect``): every POST/PUT/PATCH/DELETE needs the session's token
  (form field ``csrf_token``, or the ``X-CSRFToken`` header), except the Twilio blueprints,
  which are signed instead. A form renders ``{{ csrf_token() }}`` in a hidden input; the admin
  console (issue 13) uses exactly that. A refused request is a 400 with one line.
- Sizes: request bodies over ``MAX_BODY_BYTES`` are refused (413) before they are parsed;
  Twilio's webhooks are 1-2 KB.
- Proxies: with ``VOICEBOT_TRUSTED_PROXIES=N`` the client address, scheme and host come from
  the last N proxies' ``X-Forwarded-*`` headers (werkzeug's ProxyFix); never trust them otherwise.
"""
from __future__ import annotations

from flask import Flask, Response
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from voicebot.config import Settings

MAX_BODY_BYTES = 64 * 1024
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",  # the pages' small <style> blocks; no inline scripts
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def secure_app(app: Flask, settings: Settings) -> CSRFProtect:
    """Apply the protections above to ``app``; the CSRF extension (``csrf.exempt`` takes signed blueprints)."""
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["MAX_FORM_PARTS"] = 200
    app.config["SESSION_COOKIE_NAME"] = "voicebot_session"
    Talisman(app, force_https=False, frame_options="DENY", content_security_policy=CONTENT_SECURITY_POLICY,
             referrer_policy="strict-origin-when-cross-origin", strict_transport_security=True,
             strict_transport_security_include_subdomains=False,
             session_cookie_secure=not settings.public_url.startswith("http://"), session_cookie_http_only=True,
             session_cookie_samesite="Lax")
    csrf = CSRFProtect(app)

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError):
        return Response(f"refused: {error.description} (reload the page and try again)\n", 400, mimetype="text/plain")

    return csrf
