"""Fine-tuning: the loss curve of each fine-tune folder."""

from __future__ import annotations

import pandas as pd

from sensecf.report import plots
from sensecf.report.parts import Plot, Section
from sensecf.report.run_folder import RunData
from sensecf.report.sections.common import relative_path

__all__ = ["finetune_section"]


def finetune_section(data: RunData) -> Section | None:
    """The loss curve of each fine-tune folder (``loss.csv`` with ``step`` and ``loss``)."""
    if not data.run.finetune:
        return None
    section = Section("finetune", "Fine-tuning")
    for folder in data.run.finetune:
        loss = pd.read_csv(folder / "loss.csv")
        missing = {"step", "loss"} - set(loss.columns)
        if missing:
            section.notes.append(
                f"{folder / 'loss.csv'} has no {', '.join(sorted(missing))} column; its curve "
                f"is left out (columns: {', '.join(map(str, loss.columns))})"
            )
            continue
        loss = loss.dropna(subset=["step", "loss"])
        if loss.empty:
            section.notes.append(f"{folder / 'loss.csv'} holds no steps")
            continue
        last = loss.sort_values("step").iloc[-1]
        section.plots.append(
            Plot(
                f"Loss curve ({relative_path(folder, data.run.root)})",
                f"{len(loss)} logged steps; the loss went from {loss['loss'].iloc[0]:.3f} to "
                f"{last['loss']:.3f} at step {int(last['step'])}.",
                plots.loss_figure(loss),
            )
        )
    return section if section.plots or section.notes else None
