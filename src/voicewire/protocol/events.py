"""The event names a client can register handlers for, as in deepgram-sdk 3.11 (value = name)."""

from __future__ import annotations

from enum import StrEnum


class AgentWebSocketEvents(StrEnum):
    """The seed's 20 members, plus the three documented server messages it could not parse.

    `Open`, `Close`, `AudioData` and `Unhandled` are synthetic (raised by the client, not sent on the wire).
    The seed listed `SettingsConfiguration`, `UpdateInstructions`, `UpdateSpeak`, `InjectAgentMessage` and
    `AgentKeepAlive` as "client" events: they are messages the client sends, so handlers for them never fire.
    """

    Open = "Open"
    Close = "Close"
    AudioData = "AudioData"
    Welcome = "Welcome"
    SettingsApplied = "SettingsApplied"
    ConversationText = "ConversationText"
    UserStartedSpeaking = "UserStartedSpeaking"
    AgentThinking = "AgentThinking"
    FunctionCalling = "FunctionCalling"
    FunctionCallRequest = "FunctionCallRequest"
    AgentStartedSpeaking = "AgentStartedSpeaking"
    AgentAudioDone = "AgentAudioDone"
    Error = "Error"
    Unhandled = "Unhandled"
    SettingsConfiguration = "SettingsConfiguration"
    UpdateInstructions = "UpdateInstructions"
    UpdateSpeak = "UpdateSpeak"
    InjectAgentMessage = "InjectAgentMessage"
    InjectionRefused = "InjectionRefused"
    AgentKeepAlive = "AgentKeepAlive"
    InstructionsUpdated = "InstructionsUpdated"
    SpeakUpdated = "SpeakUpdated"
    Warning = "Warning"
