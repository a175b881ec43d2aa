// The voicewire playground: microphone → AudioWorklet (16 kHz linear16) → WebSocket → agent audio via Web Audio.
// Plain browser JavaScript served by the server itself: no build step, nothing from a CDN.

const INPUT_RATE = 16000; // what the worklet sends
const OUTPUT_RATE = 24000; // what the page asks the agent for (linear16, no container)
const FRAME_MS = 40; // microphone audio per binary frame
const START_LEAD_S = 0.08; // head start for the first chunk of a reply, so network jitter does not open gaps
const SETTINGS_KEY = "voicewire.playground.settings";
const API_KEY_KEY = "voicewire.playground.api-key"; // sessionStorage: the key is forgotten with the tab

/** The protocol dialect: the path to connect to and the messages whose shape differs between dialects.
 * This is Deepgram's current Voice Agent API ("v1"); the server also speaks the early-access one at /agent. */
function v1Dialect() {
  return {
    name: "Voice Agent v1",
    path: "/v1/agent/converse",
    defaultVoice: "aura-2-thalia-en",
    settings({ prompt, voice, functions }) {
      const think = { provider: { type: "open_ai", model: "gpt-4o-mini" }, prompt };
      if (functions.length) think.functions = functions;
      return {
        type: "Settings",
        audio: {
          input: { encoding: "linear16", sample_rate: INPUT_RATE },
          output: { encoding: "linear16", sample_rate: OUTPUT_RATE, container: "none" },
        },
        agent: {
          listen: { provider: { type: "deepgram", model: "nova-3" } },
          think,
          speak: { provider: { type: "deepgram", model: voice } },
        },
      };
    },
    functionCalls: (request) =>
      (request.functions || [])
        .filter((call) => call.client_side !== false)
        .map((call) => ({ id: call.id, name: call.name, input: call.arguments })),
    functionResponse: (call, output) => ({ type: "FunctionCallResponse", id: call.id, name: call.name, content: output }),
  };
}

const dialect = v1Dialect();

const DEFAULTS = {
  prompt: "You are a friendly voice assistant. Answer in one short sentence.",
  voice: dialect.defaultVoice,
  functions: "[]",
};

/** Counters and the transcript, for people debugging in the console and for the browser test. */
const state = (window.voicewire = {
  status: "ready",
  transcript: [],
  latencies: [],
  sentSamples: 0,
  scheduledSamples: 0,
  droppedSamples: 0,
  flushes: 0,
  closeCode: null,
});

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  talk: $("talk"),
  stop: $("stop"),
  keyField: $("key-field"),
  key: $("api-key"),
  transcript: $("transcript"),
  prompt: $("prompt"),
  voice: $("voice"),
  functions: $("functions"),
  reset: $("reset"),
  dialect: $("dialect"),
};

let session = null;

// ---- settings, remembered in localStorage ----

function loadSettings() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
  } catch {
    saved = {};
  }
  const settings = { ...DEFAULTS, ...saved };
  ui.prompt.value = settings.prompt;
  ui.voice.value = settings.voice;
  ui.functions.value = settings.functions;
}

function saveSettings() {
  const settings = { prompt: ui.prompt.value, voice: ui.voice.value, functions: ui.functions.value };
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
}

function readSettings() {
  let functions;
  try {
    functions = JSON.parse(ui.functions.value.trim() || "[]");
  } catch (error) {
    throw new Error(`the functions box is not valid JSON (${error.message})`);
  }
  if (!Array.isArray(functions)) throw new Error("the functions box must hold a JSON array");
  return { prompt: ui.prompt.value.trim(), voice: ui.voice.value.trim() || dialect.defaultVoice, functions };
}

// ---- status line and transcript ----

function setStatus(text, kind) {
  state.status = text;
  ui.status.textContent = text;
  ui.status.className = `status ${kind || text.split(":")[0].replace(/\s+/g, "-")}`;
}

function addLine(role, content) {
  ui.transcript.querySelector(".empty")?.remove();
  const line = document.createElement("div");
  line.className = `line ${role === "user" ? "user" : role === "assistant" ? "agent" : "note"}`;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "You" : role === "assistant" ? "Agent" : role;
  const text = document.createElement("p");
  text.textContent = content;
  line.append(who, text);
  ui.transcript.append(line);
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
  line.entry = { role, content };
  state.transcript.push(line.entry);
  return line;
}

/** The server sends a reply sentence by sentence; one reply is one line. */
function extendLine(line, content) {
  line.entry.content += ` ${content}`;
  line.querySelector("p").textContent = line.entry.content;
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

function showLatency(seconds) {
  state.latencies.push(seconds);
  const agentLines = ui.transcript.querySelectorAll(".line.agent");
  const line = agentLines[agentLines.length - 1];
  if (!line || line.querySelector(".latency")) return;
  const badge = document.createElement("span");
  badge.className = "latency";
  badge.title = "end of your speech → first agent audio (total_latency)";
  badge.textContent = `${Math.round(seconds * 1000)} ms`;
  line.querySelector(".who").after(badge);
}

// ---- agent audio: chunks scheduled back to back, dropped at once on barge-in ----

class Player {
  constructor(context) {
    this.context = context;
    this.sources = new Set();
    this.nextStart = 0;
    this.leftover = null; // an odd byte split across frames
    this.replyDone = false;
    this.onIdle = () => {};
  }

  get playing() {
    return this.sources.size > 0;
  }

  enqueue(data) {
    let bytes = new Uint8Array(data);
    if (this.leftover !== null) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.leftover;
      joined.set(bytes, 1);
      bytes = joined;
      this.leftover = null;
    }
    if (bytes.length % 2) {
      this.leftover = bytes[bytes.length - 1];
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const count = bytes.length / 2;
    if (!count) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const samples = new Float32Array(count);
    for (let i = 0; i < count; i++) samples[i] = view.getInt16(2 * i, true) / 32768;
    const buffer = this.context.createBuffer(1, count, OUTPUT_RATE);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const now = this.context.currentTime;
    const start = this.nextStart > now ? this.nextStart : now + START_LEAD_S;
    source.start(start);
    this.nextStart = start + buffer.duration;
    this.sources.add(source);
    source.onended = () => {
      this.sources.delete(source);
      if (!this.sources.size && this.replyDone) this.onIdle();
    };
    this.replyDone = false;
    state.scheduledSamples += count;
  }

  /** Barge-in: everything queued goes at once. */
  flush() {
    if (!this.sources.size) return;
    const now = this.context.currentTime;
    const dropped = Math.max(0, this.nextStart - now);
    for (const source of this.sources) {
      source.onended = null;
      source.stop();
    }
    this.sources.clear();
    this.nextStart = 0;
    this.leftover = null;
    state.flushes += 1;
    state.droppedSamples += Math.round(dropped * OUTPUT_RATE);
  }

  replyFinished() {
    this.replyDone = true;
    if (!this.sources.size) this.onIdle();
  }
}

// ---- one conversation ----

class Session {
  constructor(settings, apiKey) {
    this.settings = settings;
    this.socket = null;
    this.stopping = false;
    this.finished = false;
    this.failed = false;
    this.ready = false;
    this.replyLine = null; // the transcript line of the reply being spoken
    this.context = new AudioContext({ latencyHint: "interactive" });
    this.player = new Player(this.context);
    this.player.onIdle = () => this.ready && setStatus("listening");
    // The microphone first: a person may take a while to allow it, and the server closes idle sessions.
    // Stopped meanwhile: whatever the browser granted since is released at once.
    this.startMicrophone()
      .then(() => (this.finished ? this.release() : this.connect(apiKey)))
      .catch((error) => (this.finished ? this.release() : this.fail(`microphone: ${error.message}`)));
  }

  async startMicrophone() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    await this.context.audioWorklet.addModule("/static/mic-worklet.js");
    this.source = this.context.createMediaStreamSource(this.stream);
    this.worklet = new AudioWorkletNode(this.context, "voicewire-microphone", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      processorOptions: { targetRate: INPUT_RATE, frameSamples: (INPUT_RATE * FRAME_MS) / 1000 },
    });
    this.worklet.port.onmessage = (event) => this.sendAudio(event.data);
    this.source.connect(this.worklet);
    await this.context.resume();
  }

  connect(apiKey) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}${dialect.path}`;
    try {
      this.socket = apiKey ? new WebSocket(url, ["token", apiKey]) : new WebSocket(url);
    } catch (error) {
      // e.g. a key with characters a subprotocol cannot carry
      this.fail(error.message);
      return;
    }
    this.socket.binaryType = "arraybuffer";
    this.socket.onopen = () => this.onOpen();
    this.socket.onmessage = (event) => this.onMessage(event.data);
    this.socket.onclose = (event) => this.onClose(event);
  }

  sendAudio(buffer) {
    if (!this.ready || this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(buffer);
    state.sentSamples += buffer.byteLength / 2;
  }

  onOpen() {
    this.socket.send(JSON.stringify(dialect.settings(this.settings)));
    this.ready = true;
    setStatus("listening");
  }

  onMessage(data) {
    if (typeof data !== "string") {
      this.player.enqueue(data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    switch (message.type) {
      case "ConversationText":
        if (message.role === "assistant" && this.replyLine) {
          extendLine(this.replyLine, message.content);
        } else {
          const line = addLine(message.role, message.content);
          this.replyLine = message.role === "assistant" ? line : null;
        }
        break;
      case "UserStartedSpeaking":
        this.replyLine = null;
        this.player.flush();
        setStatus("listening");
        break;
      case "AgentThinking":
        setStatus("agent thinking");
        break;
      case "AgentStartedSpeaking":
        if (typeof message.total_latency === "number") showLatency(message.total_latency);
        setStatus("agent speaking");
        break;
      case "AgentAudioDone":
        this.replyLine = null;
        this.player.replyFinished();
        break;
      case "FunctionCallRequest":
        for (const call of dialect.functionCalls(message)) this.answerFunctionCall(call);
        break;
      case "Error":
        setStatus(`error: ${message.description || message.message || message.code || "unknown"}`, "error");
        break;
    }
  }

  answerFunctionCall(call) {
    addLine("function", `${call.name}(${typeof call.input === "string" ? call.input : JSON.stringify(call.input)})`);
    const output = JSON.stringify({ error: `${call.name} is not available in the playground` });
    this.socket.send(JSON.stringify(dialect.functionResponse(call, output)));
  }

  fail(text) {
    this.failed = true;
    setStatus(`error: ${text}`, "error");
    this.stop();
  }

  /** Close the socket cleanly (1000); the rest is released when it has closed. */
  stop() {
    this.stopping = true;
    const socket = this.socket;
    if (socket && (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN)) {
      socket.close(1000, "stopped");
    } else if (!socket) {
      this.finish(); // still waiting for the microphone: nothing was sent
    }
  }

  onClose(event) {
    state.closeCode = event.code;
    if (!this.failed) {
      if (!this.ready) {
        setStatus("error: could not connect (wrong API key, or the server is busy or down)", "error");
      } else if (this.stopping || event.code === 1000) {
        setStatus("closed");
      } else {
        setStatus(`error: connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`, "error");
      }
    }
    this.finish();
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    this.ready = false;
    this.player.flush();
    this.release();
    if (!this.failed && !this.socket) setStatus("closed");
    if (session === this) {
      session = null;
      ui.talk.disabled = false;
      ui.stop.disabled = true;
    }
  }

  release() {
    this.stream?.getTracks().forEach((track) => track.stop());
    this.source?.disconnect();
    this.worklet?.port.close();
    if (this.context.state !== "closed") this.context.close();
  }
}

// ---- buttons ----

async function talk() {
  let settings;
  try {
    settings = readSettings();
  } catch (error) {
    setStatus(`error: ${error.message}`, "error");
    return;
  }
  const apiKey = ui.keyField.hidden ? "" : ui.key.value.trim();
  if (!ui.keyField.hidden && !apiKey) {
    setStatus("error: this server needs an API key", "error");
    ui.key.focus();
    return;
  }
  if (apiKey) sessionStorage.setItem(API_KEY_KEY, apiKey);
  ui.talk.disabled = true;
  ui.stop.disabled = false;
  setStatus("connecting");
  session = new Session(settings, apiKey);
}

async function init() {
  loadSettings();
  for (const field of [ui.prompt, ui.voice, ui.functions]) field.addEventListener("input", saveSettings);
  ui.reset.addEventListener("click", () => {
    localStorage.removeItem(SETTINGS_KEY);
    loadSettings();
  });
  ui.talk.addEventListener("click", talk);
  ui.keyField.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!session) talk();
  });
  ui.stop.addEventListener("click", () => session?.stop());
  ui.dialect.textContent = `${dialect.name} · ${location.host}${dialect.path}`;
  try {
    const info = await (await fetch("/playground.json", { cache: "no-store" })).json();
    if (info.api_key_required) {
      ui.keyField.hidden = false;
      ui.key.value = sessionStorage.getItem(API_KEY_KEY) || "";
    }
  } catch {
    // An older server without the endpoint: no key field, as before.
  }
}

init();
