"""Where units run: serial, worker processes and Ray give the same results; a failing unit is
reported by its key while the others go on; the caller's errors stop the run."""

from __future__ import annotations

import pytest

from sensecf.errors import SensecfError
from sensecf.execution import Execution, UnitError, worker_count


def cube(offset: int, key: int) -> int:
    if key == 3:
        raise ValueError("three is unlucky")
    if key == 4:
        raise SensecfError("key 4 is bad input")
    return key**3 + offset


def is_input_error(exc: Exception) -> bool:
    return isinstance(exc, SensecfError)


@pytest.mark.parametrize("execution", [Execution(), Execution(jobs=2)], ids=["serial", "jobs2"])
def test_results_arrive_for_every_unit_and_failures_carry_their_key(execution):
    got: dict[int, int] = {}
    failed: list[UnitError[int]] = []
    execution.run(cube, 1, [0, 1, 2, 3, 5], on_result=got.__setitem__, on_error=failed.append)
    assert got == {0: 1, 1: 2, 2: 9, 5: 126}
    assert [f.key for f in failed] == [3] and "ValueError: three is unlucky" in failed[0].error


@pytest.mark.parametrize("execution", [Execution(), Execution(jobs=2)], ids=["serial", "jobs2"])
def test_an_error_the_caller_marks_as_its_own_stops_the_run(execution):
    with pytest.raises(SensecfError, match="key 4 is bad input"):
        execution.run(cube, 0, [1, 4], on_result=lambda k, r: None, stop=is_input_error)


def test_settings_are_checked_at_the_door():
    assert worker_count(2) == 2 and worker_count(-1) >= 1
    with pytest.raises(SensecfError, match="jobs must be a positive number"):
        Execution(jobs=0)
    with pytest.raises(SensecfError, match="ray must be"):
        Execution(ray=" ")
    with pytest.raises(SensecfError, match="its own key"):
        Execution().run(cube, 0, [1, 1], on_result=lambda k, r: None)
    assert Execution().describe() == "serial" and Execution(jobs=2).describe() == "2 processes"
    assert Execution(ray="auto").parallel and not Execution().parallel
