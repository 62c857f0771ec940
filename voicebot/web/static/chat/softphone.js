// The browser softphone on /chat: the microphone as 16 kHz 16-bit PCM over WS /chat/voice, the
// bot's 8 kHz audio played back in order (cut at once on "clear": barge-in), marks echoed when a
// prompt has been played, and the call's live transcript. Protocol: voicebot/telephony/browser.py.
(function () {
  "use strict";
  var RATE = 16000;
  var CAPTURE_MODULE = document.currentScript.src.replace(/softphone\.js[^/]*$/, "mic-capture.js");
  var callButton = document.getElementById("softphone-call");
  var hangupButton = document.getElementById("softphone-hangup");
  var stateLabel = document.getElementById("softphone-state");
  var transcript = document.getElementById("softphone-transcript");
  if (!callButton) { return; }
  var socket = null, context = null, stream = null, processor = null;
  var playAt = 0, playing = [], marks = [];

  var keys = Array.prototype.slice.call(document.querySelectorAll(".softphone-key"));

  function setState(text) { stateLabel.textContent = text; }

  function keypad(on) { keys.forEach(function (k) { k.disabled = !on; }); }

  keys.forEach(function (k) {
    k.addEventListener("click", function () { send({type: "dtmf", digit: k.getAttribute("data-digit")}); });
  });

  function line(speaker, text) {
    var p = document.createElement("p");
    p.className = speaker;
    p.textContent = (speaker === "bot" ? "Bot: " : speaker === "caller" ? "You: " : "") + text;
    transcript.appendChild(p);
  }

  function play(base64, rate) {
    var bytes = atob(base64), n = bytes.length / 2;
    var buffer = context.createBuffer(1, n, rate), data = buffer.getChannelData(0);
    for (var i = 0; i < n; i++) {
      var v = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
      data[i] = (v >= 32768 ? v - 65536 : v) / 32768;
    }
    var source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    playAt = Math.max(playAt, context.currentTime + 0.05);
    source.start(playAt);
    playAt += buffer.duration;
    playing.push(source);
    source.onended = function () { playing.splice(playing.indexOf(source), 1); };
  }

  function mark(name) {  // echo it once everything queued before it has been played
    var due = Math.max(0, playAt - context.currentTime);
    marks.push(setTimeout(function () { send({type: "mark", name: name}); }, due * 1000));
  }

  function clear() {
    playing.slice().forEach(function (s) { try { s.stop(); } catch (e) {} });
    playing = [];
    marks.forEach(clearTimeout);
    marks = [];
    playAt = 0;
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); }
  }

  function capture(input) {  // the microphone tap (mic-capture.js) sends 20 ms of PCM per message
    var source = context.createMediaStreamSource(input);
    processor = new AudioWorkletNode(context, "mic-capture");
    processor.port.onmessage = function (e) {
      if (socket && socket.readyState === WebSocket.OPEN) { socket.send(e.data); }
    };
    var mute = context.createGain();
    mute.gain.value = 0;
    source.connect(processor);
    processor.connect(mute);
    mute.connect(context.destination);
  }

  function hangUp(note) {
    if (socket) { send({type: "hangup"}); socket.close(); socket = null; }
    if (processor) { processor.port.onmessage = null; processor.disconnect(); processor = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    clear();
    callButton.disabled = false;
    hangupButton.disabled = true;
    keypad(false);
    setState(note || "call ended");
  }

  callButton.addEventListener("click", function () {
    callButton.disabled = true;
    setState("asking for the microphone...");
    context = new AudioContext({sampleRate: RATE});
    if (!context.audioWorklet || !navigator.mediaDevices) {  // both exist only in a secure context
      hangUp("the softphone needs HTTPS (or localhost) for the microphone");
      return;
    }
    var tapLoaded = context.audioWorklet.addModule(CAPTURE_MODULE);
    navigator.mediaDevices.getUserMedia({audio: {channelCount: 1, echoCancellation: true, noiseSuppression: false,
                                          autoGainControl: false}}).then(function (input) {
      stream = input;
      var url = location.origin.replace(/^http/, "ws") + "/chat/voice";
      socket = new WebSocket(url);
      socket.onopen = function () {
        socket.send(JSON.stringify({type: "start", format: "pcm_s16le", sample_rate: context.sampleRate}));
      };
      socket.onmessage = function (e) {
        var m = JSON.parse(e.data);
        if (m.type === "ready") {
          setState("connected");
          document.getElementById("softphone").setAttribute("data-call", m.call_sid);
          hangupButton.disabled = false;
          keypad(true);
          tapLoaded.then(function () { if (stream) { capture(stream); } },
                         function (err) { hangUp("the microphone tap did not load: " + err.message); });
        }
        else if (m.type === "audio") { play(m.pcm, m.sample_rate); }
        else if (m.type === "mark") { mark(m.name); }
        else if (m.type === "clear") { clear(); }
        else if (m.type === "transcript") { line(m.speaker, m.text); }
        else if (m.type === "transfer") { setState("transferred to an agent (" + m.reason + ")"); keypad(false); }
        else if (m.type === "hangup") { setState("the assistant hung up"); }
        else if (m.type === "error") { line("error", m.error); setState("error"); }
      };
      socket.onclose = function () { if (socket) { socket = null; hangUp(stateLabel.textContent); } };
    }).catch(function (err) { hangUp("no microphone: " + err.message); });
  });
  hangupButton.addEventListener("click", function () { hangUp("call ended"); });
})();
