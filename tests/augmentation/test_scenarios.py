"""Scarcity scenarios: how many rows go, which class, whole people, nested and seeded."""

import numpy as np
import pytest

from sensecf.augmentation.scenarios import Scenario, make_scarce
from sensecf.errors import SensecfError


def test_removes_the_share_of_one_class_only(toy_ungrouped):
    y = toy_ungrouped.y.to_numpy()
    n_class = int((y == 1).sum())
    split = make_scarce(toy_ungrouped, Scenario(0.5, 1), seed=0)
    assert split.n_removed == round(0.5 * n_class)
    assert (y[split.removed] == 1).all()
    assert len(split.kept) + split.n_removed == len(toy_ungrouped)
    assert (y[split.kept] == 0).sum() == (y == 0).sum()
    assert not set(split.kept) & set(split.removed)


def test_other_class_can_be_made_scarce(toy_ungrouped):
    y = toy_ungrouped.y.to_numpy()
    split = make_scarce(toy_ungrouped, Scenario(0.25, 0), seed=3)
    assert (y[split.removed] == 0).all()
    assert split.n_removed == round(0.25 * (y == 0).sum())


def test_grouped_removal_takes_whole_people(toy):
    y = toy.y.to_numpy()
    groups = toy.groups.to_numpy()
    split = make_scarce(toy, Scenario(0.5, 1), seed=1)
    removed_people = set(groups[split.removed])
    # Every class-1 row of a removed person is gone; no class-1 row of theirs is kept.
    kept_class = split.kept[y[split.kept] == 1]
    assert not removed_people & set(groups[kept_class])
    assert (y[split.removed] == 1).all()
    # The count is close to the share: within the largest person's number of class-1 rows.
    per_person = np.bincount(groups[y == 1])
    assert abs(split.n_removed - 0.5 * (y == 1).sum()) <= per_person.max()


@pytest.mark.parametrize("dataset", ["toy", "toy_ungrouped"])
def test_scenarios_are_nested_and_seeded(dataset, request):
    data = request.getfixturevalue(dataset)
    small = make_scarce(data, Scenario(0.25, 1), seed=4)
    large = make_scarce(data, Scenario(0.75, 1), seed=4)
    assert set(small.removed) <= set(large.removed)
    assert small.n_removed < large.n_removed
    again = make_scarce(data, Scenario(0.25, 1), seed=4)
    assert np.array_equal(small.removed, again.removed)
    other = make_scarce(data, Scenario(0.25, 1), seed=5)
    assert not np.array_equal(small.removed, other.removed)


@pytest.mark.parametrize("share", [0, 1, 1.5, -0.1, True])
def test_share_must_lie_between_0_and_1(toy, share):
    with pytest.raises(SensecfError, match="strictly between 0 and 1"):
        make_scarce(toy, Scenario(share, 1), seed=0)


def test_unknown_class_and_too_few_rows_left(toy_ungrouped):
    with pytest.raises(SensecfError, match="scarce class must be one of"):
        make_scarce(toy_ungrouped, Scenario(0.5, 7), seed=0)
    few = toy_ungrouped.subset(
        np.flatnonzero(toy_ungrouped.y.to_numpy() == 0)[:20].tolist()
        + [
            int(np.flatnonzero(toy_ungrouped.y.to_numpy() == 1)[0]),
            int(np.flatnonzero(toy_ungrouped.y.to_numpy() == 1)[1]),
        ]
    )
    with pytest.raises(SensecfError, match="at least 2 must remain"):
        make_scarce(few, Scenario(0.5, 1), seed=0)


def test_name():
    assert Scenario(0.75, 1).name == "class1-75pct"
