"""`sensecf spec`: write an editable spec for a plain table (`sensecf spec infer`).

Also the one place where the verbs that read a table (`train`, `explain`) turn ``--target`` into
a spec: a table with a spec beside it uses that spec; a table without one gets a spec inferred
from it (or, for a verb that has a model, the model's spec, so the verbs agree).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sensecf.cli import console
from sensecf.cli.options import PATH, out_option
from sensecf.errors import SpecError

if TYPE_CHECKING:
    from sensecf.data.dataset import Dataset
    from sensecf.data.spec import DatasetSpec


def split_names(text: str | None) -> list[str]:
    """Comma-separated column names, blanks dropped.

    >>> split_names("age, sex,,")
    ['age', 'sex']
    """
    return [n.strip() for n in (text or "").split(",") if n.strip()]


target_option = click.option(
    "--target",
    metavar="COL",
    help="For a table without a spec beside it: the label column (a spec is inferred; "
    "review it with `sensecf spec infer`).",
)


@click.group()
def spec() -> None:
    """Feature specs: what each column means and how it may change."""


@spec.command("infer")
@click.argument("table", type=PATH)
@click.option("--target", required=True, metavar="COL", help="The label column.")
@click.option("--fixed", metavar="A,B", help="Features a person cannot change (age, sex ...).")
@click.option("--id-columns", metavar="A,B", help="Columns that identify a row (not features).")
@click.option(
    "--group-column",
    metavar="COL",
    help="The person column (one of the id columns), so splits keep a person's rows together.",
)
@click.option(
    "--detect-sums",
    is_flag=True,
    help="Propose a derived relation for each column that is the sum of two or three others "
    "on every row (review them).",
)
@out_option(help="Spec YAML file to write (with a comment header explaining each field).")
def infer(
    table: Path,
    target: str,
    fixed: str | None,
    id_columns: str | None,
    group_column: str | None,
    detect_sums: bool,
    out_dir: Path,
) -> None:
    """Infer an editable spec for TABLE (CSV or Parquet) and write it to --out.

    Kinds come from the values, bounds from the observed range widened by 10%, steps from the
    values' decimals; every feature may change both ways unless --fixed. Review and edit the
    file, then keep it beside the table (NAME.spec.yaml) or pass it to the verbs.
    """
    from sensecf.data.spec import SPEC_GUIDE, infer_spec
    from sensecf.data.tabular import read_table

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the warning says what this verb does
        data = read_table(
            table,
            target=target,
            id_columns=split_names(id_columns),
            group_column=group_column,
            fixed=split_names(fixed),
        )
    spec = data.spec
    if detect_sums:
        ids = [*spec.id_columns]
        spec = infer_spec(
            data.frame,
            spec.target,
            id_columns=ids,
            group_column=spec.group_column,
            fixed=[f.name for f in spec.features if not f.is_mutable],
            name=spec.name,
            detect_sums=True,
        )
    spec.to_yaml(out_dir, header=SPEC_GUIDE)
    features = spec.features
    fixed_names = [f.name for f in features if not f.is_mutable]
    console.line(
        f"{len(features)} features ({', '.join(sorted({f.kind for f in features}))})"
        + (f"; fixed: {', '.join(fixed_names)}" if fixed_names else "")
        + f"; target {spec.target!r} with classes {sorted(spec.classes)}"
        + "".join(f"\n  proposed relation: {r.text}" for r in spec.relations)
    )
    console.done(f"wrote the spec of {table} to {out_dir}", time.perf_counter() - start)


def load_for_verb(
    path: Path, target: str | None = None, model_spec: DatasetSpec | None = None
) -> Dataset:
    """The dataset a verb reads.

    A feature folder or a table with its spec beside it uses that spec (a UCI heart-disease
    file, the packaged one: :func:`~sensecf.data.loaders.load_dataset`). A table without one
    uses ``model_spec`` (the spec the model was trained with) when the verb has a model, else a
    spec inferred from the table with ``target`` as the label. ``target``, when given, must be
    the spec's target.
    """
    from sensecf.data.dataset import find_spec_file
    from sensecf.data.heart import looks_like_uci_heart
    from sensecf.data.loaders import load_dataset
    from sensecf.data.tabular import read_table
    from sensecf.errors import DataError

    # A UCI heart-disease file brings its own (packaged) spec, as load_dataset reads it.
    plain_table = path.is_file() and find_spec_file(path) is None and not looks_like_uci_heart(path)
    if plain_table and model_spec is not None:
        data = load_dataset(path, spec=model_spec)
    elif plain_table and target is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # said below, in the verb's words
            data = read_table(path, target=target)
        console.line(
            f"inferred a spec for {path} with target {target!r}; it is saved with the model "
            f"(for a reviewed one: sensecf spec infer {path} --target {target} --out SPEC.yaml)"
        )
    else:
        try:
            data = load_dataset(path)
        except DataError as exc:
            if not (plain_table and str(exc).startswith("no spec for")):
                raise
            raise DataError(
                f"no spec for {path}: pass --target COL (a spec is inferred), or write one "
                f"with `sensecf spec infer {path} --target COL --out "
                f"{path.with_suffix('.spec.yaml')}` and review it"
            ) from None
    if target is not None and data.spec.target != target:
        raise SpecError(f"--target {target!r} differs from the spec's target {data.spec.target!r}")
    return data
