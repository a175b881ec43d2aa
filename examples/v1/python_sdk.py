"""Deepgram's own Python SDK (deepgram-sdk 5.x to 7.x) talking to voicewire: only the URL is voicewire's.

    pip install deepgram-sdk==7.17.0 && python python_sdk.py speech-16k.wav   (16 kHz mono 16-bit WAV)
"""

import os
import sys
import threading
import time
import wave

from deepgram import DeepgramClient, DeepgramClientEnvironment
from deepgram.agent.v1.types import AgentV1Settings
from deepgram.core.events import EventType

URL = os.environ.get("VOICEWIRE_URL", "ws://127.0.0.1:8080")  # voicewire serve's address
where = DeepgramClientEnvironment(base=URL, production=URL, agent=URL, agent_rest=URL)
client = DeepgramClient(api_key=os.environ.get("VOICEWIRE_API_KEY", "unused"), environment=where)
settings = AgentV1Settings(
    audio={"input": {"encoding": "linear16", "sample_rate": 16000}, "output": {"encoding": "linear16"}},
    agent={
        "listen": {"provider": {"version": "v1", "type": "deepgram", "model": "nova-3"}},
        "think": {"provider": {"type": "open_ai", "model": "gpt-4o-mini"}, "prompt": "Answer in one sentence."},
        "speak": {"provider": {"type": "deepgram", "model": "aura-2-thalia-en"}},
        "greeting": "Hello! How can I help?",
    },
)
with client.agent.v1.connect() as agent:
    agent.on(EventType.MESSAGE, lambda m: print(f"{len(m)} bytes of audio" if isinstance(m, bytes) else m))
    agent.send_settings(settings)
    threading.Thread(target=agent.start_listening, daemon=True).start()
    with wave.open(sys.argv[1]) as wav:
        while frames := wav.readframes(320):  # 20 ms at a time, as a microphone would
            agent.send_media(frames)
            time.sleep(0.02)
    for _ in range(5):  # listen to the answer, with a KeepAlive now and then
        time.sleep(2)
        agent.send_keep_alive()
