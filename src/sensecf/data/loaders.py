"""One entry point for every stored form of a dataset: :func:`load_dataset` picks the reader.

The readers (:mod:`~sensecf.data.tabular`, :mod:`~sensecf.data.heart`) build on
:class:`~sensecf.data.dataset.Dataset`; the choice between them lives here, so that the
``Dataset`` module imports none of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from sensecf.data.dataset import Dataset, find_spec_file, read_feature_folder
from sensecf.data.heart import looks_like_uci_heart, read_uci_heart
from sensecf.data.spec import DatasetSpec
from sensecf.data.tabular import read_table

__all__ = ["load_dataset"]


def load_dataset(path: str | os.PathLike, spec: DatasetSpec | None = None) -> Dataset:
    """Read a feature folder, or a CSV/Parquet file with its spec beside it.

    A file is read by :func:`sensecf.data.tabular.read_table`: its spec is ``NAME.spec.yaml``
    (or ``spec.yaml``) in the same folder unless ``spec`` is given, and rows with missing values
    are dropped and counted. A UCI heart-disease file with no spec beside it is read by
    :func:`sensecf.data.heart.read_uci_heart` with the packaged spec. A folder is read by
    :func:`sensecf.data.dataset.read_feature_folder`.

    >>> import tempfile
    >>> import pandas as pd
    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": [0.5, 1.5], "y": [0, 1]})
    >>> folder = Dataset(df, infer_spec(df, "y")).save(tempfile.mkdtemp())
    >>> load_dataset(folder).y.tolist()
    [0, 1]
    """
    path = Path(path)
    if path.is_file():
        if spec is None and find_spec_file(path) is None and looks_like_uci_heart(path):
            return read_uci_heart(path)
        return read_table(path, spec)
    return read_feature_folder(path, spec)
