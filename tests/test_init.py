"""Seed code ports by changing the import: the SDK's names are importable from the top-level package."""

import voicewire

SEED_IMPORTS = [
    "AgentWebSocketEvents",
    "AgentWebSocketClient",
    "AsyncAgentWebSocketClient",
    "DeepgramClient",
    "DeepgramClientOptions",
    "SettingsConfigurationOptions",
    "UpdateInstructionsOptions",
    "UpdateSpeakOptions",
    "InjectAgentMessageOptions",
    "FunctionCallResponse",
    "AgentKeepAlive",
    "Listen",
    "Speak",
    "Header",
    "Item",
    "Properties",
    "Parameters",
    "Function",
    "Provider",
    "Think",
    "Agent",
    "Input",
    "Output",
    "Audio",
    "Context",
    "WelcomeResponse",
    "SettingsAppliedResponse",
    "ConversationTextResponse",
    "UserStartedSpeakingResponse",
    "AgentThinkingResponse",
    "FunctionCalling",
    "FunctionCallRequest",
    "AgentStartedSpeakingResponse",
    "AgentAudioDoneResponse",
    "InjectionRefusedResponse",
    "Microphone",
    "Speaker",
]


def test_every_seed_name_is_importable_from_voicewire() -> None:
    missing = [name for name in SEED_IMPORTS if not hasattr(voicewire, name)]
    assert missing == []
    assert set(SEED_IMPORTS) <= set(voicewire.__all__)
