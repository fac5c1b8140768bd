"""What a run folder holds, found by the files each verb writes."""

import shutil

from sensecf.report.run_folder import RunFolder


def test_each_verb_output_is_found_by_its_files(run_dir):
    run = RunFolder.find(run_dir)
    assert run.root == run_dir
    assert run.features == run_dir / "features"
    assert run.model == run_dir / "model"
    assert run.benchmark == run_dir / "benchmark"
    assert run.augmentation == run_dir / "augment"
    assert run.explain == (run_dir / "explain",)
    assert run.finetune == (run_dir / "finetune",)


def test_the_shallowest_folder_of_a_kind_wins_and_every_explain_folder_is_kept(run_dir, tmp_path):
    shutil.copytree(run_dir / "model", tmp_path / "b" / "model")
    shutil.copytree(run_dir / "model", tmp_path / "a" / "deeper" / "model")
    shutil.copytree(run_dir / "explain", tmp_path / "explain")
    shutil.copytree(run_dir / "explain", tmp_path / "more" / "explain")
    run = RunFolder.find(tmp_path)
    assert run.model == tmp_path / "b" / "model"
    assert run.explain == (tmp_path / "explain", tmp_path / "more" / "explain")


def test_a_verb_internals_are_not_outputs_of_their_own(run_dir, tmp_path):
    # The benchmark's results/<method>/ and the study's cells/ hold result folders; neither is
    # an explain folder or a study of its own, and too deep a folder is not looked at.
    shutil.copytree(run_dir / "benchmark", tmp_path / "benchmark")
    shutil.copytree(run_dir / "explain", tmp_path / "benchmark" / "results" / "x")
    shutil.copytree(run_dir / "explain", tmp_path / "one" / "two" / "three" / "four" / "explain")
    run = RunFolder.find(tmp_path)
    assert run.benchmark == tmp_path / "benchmark"
    assert run.explain == ()
