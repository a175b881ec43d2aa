"""deepgram-sdk 7.17.0 (the newest Python SDK), unmodified, holds the scripted conversation with a v1 server.

Run with the venv that tests/e2e/official/install.sh made:  py7_client.py ws://127.0.0.1:PORT speech.wav
The server is chosen the documented way, a `DeepgramClientEnvironment` whose `agent` URL is the server (the
route Deepgram's self-hosted docs give); everything else is the package README's agent example plus the typed
`send_*` methods. Prints one JSON line per message the SDK delivered, then a summary line.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from conversation import (
    FUNCTION_RESULT,
    GREETING,
    SETTINGS_PROMPT,
    WEATHER_FUNCTION,
    Actions,
    Transcript,
    main,
    parse_args,
    run,
)
from deepgram import DeepgramClient, DeepgramClientEnvironment
from deepgram.agent.v1.socket_client import V1SocketClient
from deepgram.agent.v1.types import (
    AgentV1InjectAgentMessage,
    AgentV1InjectUserMessage,
    AgentV1SendFunctionCallResponse,
    AgentV1Settings,
    AgentV1SettingsAgent,
    AgentV1SettingsAgentListen,
    AgentV1SettingsAgentListenProvider_V1,
    AgentV1SettingsAudio,
    AgentV1SettingsAudioInput,
    AgentV1SettingsAudioOutput,
    AgentV1UpdatePrompt,
    AgentV1UpdateSpeak,
)
from deepgram.core.events import EventType
from deepgram.types.speak_settings_v1 import SpeakSettingsV1
from deepgram.types.speak_settings_v1provider import SpeakSettingsV1Provider_Deepgram
from deepgram.types.think_settings_v1 import ThinkSettingsV1
from deepgram.types.think_settings_v1functions_item import ThinkSettingsV1FunctionsItem
from deepgram.types.think_settings_v1provider import ThinkSettingsV1Provider_OpenAi


def settings() -> AgentV1Settings:
    return AgentV1Settings(
        audio=AgentV1SettingsAudio(
            input=AgentV1SettingsAudioInput(encoding="linear16", sample_rate=16000),
            output=AgentV1SettingsAudioOutput(encoding="linear16", sample_rate=16000, container="none"),
        ),
        agent=AgentV1SettingsAgent(
            listen=AgentV1SettingsAgentListen(
                provider=AgentV1SettingsAgentListenProvider_V1(type="deepgram", model="nova-3")
            ),
            think=ThinkSettingsV1(
                provider=ThinkSettingsV1Provider_OpenAi(type="open_ai", model="gpt-4o-mini"),
                functions=[ThinkSettingsV1FunctionsItem(**WEATHER_FUNCTION)],
                prompt=SETTINGS_PROMPT,
            ),
            speak=speak(model="aura-2-thalia-en"),
            greeting=GREETING,
        ),
    )


def speak(model: str) -> SpeakSettingsV1:
    return SpeakSettingsV1(provider=SpeakSettingsV1Provider_Deepgram(type="deepgram", model=model))


def as_message(message: Any) -> dict[str, Any]:
    if isinstance(message, bytes):
        return {"type": "Audio", "bytes": len(message)}
    if isinstance(message, dict):  # a type this SDK does not model
        return {**message, "unmodelled": True}
    return dict(message.dict())


def converse(url: str, wav: str, key: str, speed: float, transcript: Transcript) -> None:
    environment = DeepgramClientEnvironment(base=url, production=url, agent=url, agent_rest=url)
    client = DeepgramClient(api_key=key, environment=environment)
    listener: threading.Thread | None = None
    try:
        with client.agent.v1.connect() as agent:
            listener = threading.Thread(target=listen, args=(agent, transcript), daemon=True)
            agent.send_settings(settings())
            listener.start()
            actions = Actions(
                send_audio=agent.send_media,
                inject_user_message=lambda text: agent.send_inject_user_message(
                    AgentV1InjectUserMessage(content=text)
                ),
                inject_agent_message=lambda text: agent.send_inject_agent_message(
                    AgentV1InjectAgentMessage(message=text)
                ),
                update_prompt=lambda text: agent.send_update_prompt(AgentV1UpdatePrompt(prompt=text)),
                update_speak=lambda model: agent.send_update_speak(AgentV1UpdateSpeak(speak=speak(model))),
                keep_alive=agent.send_keep_alive,
            )
            run(transcript, actions, wav, speed)
    finally:
        if listener is not None:  # leaving the block closed the socket: the listener records Close and ends
            listener.join(timeout=5)


def listen(agent: V1SocketClient, transcript: Transcript) -> None:
    """Record every event, answer client-side function calls; returns when the connection closes."""

    def on_message(message: Any) -> None:
        transcript.record(as_message(message))
        if getattr(message, "type", None) == "FunctionCallRequest":
            for call in message.functions:
                if call.client_side:
                    response = AgentV1SendFunctionCallResponse(
                        id=call.id, name=call.name, content=FUNCTION_RESULT
                    )
                    agent.send_function_call_response(response)

    agent.on(EventType.OPEN, lambda _: transcript.record({"type": "Open"}))
    agent.on(EventType.MESSAGE, on_message)
    # The SDK's own failures (a frame it cannot read...), as opposed to an Error message from the server.
    agent.on(EventType.ERROR, lambda error: transcript.record({"type": "SdkError", "exception": repr(error)}))
    agent.on(EventType.CLOSE, lambda _: transcript.record({"type": "Close"}))
    agent.start_listening()


if __name__ == "__main__":
    args = parse_args()
    transcript = Transcript()
    sys.exit(
        main(
            "deepgram-sdk 7.17.0",
            transcript,
            lambda: converse(args.url, args.wav, args.key, args.speed, transcript),
        )
    )
