from collections.abc import AsyncIterator

import pytest

from bot.sample_site import SampleSite

pytest_plugins = ["tests.realwp", "tests.synapse"]


@pytest.fixture
async def site() -> AsyncIterator[SampleSite]:
    """The bundled sample site on 127.0.0.1, without live comments (tests add their own)."""
    sample = SampleSite(interval=0)
    await sample.start()
    yield sample
    await sample.stop()
