// @deepgram/sdk 5.13.0 (the newest JavaScript SDK), unmodified, holds the scripted conversation with a v1 server.
//
//   node js_client.mjs ws://127.0.0.1:PORT speech.wav --prefix ~/.cache/voicewire-test/js-deepgram-5.13.0
//
// The SDK is loaded from the npm prefix that tests/e2e/official/install.sh filled (outside the repository), by
// its package entry point. The server is chosen the documented way, an `environment` whose `agent` URL is the
// server; `reconnectAttempts: 0` turns off the SDK's reconnecting socket, so a dropped connection shows as a
// Close instead of a silent new connection that never sends Settings. The steps, their order and the printed
// lines are those of conversation.py (the Python clients' script): one JSON line per message the SDK
// delivered, binary frames as byte counts, `{"client": ...}` lines for what the client did, then a summary.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";

const SETTINGS_PROMPT = "You are a friendly voice assistant. Reply in at most ten words.";
const GREETING = "Hello! How can I help?";
const WEATHER_FUNCTION = {
  name: "get_weather",
  description: "Get the current weather for a city.",
  parameters: {
    type: "object",
    properties: { location: { type: "string", description: "The city, for example Paris" } },
    required: ["location"],
  },
};
const FUNCTION_RESULT = "Sunny, 21 degrees Celsius.";
const USER_MESSAGE = "What's the weather in Paris?";
const AGENT_MESSAGE = "Here is a message from the client.";
const PROMPT_UPDATE = "Always be polite.";
const SPEAK_MODEL = "aura-2-andromeda-en";
const STEP_TIMEOUT_MS = 60_000;
const KEEPALIVE_INTERVAL_MS = 4_000;
const FRAME_MS = 20;
const TRAILING_SILENCE_S = 1.5;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    prefix: { type: "string" },
    key: { type: "string", default: "test-key" },
    speed: { type: "string", default: "2" },
  },
});
const [url, wavPath] = positionals;
const require = createRequire(join(values.prefix, "package.json"));
const { DeepgramClient, DeepgramEnvironment } = require("@deepgram/sdk");

class StepFailed extends Error {}

/** Every message received, in order, printed as it arrives; steps wait on it. */
class Transcript {
  constructor() {
    this.messages = [];
    this.listeners = new Set();
  }
  record(message) {
    this.messages.push(message);
    console.log(JSON.stringify(message));
    for (const listener of [...this.listeners]) listener();
  }
  note(fields) {
    console.log(JSON.stringify({ client: fields }));
  }
  mark() {
    return this.messages.length;
  }
  /** Index of the first message of type `kind` at or after `after`. */
  waitFor(kind, after) {
    const found = () => this.messages.findIndex((m, i) => i >= after && m.type === kind);
    const closed = () => this.messages.some((m, i) => i >= after && m.type === "Close");
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = found();
        if (index >= 0 || closed()) {
          clearTimeout(timer);
          this.listeners.delete(check);
          if (index >= 0) resolve(index);
          else reject(new StepFailed(`no ${kind} before the connection closed`));
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new StepFailed(`no ${kind} within ${STEP_TIMEOUT_MS / 1000} s`));
      }, STEP_TIMEOUT_MS);
      this.listeners.add(check);
      check();
    });
  }
  summary(completed, failure) {
    const counts = {};
    for (const m of this.messages) counts[m.type] = (counts[m.type] ?? 0) + 1;
    const audio = this.messages.filter((m) => m.type === "Audio").reduce((sum, m) => sum + m.bytes, 0);
    return { summary: { sdk: "@deepgram/sdk 5.13.0", completed, failure, counts, audio_bytes: audio } };
  }
}

/** The PCM of a 16 kHz mono linear16 WAV file plus trailing silence, in 20 ms frames. */
function speechFrames(path) {
  const file = readFileSync(path);
  let offset = 12;
  let format = null;
  let pcm = null;
  while (offset + 8 <= file.length) {
    const id = file.toString("ascii", offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    const body = file.subarray(offset + 8, offset + 8 + size);
    if (id === "fmt ") format = [body.readUInt16LE(0), body.readUInt16LE(2), body.readUInt32LE(4), body.readUInt16LE(14)];
    if (id === "data") pcm = body;
    offset += 8 + size + (size % 2);
  }
  if (JSON.stringify(format) !== JSON.stringify([1, 1, 16000, 16]) || pcm === null) {
    throw new Error(`${path}: expected 16 kHz mono linear16`);
  }
  const audio = Buffer.concat([pcm, Buffer.alloc(16000 * 2 * TRAILING_SILENCE_S)]);
  const frameBytes = (16000 * 2 * FRAME_MS) / 1000;
  const frames = [];
  for (let start = 0; start < audio.length; start += frameBytes) frames.push(audio.subarray(start, start + frameBytes));
  return frames;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function stream(frames, send, speed) {
  const start = performance.now();
  for (const [index, frame] of frames.entries()) {
    send(frame);
    const delay = start + ((index + 1) * FRAME_MS) / speed - performance.now();
    if (delay > 0) await sleep(delay);
  }
}

function asMessage(data) {
  if (data instanceof Blob) return { type: "Audio", bytes: data.size };
  if (typeof data === "string") return { type: "Text", text: data };
  return data;
}

async function converse(transcript) {
  const environment = { ...DeepgramEnvironment.Production, agent: url };
  const client = new DeepgramClient({ apiKey: values.key, environment });
  const socket = await client.agent.v1.connect({ reconnectAttempts: 0 });
  socket.on("open", () => transcript.record({ type: "Open" }));
  socket.on("message", (data) => {
    const message = asMessage(data);
    transcript.record(message);
    if (message.type === "FunctionCallRequest") {
      for (const call of message.functions.filter((f) => f.client_side)) {
        socket.sendFunctionCallResponse({ type: "FunctionCallResponse", id: call.id, name: call.name, content: FUNCTION_RESULT });
      }
    }
  });
  // The SDK's own failures, as opposed to an Error message from the server.
  socket.on("error", (error) => transcript.record({ type: "SdkError", exception: String(error) }));
  socket.on("close", (event) => transcript.record({ type: "Close", code: event.code }));
  socket.connect();
  await socket.waitForOpen();
  socket.sendSettings({
    type: "Settings",
    audio: {
      input: { encoding: "linear16", sample_rate: 16000 },
      output: { encoding: "linear16", sample_rate: 16000, container: "none" },
    },
    agent: {
      listen: { provider: { type: "deepgram", model: "nova-3", version: "v1" } },
      think: {
        provider: { type: "open_ai", model: "gpt-4o-mini" },
        prompt: SETTINGS_PROMPT,
        functions: [WEATHER_FUNCTION],
      },
      speak: { provider: { type: "deepgram", model: "aura-2-thalia-en" } },
      greeting: GREETING,
    },
  });
  // A v1 server closes a connection that sends nothing for about 10 s, and the script is silent while the
  // agent thinks and speaks: like an app without a microphone, it sends KeepAlive every few seconds.
  // With its (type-required) argument: without one this SDK sends an empty binary frame, not JSON.
  const keepAlive = () => socket.sendKeepAlive({ type: "KeepAlive" });
  const ticker = setInterval(keepAlive, KEEPALIVE_INTERVAL_MS);
  try {
    await transcript.waitFor("Welcome", 0);
    await transcript.waitFor("SettingsApplied", 0);
    await transcript.waitFor("AgentAudioDone", 0); // the greeting

    let mark = transcript.mark();
    transcript.note({ step: "speech" });
    await stream(speechFrames(wavPath), (frame) => socket.sendMedia(frame), Number(values.speed));
    await transcript.waitFor("AgentAudioDone", mark);

    mark = transcript.mark();
    transcript.note({ step: "InjectUserMessage" });
    socket.sendInjectUserMessage({ type: "InjectUserMessage", content: USER_MESSAGE });
    const request = await transcript.waitFor("FunctionCallRequest", mark);
    await transcript.waitFor("AgentAudioDone", request);

    mark = transcript.mark();
    transcript.note({ step: "InjectAgentMessage" });
    socket.sendInjectAgentMessage({ type: "InjectAgentMessage", message: AGENT_MESSAGE });
    await transcript.waitFor("AgentAudioDone", mark);

    mark = transcript.mark();
    transcript.note({ step: "UpdatePrompt" });
    socket.sendUpdatePrompt({ type: "UpdatePrompt", prompt: PROMPT_UPDATE });
    await transcript.waitFor("PromptUpdated", mark);

    mark = transcript.mark();
    transcript.note({ step: "UpdateSpeak" });
    socket.sendUpdateSpeak({ type: "UpdateSpeak", speak: { provider: { type: "deepgram", model: SPEAK_MODEL } } });
    await transcript.waitFor("SpeakUpdated", mark);

    transcript.note({ step: "KeepAlive" });
    keepAlive();
    await sleep(500); // an Error answering it would arrive by now
  } finally {
    clearInterval(ticker);
    const closed = transcript.mark();
    socket.close();
    await transcript.waitFor("Close", closed).catch(() => {});
  }
}

const transcript = new Transcript();
let failure = null;
try {
  await converse(transcript);
} catch (error) {
  if (!(error instanceof StepFailed)) transcript.note({ exception: String(error?.stack ?? error) });
  failure = String(error?.message ?? error);
}
console.log(JSON.stringify(transcript.summary(failure === null, failure)));
process.exit(failure === null ? 0 : 1);
