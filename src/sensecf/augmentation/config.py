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
    seeds: int = Field(default=5, ge=1)
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

    def arm_names(self) -> list[str]:
        """Generator arms, then oversampling arms, in the order given."""
        names = [*self.generators, *self.oversamplers]
        for name in names:
            check_arm(name)
        return list(dict.fromkeys(names))

    def options(self, name: str) -> dict[str, Any]:
        """Options for one generator (empty unless the config maps the name to some)."""
        return generator_options(self.generators, name)
