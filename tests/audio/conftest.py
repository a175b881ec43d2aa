from pathlib import Path

import pytest

from tests.conftest import TEST_AUDIO


@pytest.fixture
def test_audio() -> Path:
    """The real recordings kept in the repository; see their README for what is said."""
    return TEST_AUDIO
