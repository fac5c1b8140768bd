"""The quick demo, run once: its counterfactuals hold together, and it ends with a report that
headless Chromium renders whole."""

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sensecf.data.constraints import recompute, unmet_relations
from sensecf.data.spec import DatasetSpec
from sensecf.report import build_report

# What the quick demo's folder holds today: no fine-tune yet.
DEMO_SECTIONS = [
    "cohort",
    "benchmark",
    "quality",
    "diversity",
    "embedding",
    "augmentation",
    "interventions",
]


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory, invoke):
    out = tmp_path_factory.mktemp("demo")
    return out, invoke("demo", "--out", out, "--quick")


@pytest.mark.slow
def test_every_counterfactual_the_demo_writes_is_consistent(quick_demo):
    tmp_path, result = quick_demo
    assert result.exit_code == 0, result.output
    spec = DatasetSpec.from_yaml(tmp_path / "model" / "spec.yaml")
    assert spec.derived_features  # the shipped AI-READI spec declares them
    for folder in ("explain", "benchmark"):
        cfs = pd.read_parquet(tmp_path / folder / "cfs.parquet")
        assert len(cfs) > 0, folder
        values = cfs[spec.feature_names].to_numpy(dtype=float)
        computed = recompute(spec, values)
        # A derived value whose formula reads a feature nobody measured stays as measured.
        known = ~np.isnan(computed)
        assert np.allclose(computed[known], values[known], rtol=1e-9, atol=1e-9), folder
        own = cfs["method"].str.startswith(("oracle", "few-shot")).to_numpy()
        assert not unmet_relations(spec, values[own]).any(), folder
    texts = pd.read_csv(tmp_path / "explain" / "interventions.csv")["text"]
    # Total sleep and time in range are consequences, never instructions of their own.
    for text in texts:
        for sentence in str(text).split("; "):
            assert not sentence.startswith(("Sleep ", "Time in range 70–180 mg/dL up")), sentence


@pytest.mark.slow
def test_the_demo_ends_with_the_path_of_its_report(quick_demo):
    out, result = quick_demo
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert "wrote the report to" in last and str(out / "report.html") in last
    assert re.search(r"demo finished in [\d.]+ (s|min)", last) and "peak memory" in last
    report = build_report(out)
    assert report.section_ids == [*DEMO_SECTIONS, "config"]
    assert report.problems == []


@pytest.mark.slow
def test_the_quick_report_renders_in_headless_chromium(quick_demo, tmp_path):
    out, result = quick_demo
    assert result.exit_code == 0, result.output
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Debian's chromium is not installed, so the report cannot be rendered: "
            "`make setup` installs it where apt-get can (apt-get install chromium)"
        )
    url = (out / "report.html").resolve().as_uri()
    browser = [
        chromium,
        "--headless",
        "--no-sandbox",  # tests may run as root
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*browser, "--dump-dom", url], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    for section in [*DEMO_SECTIONS, "config"]:
        assert f'<section class="report-section" id="{section}">' in dom, section
    assert dom.count("<img ") >= 4
    screenshot = tmp_path / "report.png"  # kept with the test's files for a look
    subprocess.run(
        [*browser, "--window-size=1280,5000", f"--screenshot={screenshot}", url],
        capture_output=True,
        timeout=300,
        check=True,
    )
    pixels = np.asarray(Image.open(screenshot).convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 100  # text, tables and plots, not a blank page
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)  # the browser's, not an artifact
    print(f"screenshot: {screenshot}")


@pytest.mark.slow
def test_a_rerun_keeps_every_finished_stage(quick_demo, invoke):
    out, result = quick_demo
    assert result.exit_code == 0, result.output
    saved = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    again = invoke("demo", "--out", out, "--quick")
    assert again.exit_code == 0, again.output
    kept = [line for line in again.output.splitlines() if "kept from the earlier run" in line]
    assert len(kept) == 6, again.output
    # No stage wrote anything again: no LLM call, no search, no training.
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == saved
