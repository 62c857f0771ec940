"""``voicebot`` entry point. Each verb lives in its own module and is imported only when used,
so ``voicebot --help`` is instant and one verb's heavy imports never slow another."""
from __future__ import annotations

import importlib
import sys

import click

from voicebot.errors import VoicebotError

# verb -> "module:attribute" of its click command
VERBS = {
    "serve": "voicebot.cli.serve:serve",
    "call": "voicebot.cli.call:call",
    "talk": "voicebot.cli.talk:talk",
    "transcribe": "voicebot.cli.transcribe:transcribe",
    "say": "voicebot.cli.say:say",
    "analyze": "voicebot.cli.analyze:analyze",
    "nlu": "voicebot.cli.nlu:nlu",
    "flows": "voicebot.cli.flows:flows",
    "models": "voicebot.cli.models:models",
    "bench": "voicebot.cli.bench:bench",
    "privacy": "voicebot.cli.privacy:privacy",
    "admin": "voicebot.cli.admin:admin",
    "customers": "voicebot.cli.customers:customers",
    "callbacks": "voicebot.cli.callbacks:callbacks",
}

HELP = {
    "serve": "Run the web app (Twilio webhooks, Media Streams, admin, chat).",
    "call": "Simulate a whole phone call with WAV fixtures as the caller.",
    "talk": "Talk to the bot with your microphone and speakers.",
    "transcribe": "Transcribe WAV files offline.",
    "say": "Synthesise speech to a WAV file.",
    "analyze": "Intent, entities, emotion and frustration of audio or text.",
    "nlu": "Train, evaluate and try intent models.",
    "flows": "Validate and test call flows.",
    "models": "List and download offline models.",
    "bench": "Benchmarks: latency, accuracy, throughput.",
    "privacy": "Redact text; purge, export, erase and re-encrypt stored personal data.",
    "admin": "Admin console users (create-user NAME --role ...).",
    "customers": "Import customer profiles from CSV or a CRM endpoint.",
    "callbacks": "List callbacks callers asked for (due now, all pending); mark them done.",
}


class LazyGroup(click.Group):
    """A click group that imports a verb's module only when that verb runs."""

    def list_commands(self, ctx):
        return sorted(VERBS)

    def get_command(self, ctx, name):
        target = VERBS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return _not_yet(name)
            raise
        return getattr(module, attr)

    def format_commands(self, ctx, formatter):
        formatter.write_dl([(name, HELP[name]) for name in sorted(VERBS)], col_max=12)
        formatter.write_paragraph()


def _not_yet(name: str) -> click.Command:
    @click.command(name, help=HELP[name])
    def missing():
        raise click.ClickException(f"`voicebot {name}` is not available in this build")

    return missing


@click.group(cls=LazyGroup, help="voicebot: an offline-first voice IVR bot for call centers.")
@click.version_option(package_name="voicebot")
def _group():
    pass


def cli() -> None:
    """Console-script entry: runs the group, turning VoicebotError into a one-line message."""
    try:
        _group.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except VoicebotError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except SystemExit:
        raise


if __name__ == "__main__":
    cli()
