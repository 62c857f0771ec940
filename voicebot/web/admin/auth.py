"""Console login and roles.

- ``/admin/login``: a form (CSRF token) checked against ``storage.admin`` users' argon2id hashes.
  Attempts are throttled per user name and per client address (``AppState.login_throttle``):
  5 wrong passwords within 15 minutes lock both out for 15 minutes (429, audited).
- A successful login starts a fresh session holding only the user's name; the role is read from
  the database on every request, so a changed role applies at once. ``POST /admin/logout`` ends it.
- Roles: ``admin`` may do everything; ``supervisor`` calls, analytics and review; ``analyst``
  reads analytics and calls with transcripts redacted. ``require(area)`` guards a view: a role
  without the right gets 403 and an audit entry ``forbidden``.
"""
from __future__ import annotations

import functools

from flask import Response, abort, g, redirect, render_template, request, session, url_for
from prometheus_client import Counter

from voicebot.errors import LoginThrottledError
from voicebot.security.passwords import PasswordHasher
from voicebot.storage import admin as store
from voicebot.web.admin import bp
from voicebot.web.state import current_state

PERMISSIONS = {
    "dashboard": {"admin", "supervisor", "analyst"},
    "analytics": {"admin", "supervisor", "analyst"},
    "calls": {"admin", "supervisor", "analyst"},  # analysts see redacted transcripts
    "review": {"admin", "supervisor"},
    "flows": {"admin"},
    "faq": {"admin"},  # FAQ answers the bot speaks
    "audit": {"admin"},
}
PUBLIC_ENDPOINTS = {"admin.login"}
_hasher = PasswordHasher()
ACTIONS = Counter("voicebot_console_actions_total", "Audited admin console actions (logins, refusals, changes)", ["action"])


def may(area: str, role: str | None = None) -> bool:
    """Whether ``role`` (default: the logged-in user's) may use ``area``."""
    role = role or (g.admin_user["role"] if g.get("admin_user") else "")
    return role in PERMISSIONS.get(area, set())


def record(action: str, target: str = "", **details) -> None:
    """Write an audit entry as the logged-in user (``anonymous`` before login)."""
    user = g.get("admin_user")
    _audit(user["name"] if user else "anonymous", action, target, details)


def _audit(actor: str, action: str, target: str = "", details: dict | None = None) -> None:
    store.audit(current_state().db, actor, action, target, details or {})
    ACTIONS.labels(action).inc()


def require(area: str):
    """View decorator: 403 (and an audit entry) unless the user's role may use ``area``."""
    def wrap(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if not may(area):
                record("forbidden", request.path, method=request.method, area=area, role=g.admin_user["role"])
                abort(403, description=f"your role ({g.admin_user['role']}) may not use {area}")
            return view(*args, **kwargs)
        return guarded
    return wrap


@bp.before_request
def load_user():
    """Every console page but the login form needs a logged-in user that still exists."""
    g.admin_user = None
    name = session.get("admin_user")
    if name:
        user = store.get_user(current_state().db, name)
        g.admin_user = {"name": user["name"], "role": user["role"]} if user else None
    if g.admin_user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.method == "GET":
            return redirect(url_for("admin.login", next=request.path))
        return Response("log in first\n", 401, mimetype="text/plain")
    return None


@bp.app_context_processor
def console_context():
    return {"admin_user": g.get("admin_user"), "may": may}


@bp.route("/login", methods=["GET", "POST"])
def login():
    state = current_state()
    if request.method == "GET":
        return render_template("admin/login.html", error="", next=request.args.get("next", ""))
    name = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")
    keys = (("admin-user", name.lower()), ("admin-addr", request.remote_addr or "-"))
    try:
        state.login_throttle.check(*keys)
    except LoginThrottledError as exc:
        _audit(name or "anonymous", "login.locked", request.remote_addr or "-")
        response = Response(render_template("admin/login.html", error=str(exc), next=""), 429)
        response.headers["Retry-After"] = str(int(exc.retry_after_s) + 1)
        return response
    user = store.get_user(state.db, name) if name else None
    if user is None or not _hasher.verify(user["password_hash"], password):
        state.login_throttle.record_failure(*keys)
        _audit(name or "anonymous", "login.failed", request.remote_addr or "-")
        return render_template("admin/login.html", error="wrong user name or password", next=""), 401
    state.login_throttle.record_success(*keys)
    if _hasher.needs_rehash(user["password_hash"]):
        store.set_password_hash(state.db, name, _hasher.hash(password))
    session.clear()  # a fresh session: no fixation
    session["admin_user"] = user["name"]
    _audit(user["name"], "login", request.remote_addr or "-", {"role": user["role"]})
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/admin") and not target.startswith("//") else url_for("admin.dashboard"))


@bp.post("/logout")
def logout():
    record("logout")
    session.clear()
    return redirect(url_for("admin.login"))
