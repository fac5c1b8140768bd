"""Generators by name: options checked at the door, scikit-learn's clone for every baseline."""

import pytest
from sklearn.base import clone

from sensecf.errors import SensecfError
from sensecf.generators.registry import BASELINES, GENERATORS, make_generator, split_name


def test_names_and_the_sparsify_suffix():
    assert split_name(" nice-sparsity+sparsify ") == ("nice-sparsity", True)
    assert make_generator("dice-kdtree+sparsify").name == "dice-kdtree"
    with pytest.raises(SensecfError, match="unknown generator 'dice-gradient'"):
        make_generator("dice-gradient")


@pytest.mark.parametrize("name", [*BASELINES, "oracle"])
def test_each_generator_is_named_as_asked_and_clones_with_equal_params(name):
    made = make_generator(name)
    assert made.name == name
    twin = clone(made)
    assert type(twin) is type(made) and twin.get_params() == made.get_params()
    assert twin.name == name and repr(twin) == repr(made)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("dice-random", {"diversity_weight": 1.0}, "applies to method genetic only"),
        ("dice-genetic", {"max_iterations": 0}, "max_iterations must be a positive integer"),
        ("dice-kdtree", {"time_limit": -1}, "time_limit must be a positive number"),
        ("cfnow-greedy", {"limit_seconds": 0}, "limit_seconds must be a positive number"),
        ("cfnow-random", {"search_seconds": "2"}, "search_seconds must be a positive number"),
        ("nice-sparsity", {"seed": "0"}, "seed must be an integer"),
        ("nice-proximity", {"auto_encoder": abs}, "only with optimization='plausibility'"),
        ("nice-plausibility", {"width": 3}, "bad options for generator 'nice-plausibility'"),
    ],
)
def test_bad_options_raise_at_make_generator(name, options, message):
    with pytest.raises(SensecfError, match=message):
        make_generator(name, **options)


def test_every_name_has_a_maker():
    assert set(BASELINES) < set(GENERATORS)
    assert all(callable(make) for make in GENERATORS.values())
