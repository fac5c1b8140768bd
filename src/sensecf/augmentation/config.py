"""What an augmentation study runs: :class:`AugmentationConfig`, loadable from YAML.

>>> AugmentationConfig(generators="oracle,dice-random", scenarios="0.5").scenarios
[0.5]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from sensecf.augmentation.arms import OVERSAMPLERS, check_arm
from sensecf.augmentation.scenarios import check_share
from sensecf.settings import GeneratorChoice, RunSettings, generator_choice, generator_options

__all__ = ["DEFAULT_GENERATORS", "AugmentationConfig"]

DEFAULT_GENERATORS = ("oracle", "dice-random", "nice-sparsity")


class AugmentationConfig(RunSettings):
    """What the study runs. Loads from YAML (``sensecf augment --config FILE``).

    ``generators``: names, or a mapping of name → options (e.g. LLM backend settings).
    ``scarce_class``: the class whose rows are removed (default: the data's minority class).
    ``target``: how many rows an arm adds — ``restore`` the removed count, or ``balance`` the
    classes — capped by ``max_generated``. ``verifier``: which classifier accepts generated
    rows — ``scarce`` (trained on the scarce set, what a researcher has) or ``full`` (trained on
    the full training split; it leaks the removed labels and is reported as such).
    ``n_cfs``, ``max_rounds`` and ``max_queries``: counterfactuals per query, rounds of
    queries, and the most queries one generator may ask per cell (its budget).
    ``seeds``: how many seeds (``5``: seeds 0–4) or which (``[0, 3, 4]``, or ``"0,3,4"``), so a
    long study can be split by hand and its parts read together. ``splits``: ``1`` splits
    each seed's data once (``test_size`` of it for testing); ``K`` ≥ 2 runs K-fold
    cross-validation per seed (``test_size`` is then unused), so each seed tests every row
    once, and arms are compared with the corrected resampled t-test over all folds.
    ``min_proba``: a safety margin for generated rows — generators search until the verifier
    gives the scarce class at least this probability, so the rows sit inside the class rather
    than on the scarce model's boundary (``None``: the decision rule alone).
    """

    kind = "augmentation"
    path_fields = ("data", "out")

    data: Path | None = None
    out: Path | None = None
    generators: GeneratorChoice = Field(default_factory=lambda: list(DEFAULT_GENERATORS))
    oversamplers: list[str] = Field(default_factory=lambda: list(OVERSAMPLERS))
    scenarios: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.75])
    scarce_class: int | None = None
    seeds: int | list[int] = 5
    splits: int = Field(default=1, ge=1)
    estimator: str = "rf"
    params: dict[str, Any] | None = None
    test_size: float = Field(default=0.25, gt=0, lt=1)
    target: Literal["restore", "balance"] = "restore"
    max_generated: int | None = Field(default=None, ge=1)
    verifier: Literal["scarce", "full"] = "scarce"
    n_cfs: int = Field(default=1, ge=1)
    max_rounds: int = Field(default=3, ge=1)
    max_queries: int | None = Field(default=None, ge=1)
    min_proba: float | None = Field(default=None, gt=0, lt=1)
    plots: bool = True

    @field_validator("generators", "oversamplers", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return generator_choice(value)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [v.strip() for v in value.split(",") if v.strip()]
            if len(parts) == 1 and "," not in value:
                return parts[0]
            return parts
        return value

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int):
            if value < 1:
                raise ValueError(f"a number of seeds must be at least 1; got {value}")
            return value
        if not value:
            raise ValueError("a list of seeds needs at least one seed")
        if any(v < 0 for v in value) or len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct integers >= 0; got {value}")
        return list(value)

    @field_validator("scenarios", mode="before")
    @classmethod
    def _shares(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (int, float)):
            value = [value]
        return value

    @field_validator("scenarios")
    @classmethod
    def _check_shares(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("at least one scarcity share is needed")
        return [check_share(v) for v in value]

    def seed_list(self) -> list[int]:
        """The seeds to run: ``0 … seeds−1`` for a number, else the list as given.

        >>> AugmentationConfig(seeds=3).seed_list(), AugmentationConfig(seeds="4,1").seed_list()
        ([0, 1, 2], [4, 1])
        """
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def arm_names(self) -> list[str]:
        """Generator arms, then oversampling arms, in the order given."""
        names = [*self.generators, *self.oversamplers]
        for name in names:
            check_arm(name)
        return list(dict.fromkeys(names))

    def options(self, name: str) -> dict[str, Any]:
        """Options for one generator (empty unless the config maps the name to some)."""
        return generator_options(self.generators, name)
