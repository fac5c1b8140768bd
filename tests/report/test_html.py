"""The HTML report of a real run folder: its sections, its figures, and folders with less."""

import base64
import io
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import sensecf as scf
from sensecf.data.dataset import read_feature_folder
from sensecf.errors import DataError
from sensecf.evaluation.benchmark import benchmark_best
from sensecf.evaluation.catalog import CATALOG
from sensecf.evaluation.stats import MIN_CLUSTERS
from sensecf.report import build_report, write_report

EVERY_SECTION = [
    "cohort",
    "benchmark",
    "quality",
    "diversity",
    "embedding",
    "augmentation",
    "finetune",
    "interventions",
    "config",
]


def embedded_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def colours(png: bytes) -> int:
    """How many distinct colours the image has (1 for a blank one)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


@pytest.fixture(scope="module")
def full_report(run_dir, tmp_path_factory):
    path = write_report(run_dir, tmp_path_factory.mktemp("report") / "report.html")
    return path.read_text(encoding="utf-8")


def test_a_full_run_folder_has_every_section_in_order(run_dir, full_report):
    report = build_report(run_dir)
    assert report.section_ids == EVERY_SECTION
    assert report.problems == []
    positions = [
        full_report.index(f'<section class="report-section" id="{s}">') for s in EVERY_SECTION
    ]
    assert positions == sorted(positions)


def test_the_report_is_self_contained_and_no_plot_is_blank(full_report):
    # Nothing is fetched when it is opened: no script, no external source, no stylesheet link.
    assert "<script" not in full_report
    assert not re.search(r'(src|href)="(https?:)?//', full_report)
    assert "<link" not in full_report
    pngs = embedded_pngs(full_report)
    # importance, quality, diversity, embedding, the study's F1 curves and map (an
    # oversampling-only study draws no feature-change map), the loss curve
    assert len(pngs) == 7
    for png in pngs:
        assert colours(png) > 1


def test_a_star_marks_only_a_method_better_than_every_other(run_dir):
    report = build_report(run_dir)
    bench = next(s for s in report.sections if s.id == "benchmark")
    table = next(t for t in bench.tables if t.title == "All queries")
    summary = pd.read_csv(run_dir / "benchmark" / "summary.csv")
    overall = summary[summary["label"].isna()].set_index("method")
    per_query = pd.read_parquet(run_dir / "benchmark" / "per_query.parquet")
    best = benchmark_best(per_query, CATALOG.view("report_headline"))
    column = table.columns.index("L0 (features changed)")
    marked = {row[0].text for row in table.rows if row[column].best}
    l0 = overall["l0"]
    assert best["l0"].leader in set(l0[l0 == l0.min()].index)  # the lowest mean leads
    # The leader is marked exactly when it beats every other method, query by query.
    assert marked == ({best["l0"].leader} if best["l0"].marked else set())
    for name, mark in best.items():
        col = table.columns.index(CATALOG.get(name).title)
        starred = {row[0].text for row in table.rows if row[col].best}
        assert starred == ({mark.leader} if mark.marked else set()), name
    ties = [m for m in best.values() if not m.marked]
    assert ties  # the small run has too few people to tell most methods apart ...
    note = next(n for n in bench.notes if n.startswith("No ★"))
    for mark in ties:  # ... and the report says from whom the leader is indistinguishable
        assert f"{mark.leader}, indistinguishable from {', '.join(mark.tied_with)}" in note
    # Intervals sit beside the means, from the summary's own columns.
    oracle = next(row for row in table.rows if row[0].text == "oracle")
    # The small run has too few people for an interval: the cell says how many there were.
    n = int(overall.loc["oracle", "l0_n"])
    assert n < MIN_CLUSTERS and np.isnan(overall.loc["oracle", "l0_ci_low"])
    assert oracle[column].interval == f"(n = {n}: no interval)"
    # A metric on which every method ties marks nobody.
    violations = table.columns.index("violations")
    assert not any(row[violations].best for row in table.rows)


def test_the_paired_comparisons_tables_come_from_comparisons_csv(run_dir):
    report = build_report(run_dir)
    bench = next(s for s in report.sections if s.id == "benchmark")
    paired = next(t for t in bench.tables if t.title.startswith("Paired comparisons against"))
    compared = pd.read_csv(run_dir / "benchmark" / "comparisons.csv")
    assert len(paired.rows) == len(compared)
    assert {row[0].text for row in paired.rows} == set(compared["method"])
    assert {row[paired.columns.index("verdict")].text for row in paired.rows} <= {
        "better", "worse", "indistinguishable", "no pairs"
    }  # fmt: skip
    study = next(s for s in report.sections if s.id == "augmentation")
    table = next(t for t in study.tables if t.title == "Paired comparisons")
    assert len(table.rows) == len(pd.read_csv(run_dir / "augment" / "comparisons.csv"))
    assert "seeds needed" in table.columns


def test_no_comparisons_file_no_table(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "benchmark" / "comparisons.csv").unlink()
    (copy / "augment" / "comparisons.csv").unlink()
    report = build_report(copy)
    titles = [t.title for s in report.sections for t in s.tables]
    assert not any(t.startswith("Paired comparisons") for t in titles)


def test_the_llm_table_holds_the_nearest_example_control(run_dir):
    bench = next(s for s in build_report(run_dir).sections if s.id == "benchmark")
    llm = next(t for t in bench.tables if t.title == "What the language model adds")
    assert [row[0].text for row in llm.rows] == ["nearest-example"]
    whole = llm.columns.index("whole-row copies of an example")
    assert llm.rows[0][whole].text == "1.00"  # it returns the examples themselves


def test_intervention_cards_match_the_explain_outputs(run_dir):
    section = next(s for s in build_report(run_dir).sections if s.id == "interventions")
    cfs = pd.read_parquet(run_dir / "explain" / "cfs.parquet")
    queries = pd.read_parquet(run_dir / "explain" / "queries.parquet").set_index("query_id")
    texts = pd.read_csv(run_dir / "explain" / "interventions.csv")
    assert len(section.cards) == cfs["query_id"].nunique() == 3
    for card, cf in zip(section.cards, cfs.itertuples(index=False), strict=True):
        query = queries.loc[cf.query_id]
        assert card.method == "oracle"
        assert card.who == f"person_id {query['person_id']}, date {query['date']}"
        assert card.risk_label == "P(high stress)"
        assert card.risk_before == f"{1 - query['proba_desired']:.2f}"
        assert card.risk_after == f"{1 - cf.proba_desired:.2f}"
        text = texts[(texts["query_id"] == cf.query_id) & (texts["rank"] == cf.rank)]["text"]
        assert "; ".join(card.text) == text.iloc[0]
        assert len(card.changes) == texts.loc[text.index[0], "n_changes"]


@pytest.mark.parametrize(
    ("kept", "expected"),
    [
        (["model"], ["cohort", "config"]),
        (["features"], ["cohort", "config"]),
        (["finetune"], ["finetune", "config"]),
        (["augment"], ["augmentation", "config"]),
        (["explain"], ["diversity", "embedding", "interventions", "config"]),
        (
            # The benchmark's config.yaml names its model and data: the cohort comes along.
            ["benchmark"],
            [
                "cohort",
                "benchmark",
                "quality",
                "diversity",
                "embedding",
                "interventions",
                "config",
            ],
        ),
    ],
)
def test_sections_without_their_inputs_are_left_out(run_dir, tmp_path, kept, expected):
    for name in kept:
        shutil.copytree(run_dir / name, tmp_path / name)
    path = write_report(tmp_path)
    assert path == tmp_path / "report.html"
    html = path.read_text(encoding="utf-8")
    report = build_report(tmp_path)
    assert report.section_ids == expected
    assert report.problems == []
    for section in EVERY_SECTION:
        assert (f'id="{section}"' in html) == (section in expected), section
    for png in embedded_pngs(html):
        assert colours(png) > 1


def test_a_verb_output_folder_is_a_run_folder_of_its_own(run_dir):
    # The benchmark folder alone, pointed at directly: its config names the model and data.
    report = build_report(run_dir / "benchmark")
    assert report.section_ids[:3] == ["cohort", "benchmark", "quality"]
    cohort = build_report(run_dir / "model")
    assert cohort.section_ids == ["cohort", "config"]


def test_a_loss_table_without_a_loss_column_is_a_note(tmp_path):
    (tmp_path / "ft").mkdir()
    pd.DataFrame({"step": [1, 2], "lr": [0.1, 0.1]}).to_csv(tmp_path / "ft" / "loss.csv")
    report = build_report(tmp_path)
    section = report.sections[0]
    assert section.id == "finetune" and not section.plots
    assert "has no loss column" in section.notes[0]


def test_an_unreadable_input_leaves_its_section_out_with_a_reason(run_dir, tmp_path):
    shutil.copytree(run_dir / "model", tmp_path / "model")
    shutil.copytree(run_dir / "augment", tmp_path / "augment")
    (tmp_path / "model" / "metadata.json").write_text("{not json")
    report = build_report(tmp_path)
    assert "augmentation" in report.section_ids and "cohort" not in report.section_ids
    assert len(report.problems) == 1
    assert report.problems[0].startswith("The cohort and model section was left out")
    assert "metadata.json: not valid JSON" in report.problems[0]
    config = report.sections[-1]
    assert config.id == "config" and "metadata.json: not valid JSON" in config.notes[0]
    versions = next(t for t in config.tables if t.title == "Package versions")
    assert "numpy" in [row[0].text for row in versions.rows]
    assert "Left out:" in report.html()


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p / "missing", "run folder not found"),
        (
            lambda p: (p / "a.txt").write_text("x") and p / "a.txt",
            "is a file; expected a run folder",
        ),
        (lambda p: p, "holds no sensecf outputs"),
    ],
)
def test_a_bad_run_dir_is_a_clear_error(tmp_path, make, fragment):
    with pytest.raises(DataError, match=fragment):
        build_report(make(tmp_path))


def test_the_report_is_not_written_over_a_folder(run_dir, tmp_path):
    with pytest.raises(DataError, match="it is a folder"):
        write_report(run_dir / "model", tmp_path)


def test_the_augmentation_section_shows_where_added_rows_sit(run_dir):
    report = build_report(run_dir / "augment")
    section = next(s for s in report.sections if s.id == "augmentation")
    titles = [table.title for table in section.tables]
    assert titles[-3:] == ["What scarcity cost", "Paired comparisons", "Where the added rows sit"]
    assert len(titles) == 5  # two scenarios, the loss, the comparisons, then the placement
    cost = next(table for table in section.tables if table.title == "What scarcity cost")
    assert "recovery" in cost.columns


def test_the_cohort_section_counts_what_was_not_measured(run_dir, tmp_path):
    data = read_feature_folder(run_dir / "features")
    frame = data.frame.copy()
    frame.loc[frame.index[:9], "spo2_mean"] = float("nan")  # the most gaps of any feature
    scf.Dataset(frame, data.spec, data.info).save(tmp_path / "features")
    gaps = _table(build_report(tmp_path), "cohort", "Missing values")
    n = len(frame)
    counts = frame[data.spec.feature_names].isna().sum()
    assert [row[0].text for row in gaps.rows][0] == "spo2_mean"
    assert {row[0].text: row[1].text for row in gaps.rows} == {
        name: f"{count} of {n:,} ({count / n:.0%})" for name, count in counts[counts > 0].items()
    }
    # A cohort with no gaps has no such table.
    complete = frame.fillna(frame.median(numeric_only=True))
    scf.Dataset(complete, data.spec, data.info).save(tmp_path / "complete" / "features")
    assert _table(build_report(tmp_path / "complete"), "cohort", "Missing values") is None


def _table(report, section_id, title):
    section = next(s for s in report.sections if s.id == section_id)
    return next((t for t in section.tables if t.title == title), None)


def test_the_cohort_section_shows_cross_validated_scores_when_the_model_has_them(run_dir, tmp_path):
    import shutil

    shutil.copytree(run_dir / "model", tmp_path / "model")
    assert _table(build_report(tmp_path), "cohort", "Cross-validated scores (2 × 3-fold)") is None
    data = read_feature_folder(run_dir / "features")
    scores = scf.models.cross_validate(data, "logreg", folds=3, seeds=2)
    scores.to_csv(tmp_path / "model" / "cv_scores.csv", index=False)
    table = _table(build_report(tmp_path), "cohort", "Cross-validated scores (2 × 3-fold)")
    assert table is not None and table.columns[0] == "AUROC"
    auroc = table.rows[0][0]
    assert auroc.text == f"{scores['auroc'].mean():.3f}" and auroc.interval.startswith("[")
