"""The OpenAI-compatible backend against a real HTTP server that injects faults."""

from __future__ import annotations

import json
import threading

import pytest
from chat_server import ChatServer, Fault, closed_port_url

from sensecf.errors import SensecfError
from sensecf.llm.base import ChatRequest, Completion, GenerationParams, LLMError
from sensecf.llm.openai_backend import PLACEHOLDER_KEY, OpenAICompatible

pytest.importorskip("openai")

KEY = "sk-test-7f3a9c-very-secret"
SCHEMA = {
    "type": "object",
    "properties": {"sleep_min": {"enum": [420, 450, 480]}},
    "required": ["sleep_min"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "more sleep?"}]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SENSECF_TEST_KEY", KEY)
    return KEY


def backend(url: str, **kwargs: object) -> OpenAICompatible:
    settings: dict[str, object] = {
        "api_key_env": "SENSECF_TEST_KEY",
        "timeout": 2.0,
        "max_retries": 3,
        "backoff_base": 0.01,
    }
    settings.update(kwargs)
    return OpenAICompatible("test-model", url, **settings)  # type: ignore[arg-type]


def test_success_with_usage_and_the_request_sent(chat_server: ChatServer) -> None:
    with backend(chat_server.url) as llm:
        params = GenerationParams(temperature=0.3, max_tokens=50, top_p=0.9, seed=11)
        out = llm.complete(ASK, schema=SCHEMA, params=params)
    assert json.loads(out.text) == {"echo": "more sleep?"}
    assert (out.prompt_tokens, out.completion_tokens) == (11, 7)
    assert out.seconds > 0
    [body] = chat_server.requests
    assert body["model"] == "test-model"
    assert body["messages"] == ASK
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "counterfactual", "schema": SCHEMA, "strict": True},
    }
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"]) == (
        0.3,
        50,
        0.9,
        11,
    )
    assert chat_server.headers[0]["authorization"] == f"Bearer {KEY}"


def test_no_schema_sends_no_response_format(chat_server: ChatServer) -> None:
    backend(chat_server.url).complete(ASK)
    assert "response_format" not in chat_server.requests[0]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=500),
        Fault("status", status=503),
        Fault("status", status=429),
        Fault("slow", delay=1.0),
        Fault("truncated"),
        Fault("garbage"),
        Fault("status", status=200, body="{not json"),
        Fault("status", status=200, body='{"id": "no choices"}'),
        Fault("drop"),
    ],
    ids=lambda f: f"{f.kind}-{f.status}" if f.kind == "status" else f.kind,
)
def test_transient_faults_are_retried_then_succeed(chat_server: ChatServer, fault: Fault) -> None:
    chat_server.queue(fault, fault)
    llm = backend(chat_server.url, timeout=0.3)
    out = llm.complete(ASK)
    assert json.loads(out.text) == {"echo": "more sleep?"}
    assert chat_server.attempts == 3
    assert llm.stats()["retries"] == 2 and llm.stats()["attempts"] == 3


def test_retry_after_is_honoured(chat_server: ChatServer) -> None:
    chat_server.queue(Fault("status", status=429, headers={"Retry-After": "1"}))
    backend(chat_server.url).complete(ASK)
    first, second = chat_server.arrivals
    assert second - first >= 0.95  # the backoff alone would be ~0.01 s


def test_retry_after_is_capped_by_max_backoff(chat_server: ChatServer) -> None:
    chat_server.queue(Fault("status", status=429, headers={"retry-after-ms": "30000"}))
    backend(chat_server.url, max_backoff=0.05).complete(ASK)
    first, second = chat_server.arrivals
    assert second - first < 5


def test_backoff_grows_and_is_seeded(chat_server: ChatServer) -> None:
    a = backend(chat_server.url, backoff_base=0.1, retry_seed=3)
    b = backend(chat_server.url, backoff_base=0.1, retry_seed=3)
    pauses_a = [a._pause(n, None) for n in (1, 2, 3)]
    pauses_b = [b._pause(n, None) for n in (1, 2, 3)]
    assert pauses_a == pauses_b
    for n, pause in enumerate(pauses_a, start=1):
        full = 0.1 * 2 ** (n - 1)
        assert full / 2 <= pause <= full


def test_retries_spent_is_an_error_naming_backend_url_and_what_to_check(
    chat_server: ChatServer,
) -> None:
    chat_server.queue(*[Fault("status", status=500, body=f'{{"error": "{KEY}"}}')] * 4)
    llm = backend(chat_server.url)
    with pytest.raises(LLMError) as info:
        llm.complete(ASK)
    message = str(info.value)
    assert "openai backend" in message and chat_server.url in message
    assert "4 attempt" in message and "HTTP 500" in message
    assert "server running" in message and "SENSECF_TEST_KEY" in message
    assert KEY not in message  # an echoed key is redacted
    assert chat_server.attempts == 4
    assert llm.stats()["failures"] == 1


def test_connection_refused_is_an_error_after_retries() -> None:
    url = closed_port_url()
    with pytest.raises(LLMError, match="connection error") as info:
        backend(url, max_retries=1).complete(ASK)
    assert url in str(info.value) and KEY not in str(info.value)


def test_timeouts_are_an_error_after_retries(chat_server: ChatServer) -> None:
    chat_server.queue(*[Fault("slow", delay=1.0)] * 2)
    with pytest.raises(LLMError, match="timed out"):
        backend(chat_server.url, timeout=0.2, max_retries=1).complete(ASK)


def test_auth_failure_fails_at_once_without_the_key(chat_server: ChatServer) -> None:
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}"}})
    chat_server.queue(Fault("status", status=401, body=body))
    with pytest.raises(LLMError, match="refused the credentials") as info:
        backend(chat_server.url).complete(ASK)
    assert KEY not in str(info.value) and KEY[:12] not in str(info.value)
    assert "SENSECF_TEST_KEY" in str(info.value)
    assert chat_server.attempts == 1


def test_other_client_errors_are_not_retried(chat_server: ChatServer) -> None:
    chat_server.queue(Fault("status", status=404, body='{"error": {"message": "no such model"}}'))
    with pytest.raises(LLMError, match="404.*no such model.*base URL"):
        backend(chat_server.url).complete(ASK)
    assert chat_server.attempts == 1


def test_a_rejected_json_schema_falls_back_to_llama_cpps_schema_form_and_remembers(
    chat_server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    chat_server.reject_json_schema = True
    llm = backend(chat_server.url)
    assert llm.supports_schema
    llm.complete(ASK, schema=SCHEMA)
    llm.complete(ASK, schema=SCHEMA)
    formats = [r.get("response_format", {}) for r in chat_server.requests]
    assert [f.get("type") for f in formats] == ["json_schema", "json_object", "json_object"]
    assert formats[1] == formats[2] == {"type": "json_object", "schema": SCHEMA}
    assert llm.stats()["schema_mode"] == "json_object_schema" and llm.supports_schema
    assert llm.stats()["retries"] == 0
    assert any("json_schema" in r.getMessage() for r in caplog.records)
    assert llm.identity()["schema_mode"] == "json_schema"  # cache keys stay put


def test_a_server_refusing_both_schema_forms_falls_back_to_json_object_and_remembers(
    chat_server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    chat_server.reject_json_schema = True
    chat_server.reject_json_object_schema = True
    llm = backend(chat_server.url)
    llm.complete(ASK, schema=SCHEMA)
    llm.complete(ASK, schema=SCHEMA)
    formats = [r.get("response_format", {}) for r in chat_server.requests]
    assert [f.get("type") for f in formats] == ["json_schema"] + ["json_object"] * 3
    assert "schema" in formats[1] and formats[2] == formats[3] == {"type": "json_object"}
    assert llm.stats()["schema_mode"] == "json_object" and not llm.supports_schema
    assert llm.stats()["retries"] == 0
    assert any("json_object_schema" in r.getMessage() for r in caplog.records)
    assert llm.identity()["schema_mode"] == "json_schema"  # cache keys stay put


def test_a_server_rejecting_every_format_is_asked_without_one(chat_server: ChatServer) -> None:
    reject = Fault("status", status=400, body='{"error": {"message": "bad response_format"}}')
    chat_server.queue(reject, reject, reject)
    backend(chat_server.url).complete(ASK, schema=SCHEMA)
    formats = [r.get("response_format", {}).get("type") for r in chat_server.requests]
    assert formats == ["json_schema", "json_object", "json_object", None]


def test_a_500_naming_the_response_format_is_a_rejected_format_not_retried(
    chat_server: ChatServer,
) -> None:
    # What llama-cpp-python's server (0.3.36) answers to response_format json_schema.
    body = (
        '{"error": {"message": "1 validation error: body.response_format.type: '
        "Input should be 'text' or 'json_object'\"}}"
    )
    chat_server.queue(Fault("status", status=500, body=body))
    llm = backend(chat_server.url)
    llm.complete(ASK, schema=SCHEMA)
    formats = [r.get("response_format", {}) for r in chat_server.requests]
    assert [f.get("type") for f in formats] == ["json_schema", "json_object"]
    assert formats[1]["schema"] == SCHEMA and llm.stats()["retries"] == 0
    assert llm.supports_schema  # the schema is still enforced, in llama.cpp's form


def test_a_bad_request_without_a_format_fails_at_once(chat_server: ChatServer) -> None:
    chat_server.queue(Fault("status", status=400, body='{"error": {"message": "too long"}}'))
    with pytest.raises(LLMError, match="HTTP 400.*too long"):
        backend(chat_server.url).complete(ASK)
    assert chat_server.attempts == 1


def test_schema_modes_json_object_and_none(chat_server: ChatServer) -> None:
    backend(chat_server.url, schema_mode="json_object").complete(ASK, schema=SCHEMA)
    backend(chat_server.url, schema_mode="none").complete(ASK, schema=SCHEMA)
    assert chat_server.requests[0]["response_format"] == {"type": "json_object"}
    assert "response_format" not in chat_server.requests[1]


def test_schema_mode_json_object_schema_chosen_explicitly(chat_server: ChatServer) -> None:
    llm = backend(chat_server.url, schema_mode="json_object_schema")
    assert llm.supports_schema and llm.identity()["schema_mode"] == "json_object_schema"
    llm.complete(ASK, schema=SCHEMA)
    llm.complete(ASK)  # no schema: no format at all
    assert chat_server.requests[0]["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert "response_format" not in chat_server.requests[1]


def test_complete_many_bounds_concurrency_and_keeps_order(chat_server: ChatServer) -> None:
    chat_server.delay = 0.1
    requests = [ChatRequest([{"role": "user", "content": f"q{i}"}]) for i in range(12)]
    seen: list[int] = []
    lock = threading.Lock()

    def note(index: int, result: Completion | Exception) -> None:
        with lock:
            seen.append(index)

    results = backend(chat_server.url, concurrency=3).complete_many(requests, on_result=note)
    assert [json.loads(r.text)["echo"] for r in results] == [f"q{i}" for i in range(12)]  # type: ignore[union-attr]
    assert chat_server.max_in_flight == 3
    assert sorted(seen) == list(range(12))


def test_the_bound_holds_across_batches_run_at_once(chat_server: ChatServer) -> None:
    chat_server.delay = 0.1
    llm = backend(chat_server.url, concurrency=2)
    requests = [ChatRequest([{"role": "user", "content": f"q{i}"}]) for i in range(4)]
    threads = [threading.Thread(target=llm.complete_many, args=(requests,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert chat_server.attempts == 12
    assert chat_server.max_in_flight == 2


def test_complete_many_puts_each_failure_in_its_slot(chat_server: ChatServer) -> None:
    def reply(body: dict) -> str:
        return body["messages"][0]["content"]

    chat_server.reply = reply
    chat_server.queue(Fault("status", status=500))  # the first attempt of some request
    requests = [ChatRequest([{"role": "user", "content": f"q{i}"}]) for i in range(5)]
    llm = backend(chat_server.url, concurrency=1, max_retries=0)
    results = llm.complete_many(requests)
    assert isinstance(results[0], LLMError)
    assert [r.text for r in results[1:]] == ["q1", "q2", "q3", "q4"]  # type: ignore[union-attr]


def test_key_handling(chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENSECF_TEST_KEY")
    backend(chat_server.url).complete(ASK)  # a local server: placeholder key
    assert chat_server.headers[0]["authorization"] == f"Bearer {PLACEHOLDER_KEY}"
    with pytest.raises(LLMError, match="SENSECF_TEST_KEY is not set"):
        OpenAICompatible("gpt-4o-mini", api_key_env="SENSECF_TEST_KEY").complete(ASK)


def test_identity_has_no_key_and_no_credentials_in_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = OpenAICompatible("m", "http://user:pw@127.0.0.1:9/v1/", api_key_env="SENSECF_TEST_KEY")
    ident = json.dumps(llm.identity())
    assert KEY not in ident and "pw" not in ident
    assert llm.identity()["base_url"] == "http://127.0.0.1:9/v1"
    assert (
        OpenAICompatible("m", api_key_env="X").identity()["base_url"] == "https://api.openai.com/v1"
    )


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(SensecfError, match="schema_mode"):
        OpenAICompatible("m", schema_mode="xml")  # type: ignore[arg-type]
    with pytest.raises(SensecfError, match="concurrency"):
        OpenAICompatible("m", concurrency=0)
