"""The `sensecf` command line: a thin layer over the library.

Each verb lives in its own module (``sensecf.cli.<verb>``) and reads and writes plain files and
prints where it wrote what; the group here turns bad input into a one-line reason and exit
status 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from sensecf.cli.augment import augment
from sensecf.cli.benchmark import benchmark
from sensecf.cli.demo import demo
from sensecf.cli.explain import explain
from sensecf.cli.features import features
from sensecf.cli.finetune import finetune
from sensecf.cli.options import error_line
from sensecf.cli.report import report
from sensecf.cli.spec import spec
from sensecf.cli.synth import synth
from sensecf.cli.train import train
from sensecf.errors import SensecfError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Verbs(click.Group):
    """A group whose verbs report an input error as one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SensecfError as exc:
            click.echo(error_line(exc), err=True)
            sys.exit(2)


@click.group(cls=_Verbs, context_settings=CONTEXT)
@click.version_option(package_name="sensecf")
def cli() -> None:
    """Counterfactual explanations for health-risk classifiers on wearable-sensor data.

    \b
    The flow, one verb per stage (each reads and writes plain files):
      sensecf synth     write a synthetic cohort in the AI-READI file layout
      sensecf features  turn AI-READI files into a feature table (+ its spec)
      sensecf spec      infer an editable spec for any CSV/Parquet table
      sensecf train     train and evaluate a classifier on a feature table
      sensecf explain   counterfactuals and intervention texts for flagged people
      sensecf finetune  fine-tune a language model (LoRA) to write counterfactuals
      sensecf benchmark run counterfactual generators side by side, score them
      sensecf augment   counterfactuals as new rows of a scarce class: F1 recovery
      sensecf report    one HTML report (tables, plots, intervention cards) of a run folder
      sensecf demo      run the whole flow on a synthetic cohort

    Run `sensecf VERB --help` for the options of each verb.
    """


for verb in (synth, features, spec, train, finetune, explain, benchmark, augment, report, demo):
    cli.add_command(verb)


def main() -> None:
    """Entry point of the `sensecf` command."""
    cli(prog_name="sensecf")


if __name__ == "__main__":
    main()
