"""The compact format: what a prompt shows, what an answer is, and the saved file."""

from __future__ import annotations

import json
import math

import pytest

from sensecf.errors import SensecfError
from sensecf.generators.llm.compact import CompactFormat, PromptInput
from sensecf.llm.artifacts import FORMAT as FORMAT_FILE


def test_prompt_lists_each_feature_in_play_with_its_values_and_the_examples() -> None:
    fmt = CompactFormat(target="high risk", examples=2)
    ctx = PromptInput(
        proba=0.7,
        needed=0.5,
        offered={"sleep": [400, 480, 450], "hr": [72.5, 65.1]},
        examples=[{"sleep": 450}, {"hr": 65.1}, {"sleep": 500}],
    )
    lines = fmt.user_text(ctx).splitlines()
    assert lines == [
        "P(high risk) 0.70, goal below 0.50",
        "sleep 400: 480 450",
        "hr 72.5: 65.1",
        'near: {"sleep": 450}',
        'near: {"hr": 65.1}',
    ]
    messages = fmt.messages(ctx)
    assert [m["role"] for m in messages] == ["system", "user"]


def test_a_target_fits_only_when_every_changed_value_is_offered() -> None:
    offered = {"sleep": [400, 480, 450], "hr": [72.5, 65.1]}
    assert CompactFormat.fits({"sleep": 450, "hr": 65.1}, offered)
    assert not CompactFormat.fits({"sleep": 400}, offered)  # the current value is no change
    assert not CompactFormat.fits({"steps": 9000}, offered)  # not in play
    assert not CompactFormat.fits({}, offered)  # nothing changed


def test_save_and_load_round_trip_and_refuse_a_foreign_file(tmp_path) -> None:
    fmt = CompactFormat(target="x", examples=0, max_values=2)
    fmt.save(tmp_path)
    assert CompactFormat.load(tmp_path) == fmt
    data = json.loads((tmp_path / FORMAT_FILE).read_text())
    (tmp_path / FORMAT_FILE).write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(SensecfError, match="version 2 expected; got 99"):
        CompactFormat.load(tmp_path)
    with pytest.raises(SensecfError, match="no format.json"):
        CompactFormat.load(tmp_path / "nowhere")
    with pytest.raises(SensecfError, match="max_values"):
        CompactFormat(max_values=0)
    # A typical format keeps its bar; a file written before the field existed reads as plain.
    typical = CompactFormat(target="x", typical=True, typical_rate=0.8, typical_neighbours=20)
    typical.save(tmp_path)
    assert CompactFormat.load(tmp_path) == typical
    older = {k: v for k, v in data.items() if not k.startswith("typical")}
    (tmp_path / FORMAT_FILE).write_text(json.dumps(older))
    assert CompactFormat.load(tmp_path).typical is False


def test_features_that_only_help_follow_a_together_line() -> None:
    fmt = CompactFormat(target="high risk")
    offered = {"sleep": [400, 445, 480], "hr": [72.5, 65.1], "steps": [4000, 9000]}
    lines = fmt.user_text(PromptInput(0.7, 0.5, offered, alone=1)).splitlines()
    assert lines[1:] == ["sleep 400: 445 480", "together:", "hr 72.5: 65.1", "steps 4000: 9000"]
    nothing_alone = fmt.user_text(PromptInput(0.7, 0.5, offered, alone=0)).splitlines()
    assert nothing_alone[1] == "together:"
    all_alone = fmt.user_text(PromptInput(0.7, 0.5, offered)).splitlines()
    assert "together:" not in all_alone


def test_a_missing_value_is_written_NA_and_read_back() -> None:
    fmt = CompactFormat(target="high risk", examples=2)
    ctx = PromptInput(
        proba=0.7,
        needed=0.5,
        offered={"sleep": [None, 450], "hr": [72.5, 65.1]},
        alone=1,
        examples=[{"hr": 65.1, "spo2": None}, {"sleep": float("nan")}],
    )
    text = fmt.user_text(ctx)
    assert text.splitlines()[1:] == [
        "sleep NA: 450",
        "together:",
        "hr 72.5: 65.1",
        'near: {"hr": 65.1, "spo2": NA}',
        'near: {"sleep": NA}',
    ]
    back = fmt.read_user_text(text)
    assert fmt.user_text(back) == text
    assert back.alone == 1 and back.offered["hr"] == [72.5, 65.1]
    assert math.isnan(back.offered["sleep"][0]) and math.isnan(back.examples[0]["spo2"])


def test_a_complete_prompt_reads_back_to_the_same_text() -> None:
    fmt = CompactFormat(target="high risk", examples=1)
    ctx = PromptInput(
        0.81, 0.5, {"sleep": [410, 445, 480], "steps": [4200, 8000]}, 1, [{"steps": 8000}]
    )
    text = fmt.user_text(ctx)
    assert "NA" not in text and "null" not in text
    back = fmt.read_user_text(text)
    assert back == ctx and fmt.user_text(back) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P(other) 0.70, goal below 0.50", r"starts 'P\(high risk\)"),
        ("P(high risk) 0.70, goal below 0.50\nsleep", "'<name> <current>: <values>'"),
        ("P(high risk) 0.70, goal below 0.50\nsleep 400: lots", "a number or NA; got 'lots'"),
    ],
)
def test_a_text_not_in_the_format_is_refused(text, message) -> None:
    with pytest.raises(SensecfError, match=message):
        CompactFormat(target="high risk").read_user_text(text)
