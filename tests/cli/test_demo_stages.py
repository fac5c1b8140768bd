"""The demo's stage record: finished stages are kept, a changed setting or --fresh redoes them."""

import json

import pytest

from sensecf.cli.demo import RECORD, _Stages


def run_all(out, settings, *, fresh=False, calls=None):
    stages = _Stages(out, settings, fresh=fresh)
    for name in _Stages.names:
        stages.run(name, lambda n=name: calls.append(n), keep=name != "report")
    return calls


def test_a_second_run_only_writes_the_report(tmp_path):
    first = run_all(tmp_path, {"quick": True, "seed": 0}, calls=[])
    assert first == list(_Stages.names)
    assert run_all(tmp_path, {"quick": True, "seed": 0}, calls=[]) == ["report"]
    record = json.loads((tmp_path / RECORD).read_text())
    assert record["done"] == list(_Stages.names[:-1])


def test_other_settings_or_fresh_run_everything_again(tmp_path):
    run_all(tmp_path, {"quick": True, "seed": 0}, calls=[])
    assert run_all(tmp_path, {"quick": True, "seed": 1}, calls=[]) == list(_Stages.names)
    assert run_all(tmp_path, {"quick": True, "seed": 1}, fresh=True, calls=[]) == list(
        _Stages.names
    )


def test_a_stage_that_failed_is_run_again_with_every_later_one(tmp_path):
    settings = {"quick": True, "seed": 0}
    stages = _Stages(tmp_path, settings, fresh=False)
    stages.run("cohort", lambda: None)
    stages.run("features", lambda: None)
    with pytest.raises(ZeroDivisionError):
        stages.run("model", lambda: 1 / 0)
    calls = run_all(tmp_path, settings, calls=[])
    assert calls == list(_Stages.names[2:])


def test_an_unreadable_record_is_a_fresh_start(tmp_path):
    (tmp_path / RECORD).write_text("{not json")
    assert run_all(tmp_path, {"quick": False, "seed": 0}, calls=[]) == list(_Stages.names)


def test_durations_read_as_a_person_would_say_them() -> None:
    from sensecf.cli.demo import _duration

    assert _duration(9.84) == "9.8 s"
    assert _duration(163.2) == "2 min 43 s"
    assert _duration(3600) == "60 min 0 s"
