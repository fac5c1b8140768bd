"""Where AI-READI wearable files live, and which time zone each person's days are in.

The published layout is ``<root>/<datatype>/<modality>/<device>/<pid>/<pid>_<SUFFIX>.json``.
Each datatype folder may hold a ``manifest.tsv`` with one path column per modality; a path
starts with ``/`` (relative to the root) and the string ``None`` marks an absent file. Where a
manifest, its row or its column is missing, the conventional path is used instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

PARTICIPANTS_FILE = "participants.tsv"


@dataclass(frozen=True)
class Modality:
    """One wearable file type: its folder, file suffix, manifest column and JSON body key."""

    name: str
    datatype: str
    folder: str
    device: str
    suffix: str
    manifest_column: str
    body_key: str


MODALITIES: dict[str, Modality] = {
    m.name: m
    for m in (
        Modality(
            "cgm",
            "wearable_blood_glucose",
            "continuous_glucose_monitoring",
            "dexcom_g6",
            "DEX",
            "glucose_filepath",
            "cgm",
        ),
        Modality(
            "heart_rate",
            "wearable_activity_monitor",
            "heart_rate",
            "garmin_vivosmart5",
            "heartrate",
            "heart_rate_filepath",
            "heart_rate",
        ),
        Modality(
            "oxygen_saturation",
            "wearable_activity_monitor",
            "oxygen_saturation",
            "garmin_vivosmart5",
            "oxygensaturation",
            "oxygen_saturation_filepath",
            "breathing",
        ),
        Modality(
            "physical_activity",
            "wearable_activity_monitor",
            "physical_activity",
            "garmin_vivosmart5",
            "activity",
            "physical_activity_filepath",
            "activity",
        ),
        Modality(
            "calorie",
            "wearable_activity_monitor",
            "physical_activity_calorie",
            "garmin_vivosmart5",
            "calorie",
            "physical_activity_calorie_filepath",
            "activity",
        ),
        Modality(
            "respiratory_rate",
            "wearable_activity_monitor",
            "respiratory_rate",
            "garmin_vivosmart5",
            "respiratoryrate",
            "respiratory_rate_filepath",
            "breathing",
        ),
        Modality(
            "sleep",
            "wearable_activity_monitor",
            "sleep",
            "garmin_vivosmart5",
            "sleep",
            "sleep_filepath",
            "sleep",
        ),
        Modality(
            "stress",
            "wearable_activity_monitor",
            "stress",
            "garmin_vivosmart5",
            "stress",
            "stress_filepath",
            "stress",
        ),
    )
}

# The old documentation names the calorie folder differently; released files use the name above.
LEGACY_FOLDERS: dict[str, tuple[str, ...]] = {"calorie": ("physical_activity_cal",)}

CENTRAL_TZ = "America/Chicago"
PACIFIC_TZ = "America/Los_Angeles"


def timezone_for(person_id: int | str) -> str:
    """The IANA time zone of a person's site: ids starting with 7 are UAB (US/Central).

    >>> timezone_for(7060), timezone_for(1001)
    ('America/Chicago', 'America/Los_Angeles')
    """
    return CENTRAL_TZ if str(person_id).strip().startswith("7") else PACIFIC_TZ


def conventional_path(root: str | os.PathLike, person_id: int | str, modality: str) -> Path:
    """The path a modality's file has in the published layout.

    >>> conventional_path("/data", 1001, "cgm").as_posix()
    '/data/wearable_blood_glucose/continuous_glucose_monitoring/dexcom_g6/1001/1001_DEX.json'
    """
    m = MODALITIES[modality]
    pid = str(person_id)
    return Path(root) / m.datatype / m.folder / m.device / pid / f"{pid}_{m.suffix}.json"


def _legacy_paths(root: Path, person_id: int, modality: str) -> list[Path]:
    m = MODALITIES[modality]
    pid = str(person_id)
    return [
        root / m.datatype / folder / m.device / pid / f"{pid}_{m.suffix}.json"
        for folder in LEGACY_FOLDERS.get(modality, ())
    ]


def read_manifest(
    root: str | os.PathLike, datatype: str, warnings: list[str] | None = None
) -> dict[int, dict[str, str | None]]:
    """Map person id → {manifest column → path string or None} from ``<datatype>/manifest.tsv``.

    A missing manifest gives ``{}``; an unreadable one gives ``{}`` and a line in ``warnings``,
    so that the conventional paths are used. The id column is ``person_id`` or
    ``participant_id``. Values ``None``/empty become ``None`` (the file is absent).

    >>> read_manifest("/no/such/root", "wearable_blood_glucose")
    {}
    """
    path = Path(root) / datatype / "manifest.tsv"
    if not path.is_file():
        return {}
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as exc:  # a broken manifest must not stop the read: fall back to the layout
        if warnings is not None:
            warnings.append(f"{path}: unreadable manifest ({exc}); using the conventional paths")
        return {}
    table.columns = [str(c).strip().lstrip("\ufeff") for c in table.columns]  # BOM-safe
    id_col = next((c for c in ("person_id", "participant_id") if c in table.columns), None)
    if id_col is None:
        if warnings is not None:
            warnings.append(
                f"{path}: no person_id/participant_id column; using the conventional paths"
            )
        return {}
    path_cols = [c for c in table.columns if c.endswith("_filepath")]
    out: dict[int, dict[str, str | None]] = {}
    for row in table[[id_col, *path_cols]].itertuples(index=False):
        pid = parse_person_id(row[0])
        if pid is None:
            continue
        entry: dict[str, str | None] = {}
        for col, value in zip(path_cols, row[1:], strict=True):
            text = str(value).strip()
            entry[col] = None if text in ("", "None", "none", "nan", "NaN", "null") else text
        out[pid] = entry
    return out


def parse_person_id(value: object) -> int | None:
    """The integer id in a cell (``1001``, ``"1001"``, ``"AIREADI-1001"``), or ``None``.

    >>> parse_person_id("AIREADI-1001"), parse_person_id("x")
    (1001, None)
    """
    text = str(value).strip()
    # Some releases prefix the id (AIREADI-1001); the bare number is the id.
    text = text.rsplit("-", 1)[-1]
    try:
        return int(float(text))
    except ValueError:
        return None


class Layout:
    """Resolves each person's file for each modality, from manifests or the conventional paths.

    >>> layout = Layout("/no/such/root")
    >>> layout.path(1001, "stress").name
    '1001_stress.json'
    """

    def __init__(self, root: str | os.PathLike, warnings: list[str] | None = None) -> None:
        self.root = Path(root)
        self.warnings = warnings if warnings is not None else []
        datatypes = sorted({m.datatype for m in MODALITIES.values()})
        self._manifests = {dt: read_manifest(self.root, dt, self.warnings) for dt in datatypes}

    def path(self, person_id: int, modality: str) -> Path | None:
        """The file to read, or ``None`` when the manifest marks it absent.

        The returned path may not exist (the caller counts it as missing). A manifest path that
        does not exist falls back to the conventional path.
        """
        m = MODALITIES[modality]
        conventional = conventional_path(self.root, person_id, modality)
        manifest = self._manifests.get(m.datatype, {})
        entry = manifest.get(int(person_id))
        if entry is not None and m.manifest_column in entry:
            value = entry[m.manifest_column]
            if value is None:
                return None
            listed = self.root / value.lstrip("/\\")
            if listed.is_file():
                return listed
        if conventional.is_file():
            return conventional
        for legacy in _legacy_paths(self.root, int(person_id), modality):
            if legacy.is_file():
                return legacy
        return conventional

    def paths(self, person_id: int) -> dict[str, Path | None]:
        """All modalities' files for one person."""
        return {name: self.path(person_id, name) for name in MODALITIES}
