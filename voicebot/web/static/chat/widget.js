// voicebot's embeddable chat widget: <script src="https://HOST/static/chat/widget.js"></script>.
// Talks to the API on the host it was loaded from (POST /api/chat/sessions, .../messages), listens
// on the session's WebSocket for pushed lines (typing, an agent's replies) and reconnects after a
// drop, asking for what it missed (?after=last id). The session id survives a reload (sessionStorage).
(function () {
  "use strict";
  var script = document.currentScript;
  var origin = new URL(script.src, location.href).origin;
  var api = origin + "/api/chat/sessions";
  var key = "voicebot-chat:" + origin;
  var sessionId = null, last = 0, socket = null, shown = {}, retry = 500;

  var box = document.createElement("section");
  box.id = "voicebot-chat";
  box.setAttribute("aria-label", "Chat with us");
  box.style.cssText = "position:fixed;right:1rem;bottom:1rem;width:20rem;max-height:28rem;display:flex;" +
    "flex-direction:column;border:1px solid #888;border-radius:.5rem;background:#fff;font:14px sans-serif;z-index:9999";
  box.innerHTML = '<header style="padding:.4rem .6rem;background:#024;color:#fff">Chat with us</header>' +
    '<div class="vb-lines" aria-live="polite" style="flex:1;overflow-y:auto;padding:.4rem"></div>' +
    '<div class="vb-typing" style="padding:0 .6rem;color:#666;min-height:1.2em"></div>' +
    '<div class="vb-replies" style="padding:.2rem .4rem"></div>' +
    '<form class="vb-form" style="display:flex;padding:.4rem;gap:.3rem">' +
    '<input class="vb-text" aria-label="Your message" maxlength="1000" style="flex:1">' +
    '<label style="cursor:pointer" title="Attach a picture">&#128206;<input class="vb-file" type="file" ' +
    'accept="image/png,image/jpeg,image/gif,image/webp" style="display:none"></label>' +
    '<button type="submit">Send</button></form>';
  document.body.appendChild(box);
  var lines = box.querySelector(".vb-lines"), replies = box.querySelector(".vb-replies");
  var typing = box.querySelector(".vb-typing");

  function show(m) {
    if (m.id && shown[m.id]) { return; }
    if (m.id) { shown[m.id] = true; last = Math.max(last, m.id); }
    var p = document.createElement("p");
    p.className = "vb-" + m.speaker;
    p.style.margin = ".25rem 0";
    p.style.textAlign = m.speaker === "customer" ? "right" : "left";
    p.textContent = (m.speaker === "agent" ? "Agent: " : "") + m.text;
    (m.links || []).forEach(function (href) {
      var a = document.createElement("a");
      a.href = href; a.textContent = " " + href; a.target = "_blank"; a.rel = "noopener";
      p.appendChild(a);
    });
    lines.appendChild(p);
    lines.scrollTop = lines.scrollHeight;
    if (m.speaker !== "customer") { offer(m.quick_replies || []); }
  }

  function offer(choices) {
    replies.innerHTML = "";
    choices.forEach(function (label) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "vb-choice"; b.textContent = label;
      b.style.margin = ".1rem";
      b.addEventListener("click", function () { send(label); });
      replies.appendChild(b);
    });
  }

  function note(text) { show({speaker: "system", text: text}); }

  function send(text) {
    offer([]);
    return fetch(api + "/" + sessionId + "/messages", {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({text: text})})
      .then(function (r) { return r.json().then(function (body) { return [r.status, body]; }); })
      .then(function (res) {
        var body = res[1];
        if (body.received) { show(body.received); }
        (body.messages || []).forEach(show);
        if (res[0] >= 400 && !body.messages) { note(body.error); }
      }).catch(function () { note("Not sent: the connection dropped. Please try again."); });
  }

  function connect() {
    var url = api.replace(/^http/, "ws") + "/" + sessionId + "/socket?after=" + last;
    socket = new WebSocket(url);
    socket.onopen = function () { retry = 500; box.setAttribute("data-connected", "yes"); };
    socket.onmessage = function (e) {
      var event = JSON.parse(e.data);
      if (event.type === "message") { show(event.message); }
      else if (event.type === "typing") { typing.textContent = event.on ? "typing..." : ""; }
      else if (event.type === "status") { box.setAttribute("data-status", event.status); }
    };
    socket.onclose = function () {
      box.setAttribute("data-connected", "no");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function start() {
    var saved = sessionStorage.getItem(key);
    if (saved) {
      sessionId = saved;
      return fetch(api + "/" + saved + "/messages").then(function (r) {
        if (!r.ok) { sessionStorage.removeItem(key); return start(); }
        return r.json().then(function (body) { body.messages.forEach(show); connect(); });
      });
    }
    return fetch(api, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        sessionId = body.id;
        sessionStorage.setItem(key, sessionId);
        box.setAttribute("data-session", sessionId);
        body.messages.forEach(show);
        connect();
      });
  }

  box.querySelector(".vb-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = box.querySelector(".vb-text");
    var text = input.value.trim();
    if (text) { input.value = ""; send(text); }
  });
  box.querySelector(".vb-file").addEventListener("change", function (e) {
    var file = e.target.files[0];
    if (!file) { return; }
    fetch(api + "/" + sessionId + "/attachments", {method: "POST", headers: {"Content-Type": file.type}, body: file})
      .then(function (r) { return r.json(); })
      .then(function (body) { if (body.received) { show(body.received); } else { note(body.error); } });
  });
  box.voicebot = {drop: function () { if (socket) { socket.close(); } }};
  start();
})();
