"""The TwiML that sends a Twilio number's calls to voicewire's `/twilio` Media Streams endpoint.

`<Connect><Stream>` makes the stream bidirectional (the agent's audio goes back into the call) and holds the
call until the stream ends. Twilio allows no query string in a stream URL, so the shared token and the
profile travel as `<Parameter>`s, which arrive in the stream's `start.customParameters`.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from xml.etree import ElementTree

from voicewire.protocol.dialects.twilio import PROFILE_PARAMETER, TOKEN_PARAMETER


class TwimlError(ValueError):
    """Arguments that would give Twilio TwiML it rejects, or a stream the server refuses."""


def connect_stream(url: str, *, token: str, profile: str | None = None) -> str:
    parts = urlsplit(url)
    if parts.scheme != "wss" or not parts.netloc:
        raise TwimlError(f"Twilio connects only to wss:// URLs, not {url!r}")
    if parts.query:
        raise TwimlError("a Twilio stream URL may not have a query string")
    if not token:
        raise TwimlError("no token: pass --token or set VOICEWIRE_TWILIO_TOKEN (the server's [twilio] token)")
    response = ElementTree.Element("Response")
    stream = ElementTree.SubElement(ElementTree.SubElement(response, "Connect"), "Stream", url=url)
    parameters = {TOKEN_PARAMETER: token, **({PROFILE_PARAMETER: profile} if profile else {})}
    for name, value in parameters.items():
        ElementTree.SubElement(stream, "Parameter", name=name, value=value)
    body = ElementTree.tostring(response, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'
