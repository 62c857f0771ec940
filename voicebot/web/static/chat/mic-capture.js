// The softphone's microphone tap, an AudioWorklet processor: it runs on the audio thread and posts
// the samples to the page as 16-bit PCM in 20 ms chunks, which the page sends as they come. The
// ScriptProcessorNode it replaces handed the page 4096-sample buffers (256 ms at 16 kHz) on the
// page's own thread: every barge-in and every end of turn reached the bot up to a quarter second late.
class MicCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.round(sampleRate / 50);
    this.chunk = new Int16Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    var samples = inputs[0] && inputs[0][0];
    if (!samples) { return true; }  // no input connected yet
    for (var i = 0; i < samples.length; i++) {
      var s = Math.max(-1, Math.min(1, samples[i]));
      this.chunk[this.filled++] = s < 0 ? s * 32768 : s * 32767;
      if (this.filled === this.size) {
        this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);  // handed over, not copied
        this.chunk = new Int16Array(this.size);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("mic-capture", MicCapture);
