// AudioWorklet processor: the microphone at the context's rate → 16 kHz linear16 frames, posted to the page.
//
// Resampling is a windowed-sinc low-pass evaluated at each output instant (any input rate, no aliasing of the
// 8 kHz+ band into speech), streamed across the 128-sample render quanta.

const HALF_TAPS = 16; // input samples on each side of an output instant

class MicrophoneProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, frameSamples } = options.processorOptions;
    this.step = sampleRate / targetRate; // input samples per output sample
    this.cutoff = 0.45 * Math.min(1, 1 / this.step); // cycles per input sample, a little under the output Nyquist
    this.history = new Float32Array(0);
    this.position = HALF_TAPS; // next output instant, in input samples from history[0]
    this.frame = new Int16Array(frameSamples);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    const joined = new Float32Array(this.history.length + channel.length);
    joined.set(this.history);
    joined.set(channel, this.history.length);
    let position = this.position;
    while (position + HALF_TAPS < joined.length) {
      this.emit(this.step === 1 ? joined[position] : this.sampleAt(joined, position));
      position += this.step;
    }
    const consumed = Math.max(0, Math.floor(position) - HALF_TAPS);
    this.history = joined.slice(consumed);
    this.position = position - consumed;
    return true;
  }

  sampleAt(input, position) {
    const centre = Math.floor(position);
    let sum = 0;
    let weights = 0;
    for (let k = centre - HALF_TAPS + 1; k <= centre + HALF_TAPS; k++) {
      const x = position - k;
      const window = 0.5 + 0.5 * Math.cos((Math.PI * x) / (HALF_TAPS + 1)); // Hann
      const arg = 2 * this.cutoff * x;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      const weight = sinc * window;
      sum += input[k] * weight;
      weights += weight;
    }
    return sum / weights;
  }

  emit(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled++] = clipped < 0 ? clipped * 32768 : clipped * 32767;
    if (this.filled === this.frame.length) {
      const samples = this.frame.length;
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]); // transferred: the array is now empty
      this.frame = new Int16Array(samples);
      this.filled = 0;
    }
  }
}

registerProcessor("voicewire-microphone", MicrophoneProcessor);
