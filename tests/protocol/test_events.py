from voicewire.protocol import SERVER_MESSAGES, AgentWebSocketEvents

SEED_MEMBERS = [
    "Open",
    "Close",
    "AudioData",
    "Welcome",
    "SettingsApplied",
    "ConversationText",
    "UserStartedSpeaking",
    "AgentThinking",
    "FunctionCalling",
    "FunctionCallRequest",
    "AgentStartedSpeaking",
    "AgentAudioDone",
    "Error",
    "Unhandled",
    "SettingsConfiguration",
    "UpdateInstructions",
    "UpdateSpeak",
    "InjectAgentMessage",
    "InjectionRefused",
    "AgentKeepAlive",
]


def test_every_seed_member_exists_with_value_equal_to_name() -> None:
    for name in SEED_MEMBERS:
        assert AgentWebSocketEvents[name].value == name
        assert AgentWebSocketEvents[name] == name


def test_the_three_unparsed_server_messages_are_members() -> None:
    names = {e.name for e in AgentWebSocketEvents}
    assert names == set(SEED_MEMBERS) | {"InstructionsUpdated", "SpeakUpdated", "Warning"}


def test_every_server_wire_type_has_its_event() -> None:
    for wire_type, kind in SERVER_MESSAGES.items():
        assert kind.event.value == wire_type
