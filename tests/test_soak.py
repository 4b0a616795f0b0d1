"""The bounded crash-safety soak (the full one is `make soak`): the bot as a process, SIGKILLed
at random points (after random delays, and between a send and its bookkeeping), restarted each
time, with faults on every side; at the end nothing is lost, doubled or out of order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fake_discord import FakeDiscord
from tests.faultproxy import FAULT_KINDS
from tests.realwp import RealWordPress
from tests.soak import Soak, SoakParams
from tests.synapse import SynapseServer

pytestmark = pytest.mark.wordpress


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()


async def test_kills_at_random_points_lose_and_double_nothing(
    wordpress: RealWordPress, synapse: SynapseServer, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    params = SoakParams(
        comments=150,
        posts=12,
        replies=20,
        kills=5,
        seed=11,
        site_faults=0.1,
        chat_faults=0.1,
        max_kill_delay=2.0,
        hook_patience=5.0,
        quiet_for=3.0,
    )
    report = await Soak(wordpress, synapse, fake_discord, tmp_path, params).run()
    assert report.ok, report.table() + "\n" + "\n".join(report.problems + report.failed_jobs)
    assert sum(report.kills.values()) == 5 and report.starts == 6
    assert report.comments == 150 + 20 and report.replies == 20
    # every view holds every comment but the relays written in it: 3 views x 170 comments - 20 relays
    assert set(report.messages) == {"matrix", "discord:webhook", "discord:bot"}
    assert sum(report.messages.values()) == 3 * 170 - 20
    assert set(report.faults["site"]) >= set(FAULT_KINDS)
    assert {"429", "5xx"} <= set(report.faults["matrix"]) and {"429", "5xx"} <= set(report.faults["discord"])
