"""Settings: read once from environment variables, optionally from a TOML file.

Precedence: explicit keyword arguments > environment variables > TOML file > defaults.
The environment variables are a public contract (see docs and ``../shared/DESIGN.md``).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from voicebot.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Development defaults: public in the source, so never good enough for a server others can reach.
DEV_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEV_AUTH_TOKEN = "dev-auth-token"
DEV_SECRET_KEY = "dev-secret-key-change-me"

ENV_VARS = {
    "twilio_account_sid": "TWILIO_ACCOUNT_SID",
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "twilio_api_base_url": "VOICEBOT_TWILIO_API_URL",
    "public_url": "VOICEBOT_PUBLIC_URL",
    "database_url": "VOICEBOT_DATABASE_URL",
    "redis_url": "VOICEBOT_REDIS_URL",
    "secret_key": "VOICEBOT_SECRET_KEY",
    "agent_password": "VOICEBOT_AGENT_PASSWORD",
    "encryption_key": "VOICEBOT_ENCRYPTION_KEY",
    "flow_path": "VOICEBOT_FLOW",
    "data_dir": "VOICEBOT_DATA_DIR",
    "models_dir": "VOICEBOT_MODELS_DIR",
    "asr_backend": "VOICEBOT_ASR_BACKEND",
    "asr_workers": "VOICEBOT_ASR_WORKERS",
    "asr_timeout_s": "VOICEBOT_ASR_TIMEOUT_S",
    "asr_worker_nice": "VOICEBOT_ASR_WORKER_NICE",
    "transfer_number": "VOICEBOT_TRANSFER_NUMBER",
    "host": "VOICEBOT_HOST",
    "trusted_proxies": "VOICEBOT_TRUSTED_PROXIES",
    "require_stream_signature": "VOICEBOT_REQUIRE_STREAM_SIGNATURE",
    "retain_transcripts_days": "VOICEBOT_RETAIN_TRANSCRIPTS_DAYS",
    "retain_transfers_days": "VOICEBOT_RETAIN_TRANSFERS_DAYS",
    "retain_calls_days": "VOICEBOT_RETAIN_CALLS_DAYS",
    "retain_consents_days": "VOICEBOT_RETAIN_CONSENTS_DAYS",
    "smtp_host": "VOICEBOT_SMTP_HOST",
    "smtp_port": "VOICEBOT_SMTP_PORT",
    "smtp_user": "VOICEBOT_SMTP_USER",
    "smtp_password": "VOICEBOT_SMTP_PASSWORD",
    "smtp_starttls": "VOICEBOT_SMTP_STARTTLS",
    "email_from": "VOICEBOT_EMAIL_FROM",
    "email_webhook_token": "VOICEBOT_EMAIL_WEBHOOK_TOKEN",
    "wechat_token": "VOICEBOT_WECHAT_TOKEN",
    "crm_url": "VOICEBOT_CRM_URL",
    "crm_timeout_s": "VOICEBOT_CRM_TIMEOUT_S",
    "transfer_mode": "VOICEBOT_TRANSFER_MODE",
    "twilio_number": "VOICEBOT_TWILIO_NUMBER",
    "ring_timeout_s": "VOICEBOT_RING_TIMEOUT_S",
    "queue_max_wait_s": "VOICEBOT_QUEUE_MAX_WAIT_S",
}


class Settings(BaseModel):
    """All runtime settings of a voicebot process. Immutable once built."""

    model_config = {"frozen": True, "extra": "forbid"}

    twilio_account_sid: str = DEV_ACCOUNT_SID
    twilio_auth_token: str = DEV_AUTH_TOKEN
    twilio_api_base_url: str = ""  # empty: Twilio's real API; tests point it at a local stand-in
    public_url: str = ""  # the URL Twilio sees; empty: derived from each request
    database_url: str = ""  # empty: SQLite under data_dir
    redis_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    agent_password: str = ""  # empty: agent pages answer only requests from this machine
    encryption_key: str = ""
    flow_path: str = str(PROJECT_ROOT / "flows" / "retail_demo.yaml")
    data_dir: str = str(PROJECT_ROOT / "var")
    models_dir: str = str(PROJECT_ROOT / "models")
    asr_backend: str = "auto"
    asr_workers: int = 2  # recogniser processes (one CPU core each); 0: decode in the serving process
    asr_timeout_s: float = 8.0  # a decode running longer is killed (its worker replaced) and the caller asked again
    asr_worker_nice: int = Field(0, ge=0, le=19)  # recogniser processes run this much below the server's CPU priority
    transfer_number: str = "+15550100000"
    host: str = "127.0.0.1"  # where `voicebot serve` listens; another address needs real credentials
    trusted_proxies: int = Field(0, ge=0, le=5)  # reverse proxies in front whose X-Forwarded-* headers count
    require_stream_signature: bool = False  # refuse Media Stream handshakes without Twilio's signature
    stream_start_timeout_s: float = Field(5.0, gt=0)  # a media socket without a valid `start` by then is closed
    max_waiting_streams: int = Field(8, ge=1)  # media sockets waiting for `start` at once (each holds a thread)
    # Retention, in days, per kind of data (0: kept until erased). `voicebot privacy purge`.
    retain_transcripts_days: int = Field(30, ge=0)  # the lines of each call (turns)
    retain_transfers_days: int = Field(30, ge=0)  # the context stored for the agent
    retain_calls_days: int = Field(365, ge=0)  # the call record itself: times, outcome, caller
    retain_consents_days: int = Field(365, ge=0)  # a caller's remembered recording decision
    # Channels (docs/channels.md). Email: replies over SMTP; the inbound webhook needs the token.
    smtp_host: str = ""  # empty: the email channel answers nothing (its webhook says so)
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    email_from: str = "Acme Support <support@localhost>"
    email_webhook_token: str = ""  # the secret in the inbound webhook's URL (?token=) or X-Voicebot-Token header
    wechat_token: str = ""  # the Token configured for the WeChat Official Account's server URL
    crm_url: str = ""  # a CRM endpoint asked (GET ?phone=) about callers the database does not know; empty: none
    crm_timeout_s: float = Field(1.5, gt=0, le=30)  # a slower CRM is skipped: the call goes on unpersonalised
    # cold: <Dial> the agent directly; warm: the caller waits in a conference on hold music while the agent's
    # phone rings and hears a summary first (needs VOICEBOT_PUBLIC_URL); no answer gives the caller back to the bot
    transfer_mode: str = Field("cold", pattern="^(cold|warm)$")
    twilio_number: str = ""  # our Twilio number: the caller ID of the call a warm transfer places to the agent
    ring_timeout_s: int = Field(20, ge=5, le=600)  # the agent's phone rings this long before the caller comes back
    queue_max_wait_s: int = Field(300, ge=10, le=3600)  # a caller waits in a queue this long, then comes back to the bot

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy URL in use: the configured one, else SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir) / 'voicebot.db'}"


    def development_credentials(self) -> list[str]:
        """The settings still at their public development values (empty when none is)."""
        dev = {"TWILIO_AUTH_TOKEN": self.twilio_auth_token == DEV_AUTH_TOKEN,
               "VOICEBOT_SECRET_KEY": self.secret_key == DEV_SECRET_KEY}
        return [name for name, is_dev in dev.items() if is_dev]


def load_settings(toml_path: str | os.PathLike | None = None, **overrides) -> Settings:
    """Build settings from a TOML file (``VOICEBOT_CONFIG`` by default), the environment, overrides."""
    values: dict = {}
    toml_path = toml_path or os.environ.get("VOICEBOT_CONFIG")
    if toml_path:
        try:
            with open(toml_path, "rb") as fh:
                values.update(tomllib.load(fh).get("voicebot", {}))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read settings file {toml_path}: {exc}") from exc
    for field, var in ENV_VARS.items():
        if os.environ.get(var):
            values[field] = os.environ[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
