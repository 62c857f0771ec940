"""Recommendations: co-occurrence beats popularity where the data has co-purchases, never offers
what the caller owns, falls back to best sellers; the benchmark's split holds out the last
purchases and reports the test split once; the data source over the seeded demo database."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voicebot.customers.recommendations import CoOccurrence, Popularity, recommend_for_phone
from voicebot.storage.db import Database
from voicebot.storage.seed import seed_demo

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = [["tent", "stove", "lamp"], ["tent", "stove"], ["tent", "lamp"], ["phone", "case"], ["phone", "case"],
             ["phone", "charger"], ["phone"], ["phone", "case", "charger"]]


def test_cooccurrence_prefers_what_the_same_customers_bought():
    popular = Popularity(HISTORIES)
    assert popular.recommend(["tent"], 2) == ["phone", "case"]  # best sellers, whatever the caller has
    raw = CoOccurrence(HISTORIES, "raw")
    assert raw.recommend(["tent"], 2) == ["lamp", "stove"]  # equal counts: the better seller first, then by name
    assert raw.recommend(["phone", "case"], 3) == ["charger", "tent", "lamp"]  # owned items never; popularity fills up
    cosine = CoOccurrence(HISTORIES, "cosine")
    assert cosine.scores(["stove"]) == pytest.approx({"tent": 2 / (2 * 3) ** 0.5, "lamp": 1 / (2 * 2) ** 0.5})
    with pytest.raises(ValueError):
        CoOccurrence(HISTORIES, "magic")


def test_benchmark_holds_out_the_last_purchases_and_reports_test_once(tmp_path):
    rows = ["customer,item,time"]
    for n in range(30):  # a group's five items, bought in rotating order: the rest of the group follows from any three
        group = "x" if n % 2 else "y"
        rows += [f"u{n},{group}{(n + t) % 5},{t}" for t in range(5)]
    rows += [f"p{n},pop{n % 2},1" for n in range(80)]  # two best sellers bought alone
    data = tmp_path / "purchases.csv"
    data.write_text("\n".join(rows) + "\n")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "recommendations.py"), "--data", str(data), "--k", "2",
                          "--json"], capture_output=True, text=True, check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
    result = json.loads(out.stdout)
    assert result["evaluated"] == 30 and result["k"] == 2
    assert result["validation_hit_rate"]["popularity"] == 0.0
    assert result["validation_hit_rate"]["cooccurrence-raw"] == 1.0
    assert result["chosen"] == "cooccurrence-raw"
    assert result["test_hit_rate"] == {"cooccurrence-raw": 1.0, "popularity": 0.0}


def test_benchmark_refuses_a_csv_without_the_columns(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("who,what\n1,2\n")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "recommendations.py"), "--data", str(data)],
                         capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
    assert out.returncode == 1 and "must name at least the columns customer and item" in out.stderr


def test_the_flow_source_offers_related_items_first(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'recs.db'}")
    seed_demo(db)
    ben = recommend_for_phone(db, "+15550002222")  # running shoes, water bottle, usb-c charger
    assert ben["found"] is True and ben["item_list"][0] == "Bluetooth speaker"  # Chloe bought it with the charger
    assert "usb-c charger" not in ben["items"]
    ana = recommend_for_phone(db, "+15550001111")  # nobody else bought her items: category best sellers
    assert ana["found"] is True and ana["item_list"] == ["USB-C charger", "Bluetooth speaker"]
    unknown = recommend_for_phone(db, "+15559990000")
    assert unknown["found"] is False and unknown["item_list"] and unknown["last_item"] == ""
    db.engine.dispose()
