"""``voicebot flows``: validate a flow file, run conversation tests, print the JSON Schema."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import click

from voicebot.errors import FlowError


@click.group(help="Validate and test call flows.")
def flows():
    pass


@flows.command(help="Check a flow file; list every problem with file and line; exit 1 if any.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per problem (or one for success).")
def validate(file: str, as_json: bool):
    from voicebot.flows.loader import load_flow

    started = time.perf_counter()
    try:
        flow = load_flow(file)
    except FlowError as exc:
        for problem in exc.problems:
            click.echo(json.dumps(problem.to_dict()) if as_json else str(problem))
        if not as_json:
            click.echo(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} in {file}", err=True)
        sys.exit(1)
    ms = (time.perf_counter() - started) * 1000
    if as_json:
        click.echo(json.dumps({"file": file, "valid": True, "name": flow.name, "nodes": len(flow.nodes),
                               "intents": len(flow.intents), "load_ms": round(ms, 1)}))
    else:
        click.echo(f"{file}: valid flow '{flow.name}' ({len(flow.nodes)} nodes, {len(flow.intents)} intents, {ms:.0f} ms)")


@flows.command(help="Print the JSON Schema of flow files (for editor autocompletion).")
def schema():
    from voicebot.flows.schema import flow_json_schema

    click.echo(json.dumps(flow_json_schema(), indent=2))


@flows.command(help="Run conversation tests (YAML scenarios) in DIR or one FILE; exit 1 on failure.")
@click.argument("target", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per scenario.")
@click.option("--database", default="", help="Database URL for lookups, opened with the configured encryption key "
              "(default: a fresh seeded demo SQLite).")
@click.option("--asr", "asr_name", default="auto", show_default=True, help="Recogniser for audio turns.")
def test(target: str, as_json: bool, database: str, asr_name: str):
    for var, value in (("OMP_NUM_THREADS", "1"), ("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1")):
        os.environ.setdefault(var, value)  # before torch is imported (see DESIGN.md)
    from voicebot.session.datasources import DataSources
    from voicebot.testing.conversations import ConversationRunner
    from voicebot.testing.scenarios import load_scenarios, scenario_files
    from voicebot.nlu.understander import Understander
    from voicebot.config import load_settings
    from voicebot.storage.db import Database
    from voicebot.storage.keys import open_database
    from voicebot.storage.seed import seed_demo

    files = scenario_files(target)
    with tempfile.TemporaryDirectory(prefix="voicebot-flows-test-") as tmp:
        if database:  # a real database: its data opens only with its key
            db = open_database(load_settings(database_url=database)).db
        else:
            db = Database(f"sqlite:///{Path(tmp) / 'demo.db'}")
            seed_demo(db)

        def load_asr():  # in this process: a short run does not pay for starting recogniser workers
            from voicebot.asr.registry import load_asr as load
            from voicebot.config import load_settings

            return load(asr_name, load_settings(asr_workers=0))

        understanders: dict[str, Understander] = {}
        passed = failed = skipped = 0
        for file in files:
            flow, scenarios = load_scenarios(file)
            if flow.sha256 not in understanders:
                understanders[flow.sha256] = Understander.from_examples(flow.intents)
            runner = ConversationRunner(understanders[flow.sha256], DataSources.for_flow(flow, db), load_asr)
            for scenario in scenarios:
                result = runner.run(flow, scenario, str(file), file.parent)
                if result.skipped:
                    skipped += 1
                else:
                    passed, failed = passed + result.passed, failed + (not result.passed)
                if as_json:
                    click.echo(json.dumps(result.to_dict()))
                elif result.skipped or not result.passed:
                    click.echo(result.report() + "\n")
                else:
                    click.echo(f"PASS {result.name}")
        db.engine.dispose()
    if not as_json:
        click.echo(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    if failed:
        sys.exit(1)


def _database():
    from voicebot.config import load_settings
    from voicebot.storage.keys import open_database

    return open_database(load_settings()).db


def _flow_name(file: str) -> str:
    import yaml

    try:
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FlowError(f"cannot read {file}: {exc}") from None
    if not isinstance(data, dict) or not data.get("name"):
        raise FlowError(f"{file} has no 'name'; versions are saved under the flow's name")
    return str(data["name"])


@flows.command(help="List saved versions of a flow (from the configured database), newest first.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per version.")
@click.option("--save", is_flag=True, help="Validate FILE and save it as a version first.")
def versions(file: str, as_json: bool, save: bool):
    from voicebot.flows.loader import load_flow
    from voicebot.storage import flow_versions

    db = _database()
    if save:
        flow = load_flow(file)
        flow_versions.save_flow_version(db, flow.name, flow.source, flow.sha256)
    rows = flow_versions.list_flow_versions(db, _flow_name(file))
    for row in rows:
        click.echo(json.dumps(row) if as_json else f"{row['id']:>5}  {row['created_at']}  {row['sha256'][:12]}")
    if not rows and not as_json:
        click.echo(f"no saved versions of '{_flow_name(file)}' in {db.url}")


@flows.command(help="Write saved version ID back to FILE (validated first); a running server reloads it.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("version_id", type=int)
def rollback(file: str, version_id: int):
    from voicebot.session.flow_store import restore_version

    flow = restore_version(file, _database(), version_id)
    click.echo(f"{file}: restored version {version_id} of '{flow.name}'")
