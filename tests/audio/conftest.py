from pathlib import Path

import pytest

SHARED_AUDIO = Path(__file__).resolve().parents[3] / "shared" / "audio"


@pytest.fixture
def shared_audio() -> Path:
    """The real recordings shared by every worktree; see their README for what is said."""
    return SHARED_AUDIO
