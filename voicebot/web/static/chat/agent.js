// The agent's side of a handed-over conversation: shows new lines (polled), posts replies.
(function () {
  "use strict";
  var id = document.body.getAttribute("data-conversation");
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var base = "/agent/chats/" + encodeURIComponent(id);
  var lines = document.getElementById("lines");
  var last = 0;

  function show(m) {
    if (m.id && m.id <= last) { return; }
    last = m.id || last;
    var p = document.createElement("p");
    p.className = m.speaker;
    p.setAttribute("data-id", m.id);
    p.textContent = m.speaker + ": " + m.text;
    if (m.attachment) {
      var img = document.createElement("img");
      img.src = base + "/attachments/" + m.attachment;
      img.alt = "picture from the customer";
      p.appendChild(img);
    }
    lines.appendChild(p);
  }

  function poll() {
    fetch(base + "/messages?after=" + last, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        body.messages.forEach(show);
        document.getElementById("status").textContent = body.status;
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 700); });
  }

  function post(path, body) {
    return fetch(base + path, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token}, body: JSON.stringify(body)});
  }

  document.getElementById("reply").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = document.getElementById("reply-text");
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    post("/messages", {text: text}).then(function (r) { return r.json(); }).then(function (body) {
      if (body.sent) { show(body.sent); }
      else { document.getElementById("status").textContent = body.error; }
    });
  });
  document.getElementById("close").addEventListener("submit", function (e) {
    e.preventDefault();
    post("/close", {}).then(function () { document.getElementById("status").textContent = "closed"; });
  });
  poll();
})();
