"""``voicebot nlu train|evaluate|predict``: intent models from CSV files (columns ``text,label``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

def _staged_progress():
    """A progress callback for ``train_intent_model``: one bar per stage (encoding, fine-tuning)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=console, disable=not console.is_terminal)
    tasks: dict[str, int] = {}

    def advance(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done)
    return progress, advance


@click.group(help="Train, evaluate and try intent models.")
def nlu():
    pass


@nlu.command(help="Train an intent model from a CSV (text,label) and save it to DIR.")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False), help="training CSV with columns text,label")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="model directory to write")
@click.option("--oos-label", default="oos", show_default=True, help="label of out-of-scope examples (used to calibrate rejection)")
@click.option("--fine-tune/--frozen", default=True, show_default=True,
              help="fine-tune the encoder's top layers on the data (minutes for 10,000 rows) or keep it frozen (seconds)")
@click.option("--json", "as_json", is_flag=True, help="print the manifest as JSON")
def train(data_path, out_dir, oos_label, fine_tune, as_json):
    from voicebot.nlu.intent_training import train_intent_model
    from voicebot.nlu.training_data import read_intent_csv, score
    from voicebot.nlu.understander import Understander, find_human_intent, training_manifest

    texts, labels = read_intent_csv(data_path, oos_label=oos_label)
    click.echo(f"training on {len(texts)} examples, {len(set(labels) - {oos_label})} intents"
               + (" (fine-tuning the encoder)" if fine_tune else "") + " ...", err=True)
    progress, advance = _staged_progress()
    with progress:
        model = train_intent_model(texts, labels, oos_label, fine_tune_encoder=fine_tune, progress=advance)
    grouped: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        grouped.setdefault(label, []).append(text)
    head = model.head
    head.metadata.update(training_manifest(texts, labels), oos_label=oos_label, human_intent=find_human_intent(grouped))
    understander = Understander.from_model(model)
    predictions = [p.intent if p.intent != "oos" else oos_label for p in understander.predict_intents(texts)]
    metrics = score(labels, predictions, oos_label)
    train_metrics = {"on": "training data", "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
    understander.save(out_dir, train_metrics)
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text())
    if as_json:
        click.echo(json.dumps(manifest))
    else:
        click.echo(f"saved {out_dir}: {len(head.classes)} intents, thresholds prob>={head.prob_threshold:.2f} "
                   f"sim>={head.sim_threshold:.2f}, training accuracy {metrics['accuracy']:.3f}")


@nlu.command(help="Evaluate an intent model on a labelled CSV (text,label).")
@click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False), help="model directory from `nlu train`")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False), help="test CSV with columns text,label")
@click.option("--oos-label", default="oos", show_default=True, help="label that marks out-of-scope examples")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object with all metrics")
def evaluate(model_dir, data_path, oos_label, as_json):
    from voicebot.nlu.training_data import read_intent_csv, score
    from voicebot.nlu.understander import Understander

    understander = Understander.load(model_dir)
    head = understander.intents
    texts, labels = read_intent_csv(data_path, for_training=False, oos_label=oos_label)
    progress, advance = _staged_progress()
    done = [0]

    def encoded(n: int) -> None:
        done[0] += n
        advance("encoding", done[0], len(texts))
    with progress:
        predictions = [p.intent if p.intent != "oos" else oos_label for p in understander.predict_intents(texts, encoded)]
    metrics = score(labels, predictions, oos_label)
    unknown = sorted(set(labels) - set(head.classes) - {oos_label})
    metrics["labels_unknown_to_model"] = unknown
    if as_json:
        click.echo(json.dumps(metrics))
        return
    click.echo(f"examples {metrics['n']}  accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
               f"in-scope accuracy {metrics['in_scope_accuracy']:.4f}"
               + (f"  OOS recall {metrics['oos_recall']:.4f}" if "oos_recall" in metrics else ""))
    if unknown:
        click.echo(f"labels in the data the model was not trained on: {', '.join(unknown[:10])}")
    summary = metrics["confusion_summary"]
    click.echo(f"\nconfusion summary: {summary['correct']} correct, {summary['wrong_intent']} given another intent, "
               f"{summary['rejected_in_scope']} in-scope rejected as {oos_label}, {summary['accepted_oos']} {oos_label} accepted as an intent")
    worst = sorted(metrics["per_label"].items(), key=lambda kv: (kv[1]["f1"], -kv[1]["support"]))[:10]
    click.echo(f"\nweakest labels\n{'label':30} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for label, row in worst:
        click.echo(f"{label[:30]:30} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} {row['support']:8d}")
    if metrics["confused_pairs"]:
        click.echo("\nmost confused intent pairs (either way round):")
        for c in metrics["confused_pairs"]:
            click.echo(f"  {c['count']:4d}  {c['a']} <-> {c['b']}  ({c['a_as_b']} + {c['b_as_a']})")
    if metrics["top_confusions"]:
        click.echo("\nmost frequent confusions (gold -> predicted):")
        for c in metrics["top_confusions"]:
            click.echo(f"  {c['count']:4d}  {c['gold']} -> {c['predicted']}")
    click.echo("\n(--json prints every label's precision, recall and F1)")


@nlu.command(help="Predict the intent of TEXT.")
@click.argument("text")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="model directory (default: train on the flow's examples)")
@click.option("--flow", "flow_path", type=click.Path(dir_okay=False), help="flow whose intent examples to use (default: the configured flow)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def predict(text, model_dir, flow_path, as_json):
    from voicebot.cli.analyze import load_understander

    understanding = load_understander(model_dir, flow_path, with_voice=False).understand(text)
    top = sorted(understanding.intent_scores.items(), key=lambda kv: -kv[1])[:3]
    if as_json:
        click.echo(json.dumps({"text": understanding.text, "intent": understanding.intent,
                               "confidence": understanding.confidence, "top": dict(top)}))
    else:
        click.echo(f"{understanding.intent}  ({understanding.confidence:.2f})   top: "
                   + ", ".join(f"{k} {v:.2f}" for k, v in top))


if __name__ == "__main__":  # pragma: no cover
    nlu(sys.argv[1:])
