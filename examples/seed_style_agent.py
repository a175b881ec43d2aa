"""A voice agent written the way deepgram-sdk 3.11's agent examples are, ported by changing only the imports.

With deepgram-sdk 3.11 the two imports below read `from deepgram.utils import verboselogs` and
`from deepgram import (...)`; nothing else changes. Start a server (`voicewire serve`), then run
`python examples/seed_style_agent.py` and talk; the agent answers through the speaker. Press Enter to stop.
It needs `voicewire[devices]` and the PortAudio library.
"""

from voicewire import (
    AgentWebSocketEvents,
    DeepgramClient,
    DeepgramClientOptions,
    SettingsConfigurationOptions,
)
from voicewire.utils import verboselogs


def main():
    try:
        config = DeepgramClientOptions(
            options={"keepalive": "true", "microphone_record": "true", "speaker_playback": "true"},
            verbose=verboselogs.WARNING,
        )
        deepgram = DeepgramClient("", config)
        connection = deepgram.agent.websocket.v("1")

        def on_open(self, open, **kwargs):
            print(f"Open: {open}")

        def on_welcome(self, welcome, **kwargs):
            print(f"Welcome: {welcome}")

        def on_settings_applied(self, settings_applied, **kwargs):
            print(f"SettingsApplied: {settings_applied}")

        def on_conversation_text(self, conversation_text, **kwargs):
            print(f"ConversationText: {conversation_text}")

        def on_user_started_speaking(self, user_started_speaking, **kwargs):
            print(f"UserStartedSpeaking: {user_started_speaking}")

        def on_agent_started_speaking(self, agent_started_speaking, **kwargs):
            print(f"AgentStartedSpeaking: {agent_started_speaking}")

        def on_agent_audio_done(self, agent_audio_done, **kwargs):
            print(f"AgentAudioDone: {agent_audio_done}")

        def on_error(self, error, **kwargs):
            print(f"Error: {error}")

        def on_close(self, close, **kwargs):
            print(f"Close: {close}")

        connection.on(AgentWebSocketEvents.Open, on_open)
        connection.on(AgentWebSocketEvents.Welcome, on_welcome)
        connection.on(AgentWebSocketEvents.SettingsApplied, on_settings_applied)
        connection.on(AgentWebSocketEvents.ConversationText, on_conversation_text)
        connection.on(AgentWebSocketEvents.UserStartedSpeaking, on_user_started_speaking)
        connection.on(AgentWebSocketEvents.AgentStartedSpeaking, on_agent_started_speaking)
        connection.on(AgentWebSocketEvents.AgentAudioDone, on_agent_audio_done)
        connection.on(AgentWebSocketEvents.Error, on_error)
        connection.on(AgentWebSocketEvents.Close, on_close)

        options = SettingsConfigurationOptions()
        options.agent.think.provider.type = "open_ai"
        options.agent.think.model = "gpt-4o-mini"
        options.agent.think.instructions = "You are a helpful AI assistant."

        if connection.start(options) is False:
            print("Failed to start connection")
            return
        input("\n\nPress Enter to stop...\n\n")
        connection.finish()
        print("Finished")
    except Exception as e:
        print(f"An unexpected error occurred: {e}")


if __name__ == "__main__":
    main()
