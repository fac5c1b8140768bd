"""Settings files: one way to load a YAML run configuration and report its bad values.

A run configuration (the benchmark's, the augmentation study's) is a pydantic model that
subclasses :class:`RunSettings`: unknown keys are refused, relative paths in a file are taken
from the file's folder, and a bad value is one line naming the setting.

>>> from pathlib import Path
>>> class Toy(RunSettings):
...     kind = "toy"
...     path_fields = ("data",)
...     data: Path | None = None
...     seeds: int = 1
>>> Toy.build({"seeds": "many"}, source="toy.yaml")
Traceback (most recent call last):
...
sensecf.errors.SensecfError: toy.yaml: invalid toy settings — seeds: Input should be a valid integer, unable to parse string as an integer (got 'many')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from sensecf.errors import SensecfError

S = TypeVar("S", bound="RunSettings")


class RunSettings(BaseModel):
    """Base of the run configurations: ``kind`` names them in errors; ``path_fields`` are the
    path settings resolved against a config file's folder."""

    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str] = "run"
    path_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_yaml(cls: type[S], path: str | os.PathLike) -> S:
        """Read a config file; relative paths in it are taken from the file's folder."""
        path = Path(path)
        if not path.is_file():
            raise SensecfError(f"{cls.kind} config not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SensecfError(f"{path}: not valid YAML: {exc}") from None
        config = cls.build(raw, source=str(path))
        for key in cls.path_fields:
            value = getattr(config, key)
            if value is not None and not value.is_absolute():
                setattr(config, key, path.parent / value)
        return config

    @classmethod
    def build(cls: type[S], values: Any, source: str | None = None) -> S:
        """Validate settings; a bad value is a one-line error naming the setting."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']} (got {e.get('input')!r})"
                for e in exc.errors()
            )
            where = source or f"{cls.kind} config"
            raise SensecfError(f"{where}: invalid {cls.kind} settings — {problems}") from None


# A run's generators as a config file gives them: a list of names, a comma-separated string, or a
# mapping of name -> that generator's options.
GeneratorChoice = list[str] | dict[str, dict[str, Any]]


def generator_choice(value: Any) -> Any:
    """Read a ``generators`` setting: ``"a, b"`` → ``["a", "b"]``; a mapping's empty options
    → ``{}``; anything else is left for the field's own validation.

    >>> generator_choice("oracle, dice-random"), generator_choice({"oracle": None})
    (['oracle', 'dice-random'], {'oracle': {}})
    """
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, dict):
        return {str(k): (v or {}) for k, v in value.items()}
    return value


def generator_options(generators: GeneratorChoice, name: str) -> dict[str, Any]:
    """Options for one generator (empty unless the setting maps the name to some).

    >>> generator_options({"oracle": {"time_limit": 3}}, "oracle"), generator_options(["a"], "a")
    ({'time_limit': 3}, {})
    """
    return dict(generators.get(name, {})) if isinstance(generators, dict) else {}
