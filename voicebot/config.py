"""Settings: read once from environment variables, optionally from a TOML file.

Precedence: explicit keyword arguments > environment variables > TOML file > defaults.
The environment variables are a public contract (see docs and ``../shared/DESIGN.md``).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ValidationError

from voicebot.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

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
    "transfer_number": "VOICEBOT_TRANSFER_NUMBER",
}


class Settings(BaseModel):
    """All runtime settings of a voicebot process. Immutable once built."""

    model_config = {"frozen": True, "extra": "forbid"}

    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = "dev-auth-token"
    twilio_api_base_url: str = ""  # empty: Twilio's real API; tests point it at a local stand-in
    public_url: str = ""  # the URL Twilio sees; empty: derived from each request
    database_url: str = ""  # empty: SQLite under data_dir
    redis_url: str = ""
    secret_key: str = "dev-secret-key-change-me"
    agent_password: str = ""  # empty: agent pages answer only requests from this machine
    encryption_key: str = ""
    flow_path: str = str(PROJECT_ROOT / "flows" / "retail_demo.yaml")
    data_dir: str = str(PROJECT_ROOT / "var")
    models_dir: str = str(PROJECT_ROOT / "models")
    asr_backend: str = "auto"
    asr_workers: int = 2  # recogniser processes (one CPU core each); 0: decode in the serving process
    asr_timeout_s: float = 8.0  # a decode running longer is killed (its worker replaced) and the caller asked again
    transfer_number: str = "+15550100000"

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy URL in use: the configured one, else SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir) / 'voicebot.db'}"


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
