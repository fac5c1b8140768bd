"""The study run in worker processes and on a local Ray cluster gives the serial run's tables."""

import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from sensecf.augmentation import augmentation_study
from sensecf.execution import Execution

SETTINGS = {
    "generators": ["oracle", "dice-random"],
    "oversamplers": ["smote"],
    "scenarios": [0.25, 0.5],
    "seeds": 2,
    "estimator": "logreg",
    "max_generated": 5,
    "plots": False,
}
TIMING = ["seconds", "cell_seconds"]


def timeless(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in TIMING if c in frame.columns])


def same_study(one, other) -> None:
    pd.testing.assert_frame_equal(
        timeless(one.results), timeless(other.results), rtol=0, atol=1e-12
    )
    pd.testing.assert_frame_equal(one.rows, other.rows)
    pd.testing.assert_frame_equal(
        one.comparisons.drop(columns=[c for c in one.comparisons if c.startswith("seconds")]),
        other.comparisons.drop(columns=[c for c in other.comparisons if c.startswith("seconds")]),
    )


@pytest.fixture(scope="module")
def serial(toy):
    return augmentation_study(toy, **SETTINGS)


@pytest.mark.slow
def test_two_worker_processes_give_the_serial_tables_and_the_driver_saves_every_cell(
    toy, serial, tmp_path
):
    parallel = augmentation_study(toy, out_dir=tmp_path, execution=Execution(jobs=2), **SETTINGS)
    same_study(serial, parallel)
    cells = list((tmp_path / "cells").rglob("cell.json"))
    assert len(cells) == 2 * (1 + 2 * 4)  # per seed: full, and per scenario scarce + 3 arms
    resumed = augmentation_study(toy, out_dir=tmp_path, execution=Execution(jobs=2), **SETTINGS)
    same_study(serial, resumed)


@pytest.mark.slow
def test_a_local_ray_cluster_gives_the_serial_tables(toy, serial):
    pytest.importorskip("ray")
    on_ray = augmentation_study(toy, execution=Execution(jobs=2, ray="local"), **SETTINGS)
    same_study(serial, on_ray)


def test_a_failing_cell_is_reported_by_its_key_and_the_others_go_on(toy, tmp_path, caplog):
    # A generator that cannot be built fails its cells only; the others still finish.
    settings = {**SETTINGS, "generators": {"oracle": {"no_such_option": 1}}, "seeds": 1}
    caplog.set_level("WARNING", logger="sensecf")
    study = augmentation_study(toy, out_dir=tmp_path, **settings)
    failed = [m for m in caplog.messages if m.startswith("✗")]
    assert failed and all("/seed0/oracle" in m for m in failed)
    assert set(study.results["arm"]) == {"full", "scarce", "smote"}


@pytest.mark.slow
def test_llm_answers_made_in_workers_land_in_the_drivers_cache(toy, tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp")
    from sensecf.llm import llama_cpp

    loads = []
    original = llama_cpp.LlamaCpp.__init__

    def counted(self, *args, **kwargs):
        loads.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(llama_cpp.LlamaCpp, "__init__", counted)
    settings = {
        **SETTINGS,
        "generators": {"few-shot": {"repair_rounds": 1}},
        "oversamplers": [],
        "scenarios": [0.25, 0.5],
        "seeds": 1,
        "max_generated": 2,
        "max_rounds": 1,
        "max_queries": 2,
    }
    scratch = set(Path(tempfile.gettempdir()).glob("sensecf-worker-*"))
    serial = augmentation_study(toy, out_dir=tmp_path / "serial", **settings)
    # Two LLM cells, one model load: a process builds an arm's backend once.
    assert (serial.results["arm"] == "few-shot").sum() == 2 and len(loads) == 1
    parallel = augmentation_study(
        toy, out_dir=tmp_path / "parallel", execution=Execution(jobs=2), **settings
    )
    same_study(serial, parallel)

    def answers(folder):
        with sqlite3.connect(folder / "llm-cache.sqlite") as db:
            return set(db.execute("SELECT key, text FROM completions").fetchall())

    assert answers(tmp_path / "parallel") == answers(tmp_path / "serial") != set()
    # Each worker kept its copy of the cache in a scratch folder, removed as it exited.
    assert set(Path(tempfile.gettempdir()).glob("sensecf-worker-*")) == scratch
