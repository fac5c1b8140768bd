"""``sensecf finetune --config FILE``: a fine-tuning run's settings in YAML.

Every command-line option has a key of the same name (``max_queries`` for ``--max-queries``);
``train`` holds any :class:`~sensecf.finetuning.training.TrainConfig` field, applied over the
profile's. Relative paths are taken from the file's folder (``base`` too, when that folder
holds it: otherwise it is a Hub id).

>>> settings = FinetuneSettings.build({"base": "BioMistral/BioMistral-7B",
...     "train": {"lr": 1e-4, "rank": 32, "target_modules": "q_proj, v_proj", "last_layers": 0}})
>>> config = settings.train_config(TrainConfig())
>>> config.lr, config.rank, config.target_modules, config.last_layers
(0.0001, 32, ('q_proj', 'v_proj'), None)
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sensecf.finetuning.training import TrainConfig
from sensecf.settings import RunSettings


def module_list(value: Any) -> Any:
    """``"q_proj, v_proj"`` → ``["q_proj", "v_proj"]``; a list is left as it is."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class TrainSettings(BaseModel):
    """The training settings a file may change (unset: the profile's).

    ``last_layers``: 0 means every layer.
    """

    model_config = ConfigDict(extra="forbid")

    rank: int | None = Field(default=None, ge=1)
    alpha: int | None = Field(default=None, ge=1)
    dropout: float | None = Field(default=None, ge=0, lt=1)
    target_modules: list[str] | None = None
    lr: float | None = Field(default=None, gt=0, lt=1)
    steps: int | None = Field(default=None, ge=1)
    batch_size: int | None = Field(default=None, ge=1)
    max_length: int | None = Field(default=None, ge=1)
    warmup: float | None = Field(default=None, ge=0, lt=1)
    save_every: int | None = Field(default=None, ge=1)
    time_budget_s: float | None = Field(default=None, gt=0)
    last_layers: int | None = Field(default=None, ge=0)
    device: str | None = None
    quantize_4bit: bool | None = None
    gradient_checkpointing: bool | None = None

    _modules = field_validator("target_modules", mode="before")(module_list)


class FinetuneSettings(RunSettings):
    """A fine-tuning run as a file gives it; command-line options win over it."""

    kind = "finetune"
    path_fields = ("model", "data", "out", "more")

    model: Path | None = None
    data: Path | None = None
    out: Path | None = None
    base: str | None = None
    teacher: Literal["oracle", "oracle-plausible", "llm", "dice"] = "oracle"
    held_rate: float | None = Field(default=None, gt=0, lt=1)
    held_neighbours: int | None = Field(default=None, ge=1)
    more: Path | None = None
    max_queries: int | None = Field(default=None, ge=1)
    steps: int | None = Field(default=None, ge=1)
    quick: bool = False
    export: Literal["auto", "gguf", "hf", "none"] = "auto"
    seed: int = Field(default=0, ge=0)
    train: TrainSettings = Field(default_factory=TrainSettings)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> FinetuneSettings:
        """Read the file; ``base`` is taken from its folder when that folder holds it."""
        settings = super().from_yaml(path)
        if settings.base is not None and not Path(settings.base).is_absolute():
            local = Path(path).parent / settings.base
            if local.exists():
                settings.base = str(local)
        return settings

    def train_config(self, config: TrainConfig) -> TrainConfig:
        """``config`` with this file's training settings (and ``steps``) over it."""
        given = self.train.model_dump(exclude_none=True)
        if self.steps is not None:
            given["steps"] = self.steps
        if "last_layers" in given:
            given["last_layers"] = given["last_layers"] or None
        if "target_modules" in given:
            given["target_modules"] = tuple(given["target_modules"])
        known = {f.name for f in fields(TrainConfig)}
        return replace(config, **{k: v for k, v in given.items() if k in known})
