import pytest

pytest_plugins = ["tests.realwp"]


@pytest.fixture
def fixtures_dir():
    from pathlib import Path

    return Path(__file__).parent / "fixtures" / "wordpress"
