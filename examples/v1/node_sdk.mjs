// Deepgram's own JavaScript SDK (@deepgram/sdk 5.x) talking to voicewire: only the URL is voicewire's.
//
//   npm install @deepgram/sdk@5.13.0 && node node_sdk.mjs speech-16k.wav   (16 kHz mono 16-bit WAV)
import { readFileSync } from "node:fs";
import { DeepgramClient, DeepgramEnvironment } from "@deepgram/sdk";

const url = process.env.VOICEWIRE_URL ?? "ws://127.0.0.1:8080"; // voicewire serve's address
const environment = { ...DeepgramEnvironment.Production, agent: url };
const client = new DeepgramClient({ apiKey: process.env.VOICEWIRE_API_KEY ?? "unused", environment });
const socket = await client.agent.v1.connect({ reconnectAttempts: 0 });
socket.on("message", (m) => console.log(m instanceof Blob ? `${m.size} bytes of audio` : JSON.stringify(m)));
socket.connect();
await socket.waitForOpen();
socket.sendSettings({
  type: "Settings",
  audio: { input: { encoding: "linear16", sample_rate: 16000 }, output: { encoding: "linear16" } },
  agent: {
    listen: { provider: { version: "v1", type: "deepgram", model: "nova-3" } },
    think: { provider: { type: "open_ai", model: "gpt-4o-mini" }, prompt: "Answer in one sentence." },
    speak: { provider: { type: "deepgram", model: "aura-2-thalia-en" } },
    greeting: "Hello! How can I help?",
  },
});
const pcm = readFileSync(process.argv[2]).subarray(44); // the samples after a plain 44-byte WAV header
for (let at = 0; at < pcm.length; at += 640) {
  socket.sendMedia(pcm.subarray(at, at + 640)); // 20 ms at a time, as a microphone would
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const keepAlive = setInterval(() => socket.sendKeepAlive({ type: "KeepAlive" }), 2000);
setTimeout(() => { clearInterval(keepAlive); socket.close(); }, 10000);
