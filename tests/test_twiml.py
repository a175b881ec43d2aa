"""`voicewire twiml`: the TwiML for a Twilio number, as Twilio reads it, and the arguments it refuses."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from voicewire import cli
from voicewire.twiml import TwimlError, connect_stream


def test_connect_stream_carries_the_token_and_profile_as_parameters() -> None:
    text = connect_stream("wss://voice.example.com/twilio", token='t&"<k', profile="sales")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Connect><Stream url=')
    response = ElementTree.fromstring(text.split("\n", 1)[1])
    stream = response.find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://voice.example.com/twilio"
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert parameters == {"token": 't&"<k', "profile": "sales"}


@pytest.mark.parametrize(
    ("url", "token", "message"),
    [
        ("ws://host/twilio", "t", "only to wss://"),
        ("https://host/twilio", "t", "only to wss://"),
        ("wss://host/twilio?token=t", "t", "query string"),
        ("wss://host/twilio", "", "no token"),
    ],
)
def test_refused_arguments(url: str, token: str, message: str) -> None:
    with pytest.raises(TwimlError, match=message):
        connect_stream(url, token=token)


def test_the_command_prints_twiml_with_the_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICEWIRE_TWILIO_TOKEN", "env-token")
    assert cli.main(["twiml", "--url", "wss://host/twilio"]) == 0
    out = capsys.readouterr().out
    assert '<Parameter name="token" value="env-token" />' in out and "profile" not in out
    monkeypatch.delenv("VOICEWIRE_TWILIO_TOKEN")
    assert cli.main(["twiml", "--url", "wss://host/twilio"]) == 2
    assert "no token" in capsys.readouterr().err
