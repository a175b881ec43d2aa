"""deepgram-sdk 4.8.1 (the last 4.x release), unmodified, holds the scripted conversation with a v1 server.

Run with the venv that tests/e2e/official/install.sh made:  py4_client.py ws://127.0.0.1:PORT speech.wav
The only deviation from Deepgram's own examples is the documented URL override, `members={"_websocket_url":
...}` (the 4.x agent client ignores `DeepgramClientOptions(url=...)`). Prints one JSON line per message the
SDK delivered, typed by what was on the wire (a message the SDK does not model arrives as Unhandled: its raw
JSON is printed with `"unhandled": true`), then a summary line.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any

from conversation import (
    FUNCTION_RESULT,
    GREETING,
    SETTINGS_PROMPT,
    WEATHER_FUNCTION,
    Actions,
    StepFailed,
    Transcript,
    main,
    parse_args,
    run,
)
from deepgram import (
    AgentWebSocketEvents,
    DeepgramClient,
    Function,
    FunctionCallResponse,
    InjectAgentMessageOptions,
    InjectUserMessageOptions,
    Provider,
    SettingsOptions,
    Speak,
    UpdatePromptOptions,
    UpdateSpeakOptions,
)
from deepgram.clients.agent.v1.websocket.options import Parameters

#: Events a server can cause; the rest of AgentWebSocketEvents name client messages.
SERVER_EVENTS = [
    "Open",
    "Close",
    "AudioData",
    "Welcome",
    "SettingsApplied",
    "ConversationText",
    "UserStartedSpeaking",
    "AgentThinking",
    "FunctionCallRequest",
    "AgentStartedSpeaking",
    "AgentAudioDone",
    "InjectionRefused",
    "Error",
    "Unhandled",
]


def settings() -> SettingsOptions:
    options = SettingsOptions()
    options.audio.input.encoding = "linear16"
    options.audio.input.sample_rate = 16000
    options.audio.output.encoding = "linear16"
    options.audio.output.sample_rate = 16000
    options.audio.output.container = "none"
    options.agent.listen.provider.type = "deepgram"
    options.agent.listen.provider.model = "nova-3"
    options.agent.think.provider.type = "open_ai"
    options.agent.think.provider.model = "gpt-4o-mini"
    options.agent.think.prompt = SETTINGS_PROMPT
    # 4.x declares a function only through this dataclass, whose url and method are required: a
    # client-side function is sent with both empty.
    parameters = WEATHER_FUNCTION["parameters"]
    options.agent.think.functions = [
        Function(
            name=WEATHER_FUNCTION["name"],
            description=WEATHER_FUNCTION["description"],
            url="",
            method="",
            parameters=Parameters(
                type=parameters["type"], properties=parameters["properties"], required=parameters["required"]
            ),
        )
    ]
    options.agent.speak.provider.type = "deepgram"
    options.agent.speak.provider.model = "aura-2-thalia-en"
    options.agent.greeting = GREETING
    return options


def as_message(event: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    if event == "AudioData":
        return {"type": "Audio", "bytes": len(kwargs["data"])}
    payload = next(iter(kwargs.values()), None)
    if event == "Unhandled":
        return {**json.loads(payload.raw), "unhandled": True}
    fields = payload.to_dict() if hasattr(payload, "to_dict") else {}
    if event == "Error" and fields.get("type") != "Error":
        # The SDK's own failure (e.g. a message it could not parse), as opposed to an Error from the server.
        return {**fields, "type": "SdkError", "sdk_type": fields.get("type")}
    return {**fields, "type": event}


def converse(url: str, wav: str, key: str, speed: float, transcript: Transcript) -> None:
    connection = DeepgramClient(key).agent.websocket.v("1")

    def on_event(event: str, client: Any, *args: Any, **kwargs: Any) -> None:
        transcript.record(as_message(event, kwargs))
        if event == "FunctionCallRequest":
            for call in kwargs["function_call_request"].functions:
                if call.client_side:
                    answer = FunctionCallResponse(id=call.id, name=call.name, content=FUNCTION_RESULT)
                    client.send(str(answer))

    for event in SERVER_EVENTS:
        connection.on(AgentWebSocketEvents(event), functools.partial(on_event, event))
    if not connection.start(settings(), members={"_websocket_url": f"{url}/v1/agent/converse"}):
        raise StepFailed("start() failed: the client could not connect")
    try:
        actions = Actions(
            send_audio=connection.send,
            inject_user_message=lambda text: connection.inject_user_message(
                InjectUserMessageOptions(content=text)
            ),
            inject_agent_message=lambda text: connection.inject_agent_message(
                InjectAgentMessageOptions(message=text)
            ),
            update_prompt=lambda text: connection.send(str(UpdatePromptOptions(prompt=text))),
            update_speak=lambda model: connection.send(
                str(UpdateSpeakOptions(speak=Speak(provider=Provider(type="deepgram", model=model))))
            ),
            keep_alive=connection.keep_alive,
        )
        run(transcript, actions, wav, speed)
    finally:
        connection.finish()


if __name__ == "__main__":
    args = parse_args()
    transcript = Transcript()
    sys.exit(
        main(
            "deepgram-sdk 4.8.1",
            transcript,
            lambda: converse(args.url, args.wav, args.key, args.speed, transcript),
        )
    )
