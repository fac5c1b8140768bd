"""What the section builders share: the errors that cost one section, and paths as a reader sees
them.

>>> relative_path(Path("/run/finetune/loss.csv"), Path("/run"))
'finetune/loss.csv'
"""

from __future__ import annotations

from pathlib import Path

from sensecf.errors import SensecfError

__all__ = ["SECTION_ERRORS", "relative_path"]

# Errors that make one section impossible without making the others wrong.
SECTION_ERRORS = (SensecfError, OSError, ValueError, KeyError)


def relative_path(path: Path | str | None, root: Path) -> str:
    """``path`` relative to the run folder ``root`` (as given when it lies outside; its own
    name when it is the root)."""
    if path is None:
        return ""
    path = Path(path)
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return str(path)
    return str(relative) if str(relative) != "." else path.name
