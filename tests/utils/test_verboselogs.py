"""`voicewire.utils.verboselogs` stands in for `deepgram.utils.verboselogs` with the same levels."""

from __future__ import annotations

import logging

import pytest
from deepgram.utils import verboselogs as seed

from voicewire import DeepgramClient, DeepgramClientOptions
from voicewire.utils import verboselogs


@pytest.mark.parametrize(
    "name", ["SPAM", "DEBUG", "VERBOSE", "INFO", "NOTICE", "WARNING", "SUCCESS", "ERROR"]
)
def test_levels_match_the_seed(name: str) -> None:
    assert getattr(verboselogs, name) == getattr(seed, name)


def test_the_seed_idiom_sets_the_client_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    client_logger = logging.getLogger("voicewire.client")
    monkeypatch.setattr(client_logger, "level", client_logger.level)
    DeepgramClient("", DeepgramClientOptions(verbose=verboselogs.SPAM)).agent.websocket.v("1")
    assert client_logger.level == verboselogs.SPAM
    assert logging.getLevelName(verboselogs.NOTICE) == "NOTICE"


def test_verbose_logger_logs_the_extra_levels(caplog: pytest.LogCaptureFixture) -> None:
    logger = verboselogs.VerboseLogger("voicewire.test.verbose")
    logger.setLevel(verboselogs.SPAM)
    with caplog.at_level(verboselogs.SPAM, logger="voicewire.test.verbose"):
        logger.spam("a")
        logger.verbose("b")
        logger.notice("c")
        logger.success("d")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("SPAM", "a"),
        ("VERBOSE", "b"),
        ("NOTICE", "c"),
        ("SUCCESS", "d"),
    ]
