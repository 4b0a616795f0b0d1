"""The LLM path over real HTTP against tests/fake_llm.py, and its fall back to the offline summary."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import ConfigError, SummarizeLLM, SummarizeSettings, load_config
from bot.summarize import Summarizer
from bot.summarize.bench import synthetic_thread
from bot.summarize.llm import LLMClient, endpoint, estimate_tokens, parse_answer
from bot.summarize.render import units
from tests.fake_llm import FakeLLM
from tests.test_summarize import seed_thread


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    fake = FakeLLM(api_key="sk-test-123")
    await fake.start()
    yield fake
    await fake.stop()


def settings(fake: FakeLLM, **llm: object) -> SummarizeSettings:
    options: dict[str, object] = {"base_url": fake.base_url, "model": "fake-model", "api_key": "sk-test-123"}
    options.update(llm)
    return SummarizeSettings.model_validate({"llm": options, "rate_limit": 0})


async def test_a_good_answer_is_shown_with_citations_and_the_request_is_the_real_wire_format(llm: FakeLLM) -> None:
    thread, ids = seed_thread()
    summary = await Summarizer(settings(llm)).summarize(thread, "short", "discord:1")
    assert summary.made_by == "llm" and not summary.cached
    text = summary.text
    assert text.startswith("Summary: Russian official calling on Putin to resign speaks to CNN · 25 comments by 23")
    assert "1. Topic 1: Readers discuss point 1 of this thread. (" in text and "3. Topic 3:" in text
    assert "4. Topic 4" not in text and "[c" not in text  # ids became links
    assert "Disagreements:\n• One reader made a claim. ↔ Another said no." in text
    assert text.endswith("— via fake-model") and units(text) <= 2000
    [request] = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test-123"
    assert request.headers["Content-Type"].startswith("application/json")
    body = request.body
    assert body["model"] == "fake-model" and body["stream"] is False and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"} and body["max_tokens"] == 800
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "cites the ids" in body["messages"][0]["content"]
    user = request.user
    # Grounded: the offline figures and candidates, then every comment under its id.
    assert "Figures (computed): 25 comments by 23 people; 12 top-level threads; longest reply chain 4" in user
    assert "Candidate points from an offline ranking" in user and "Possible disagreements found offline" in user
    assert f"[c{ids['3.2']}] (reply to c{ids['3']}) RMW, 27 Sep " in user
    assert all(f"[c{cid}]" in user for cid in ids.values())
    assert "exactly 3 points" in user


async def test_a_fenced_answer_is_accepted(llm: FakeLLM) -> None:
    llm.mode = "fenced"
    thread, _ = seed_thread()
    summary = await Summarizer(settings(llm)).summarize(thread, "long")
    assert summary.made_by == "llm" and "5. Topic 5:" in summary.text


@pytest.mark.parametrize(
    ("mode", "footer"),
    [
        ("http_500", "— offline summary (the model answered HTTP 500)"),
        ("http_503", "— offline summary (the model answered HTTP 503)"),
        ("http_429", "— offline summary (the model answered HTTP 429)"),
        ("http_400", "— offline summary (the model answered HTTP 400)"),
        ("not_json", "— offline summary (the model gave an answer without the required shape)"),
        ("no_points", "— offline summary (the model gave an answer without the required shape)"),
        ("bad_cites", "— offline summary (the model gave an answer without the required shape)"),
        ("no_choices", "— offline summary (the model gave an answer without the required shape)"),
    ],
)
async def test_errors_and_malformed_answers_fall_back_to_the_offline_summary(
    llm: FakeLLM, mode: str, footer: str
) -> None:
    llm.mode = mode
    thread, _ = seed_thread()
    summary = await Summarizer(settings(llm)).summarize(thread, "short")
    assert summary.made_by == "fallback"
    assert summary.text.endswith(footer)
    assert "Main points:\n1. " in summary.text and "#comment-" in summary.text
    assert units(summary.text) <= 2000
    assert len(llm.requests) == 1


async def test_a_wrong_api_key_falls_back(llm: FakeLLM) -> None:
    thread, _ = seed_thread()
    summary = await Summarizer(settings(llm, api_key="sk-wrong")).summarize(thread)
    assert summary.text.endswith("(the model answered HTTP 401)") and "sk-wrong" not in summary.text


async def test_a_timeout_falls_back_in_time(llm: FakeLLM) -> None:
    llm.mode, llm.delay = "timeout", 3.0
    thread, _ = seed_thread()
    started = time.monotonic()
    summary = await Summarizer(settings(llm, timeout=0.5)).summarize(thread)
    assert time.monotonic() - started < 2.5
    assert summary.made_by == "fallback" and summary.text.endswith("(the model timed out after 0.5 s)")


async def test_an_unreachable_server_falls_back(llm: FakeLLM) -> None:
    await llm.stop()
    thread, _ = seed_thread()
    summary = await Summarizer(settings(llm)).summarize(thread)
    assert summary.text.endswith("— offline summary (the model unreachable)")


async def test_a_fallback_is_cached_briefly_then_the_model_is_asked_again(llm: FakeLLM) -> None:
    now = [1000.0]
    llm.modes = ["http_503"]
    summarizer = Summarizer(settings(llm), clock=lambda: now[0])
    thread, _ = seed_thread()
    first = await summarizer.summarize(thread)
    assert first.made_by == "fallback"
    again = await summarizer.summarize(thread)
    assert again.cached and again.text == first.text and len(llm.requests) == 1
    now[0] += 121
    fresh = await summarizer.summarize(thread)
    assert fresh.made_by == "llm" and len(llm.requests) == 2
    now[0] += 10**6
    assert (await summarizer.summarize(thread)).cached  # a good answer stays until the thread changes


async def test_a_long_thread_is_summarized_per_top_level_thread_then_merged(llm: FakeLLM) -> None:
    thread = synthetic_thread(400, seed=5)
    config = settings(llm, max_input_tokens=3000, max_requests=6)
    summary = await Summarizer(config).summarize(thread, "long")
    assert summary.made_by == "llm", summary.text
    *parts, merge = llm.requests
    assert 2 <= len(parts) <= 5
    roots = {item.key: item.parent for item in thread.items}

    def root(key: str) -> str:
        while roots.get(key):
            key = roots[key]  # type: ignore[assignment]
        return key

    seen_roots: list[set[str]] = []
    for number, request in enumerate(parts, 1):
        assert f"This is part {number} of {len(parts)}" in request.user
        assert estimate_tokens(request.user) <= 3000
        keys = set(re.findall(r"^\[(c\d+)\]", request.user, flags=re.M))
        seen_roots.append({root(k) for k in keys})
    for a in range(len(seen_roots)):  # whole top-level threads: no thread is split across parts
        for b in range(a + 1, len(seen_roots)):
            assert not seen_roots[a] & seen_roots[b]
    assert f"summarized in {len(parts)} parts" in merge.user and "Merge them into 4 or 5 points" in merge.user
    assert summary.text.endswith("— via fake-model") and units(summary.text) <= 2000


async def test_a_failed_merge_falls_back(llm: FakeLLM) -> None:
    thread = synthetic_thread(400, seed=5)
    llm.modes = ["good"] * 5 + ["not_json"]
    summary = await Summarizer(settings(llm, max_input_tokens=3000)).summarize(thread, "long")
    assert summary.made_by == "fallback" and "without the required shape" in summary.text


def test_endpoints_and_answer_checks() -> None:
    assert endpoint("http://127.0.0.1:11434/v1") == "http://127.0.0.1:11434/v1/chat/completions"
    assert endpoint("https://api.example.test/") == "https://api.example.test/v1/chat/completions"
    assert endpoint("http://h/v1/chat/completions") == "http://h/v1/chat/completions"
    thread, _ = seed_thread()
    known = {item.key: item for item in thread.items}
    answer = parse_answer(
        json.dumps(
            {
                "points": [
                    {"label": "A", "point": "x [c1001]", "cites": []},  # cited in its text only
                    {"label": "B", "point": "y", "cites": ["1003", "#c1005"]},  # bare numbers, hashes
                    {"label": "C", "point": "z", "cites": ["c42"]},  # not in the thread: dropped
                    {"label": "", "point": "w", "cites": ["c1001"]},  # no label: dropped
                ]
            }
        ),
        known,
        2,
    )
    assert [(p.label, p.text, p.cites) for p in answer.points] == [
        ("A", "x", ("c1001",)),
        ("B", "y", ("c1003", "c1005")),
    ]


def test_the_llm_section_of_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_KEY", "sk-from-env")
    path = tmp_path / "config.yaml"
    path.write_text(
        "sites: {blog: {url: 'https://blog.example.test/'}}\n"
        "summarize:\n  llm: {base_url: 'http://127.0.0.1:11434/v1/', model: llama3.1, api_key: '${LLM_KEY}',"
        " timeout: 20}\n  rate_limit: 3\n"
    )
    config = load_config(path)
    llm = config.summarize.llm
    assert llm is not None and llm.base_url == "http://127.0.0.1:11434/v1" and llm.timeout == 20
    assert isinstance(llm.api_key, SecretStr) and llm.api_key.get_secret_value() == "sk-from-env"
    assert "sk-from-env" not in repr(config) and "sk-from-env" in config.secret_values()
    assert config.summarize.rate_limit == 3 and config.summarize.cache_size == 256
    assert LLMClient(llm).url == "http://127.0.0.1:11434/v1/chat/completions"
    default = load_config(_write(tmp_path / "plain.yaml", "sites: {blog: {url: 'https://blog.example.test/'}}\n"))
    assert default.summarize.llm is None and default.summarize.rate_limit == 5
    bad = "sites: {b: {url: 'https://b.test/'}}\nsummarize: {llm: {base_url: 'localhost:11434', model: m}}\n"
    with pytest.raises(ConfigError, match=r"summarize\.llm\.base_url: not an http\(s\) URL"):
        load_config(_write(tmp_path / "bad.yaml", bad))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def test_no_llm_configured_means_offline(llm: FakeLLM) -> None:
    thread, _ = seed_thread()
    summary = await Summarizer(SummarizeSettings()).summarize(thread)
    assert summary.made_by == "offline" and summary.text.endswith("— offline summary") and not llm.requests


def test_llm_settings_model() -> None:
    llm = SummarizeLLM(base_url="http://x/v1", model="m")
    assert llm.timeout == 30 and llm.max_input_tokens == 6000 and llm.json_mode


async def test_one_request_keeps_the_best_comments_within_the_budget(llm: FakeLLM) -> None:
    thread = synthetic_thread(400, seed=5)
    summary = await Summarizer(settings(llm, max_input_tokens=3000, max_requests=1)).summarize(thread, "long")
    assert summary.made_by == "llm"
    [request] = llm.requests
    assert estimate_tokens(request.user) <= 3000
    assert "less central comments were left out to fit" in request.user
