"""``voicebot nlu train|evaluate|predict``: intent models from CSV files (columns ``text,label``)."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click

@contextmanager
def _progress(description: str, total: int):
    """A rich progress bar on stderr (stdout stays clean for --json); yields an advance(n) callback."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def _embed(texts: list[str], description: str):
    from voicebot.nlu.embeddings import get_embedder

    with _progress(description, len(texts)) as advance:
        return get_embedder().embed(texts, progress=advance)


@click.group(help="Train, evaluate and try intent models.")
def nlu():
    pass


@nlu.command(help="Train an intent model from a CSV (text,label) and save it to DIR.")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False), help="training CSV with columns text,label")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="model directory to write")
@click.option("--oos-label", default="oos", show_default=True, help="label of out-of-scope examples (used to calibrate rejection)")
@click.option("--json", "as_json", is_flag=True, help="print the manifest as JSON")
def train(data_path, out_dir, oos_label, as_json):
    from voicebot.nlu.intents import IntentClassifier
    from voicebot.nlu.training_data import read_intent_csv
    from voicebot.nlu.understander import Understander, find_human_intent, training_manifest

    texts, labels = read_intent_csv(data_path, oos_label=oos_label)
    embeddings = _embed(texts, "embedding")
    click.echo(f"training on {len(texts)} examples, {len(set(labels) - {oos_label})} intents ...", err=True)
    head = IntentClassifier.fit(embeddings, labels, oos_label=oos_label)
    grouped: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        grouped.setdefault(label, []).append(text)
    head.metadata.update(training_manifest(texts, labels), oos_label=oos_label, human_intent=find_human_intent(grouped))
    predictions = [p.intent if p.intent != "oos" else oos_label for p in head.predict_many(embeddings)]
    from voicebot.nlu.training_data import score

    metrics = score(labels, predictions, oos_label)
    train_metrics = {"on": "training data", "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
    Understander(head).save(out_dir, train_metrics)
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
    from voicebot.nlu.intents import IntentClassifier
    from voicebot.nlu.training_data import read_intent_csv, score

    head = IntentClassifier.load(model_dir)
    texts, labels = read_intent_csv(data_path, for_training=False, oos_label=oos_label)
    embeddings = _embed(texts, "embedding")
    predictions = [p.intent if p.intent != "oos" else oos_label for p in head.predict_many(embeddings)]
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
    click.echo(f"\n{'label':30} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for label, row in metrics["per_label"].items():
        click.echo(f"{label[:30]:30} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} {row['support']:8d}")
    if metrics["top_confusions"]:
        click.echo("\nmost frequent confusions (gold -> predicted):")
        for c in metrics["top_confusions"]:
            click.echo(f"  {c['count']:4d}  {c['gold']} -> {c['predicted']}")


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
