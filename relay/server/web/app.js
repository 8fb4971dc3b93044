// Earshot web player: follows the relay's live feed and plays each call with
// a plain <audio src>. The page is authenticated by the relay's HttpOnly
// session cookie, so no token ever appears in this page or its URLs.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const player = $("player");
  const queue = [];
  const history = [];
  const MAX_HISTORY = 200;
  let current = null;
  let lastId = 0;
  let retry = 500;

  function label(c) {
    return c.talkgroupLabel || c.talkgroupName || ("TG " + c.talkgroupId);
  }
  function when(c) {
    return new Date(c.dateTime * 1000).toLocaleTimeString();
  }
  function setState(text, cls) {
    const s = $("state");
    s.textContent = text;
    s.className = "state " + (cls || "");
  }
  function showQueue() { $("queue").textContent = "queue " + queue.length; }

  function show(c) {
    $("now-tg").textContent = label(c);
    const parts = [c.systemLabel || ("System " + c.systemId), when(c)];
    if (c.frequency) parts.push((c.frequency / 1e6).toFixed(4) + " MHz");
    if (c.talkerAlias) parts.push(c.talkerAlias);
    $("now-meta").textContent = parts.join(" · ");
    $("now-transcript").textContent = c.transcript || "";
    $("led").style.background = c.ledColor || "";
    for (const li of $("history").children) {
      li.classList.toggle("playing", li.dataset.id === String(c.id));
    }
  }

  function play(c) {
    current = c;
    show(c);
    player.src = c.audioUrl;
    const p = player.play();
    if (p && p.catch) {
      p.catch(() => { $("hint").hidden = false; });
    }
    showQueue();
  }

  function next() {
    const c = queue.shift();
    if (c) play(c); else { current = null; showQueue(); }
  }

  function addHistory(c) {
    history.unshift(c);
    const li = document.createElement("li");
    li.dataset.id = String(c.id);
    li.textContent = when(c) + " — " + label(c) + " (" + (c.systemLabel || c.systemId) + ")";
    li.addEventListener("click", () => play(c));
    $("history").prepend(li);
    while (history.length > MAX_HISTORY) {
      history.pop();
      $("history").lastElementChild.remove();
    }
  }

  function onCall(c) {
    if (c.id <= lastId) return;
    lastId = c.id;
    addHistory(c);
    // A call from the server's history (after a connect or a drop) is not
    // live: it goes to the history only.
    if (!$("live").checked || c.backfill) return;
    queue.push(c);
    if (!current || player.ended || (player.paused && player.currentTime === 0 && !player.src)) next();
    showQueue();
  }

  function onTranscript(t) {
    for (const c of history) {
      if (c.id === t.callId) c.transcript = t.text;
    }
    if (current && current.id === t.callId) $("now-transcript").textContent = t.text;
  }

  // reset: another account (or a server whose call ids started again)
  // is behind the relay now; nothing held so far belongs to it.
  function onReset() {
    queue.length = 0;
    history.length = 0;
    $("history").replaceChildren();
    lastId = 0;
    current = null;
    player.pause();
    player.removeAttribute("src");
    showQueue();
  }

  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
      "/v1/live" + (lastId ? "?after=" + lastId : "");
    const ws = new WebSocket(url);
    ws.onopen = () => { retry = 500; };
    ws.onmessage = (m) => {
      let e;
      try { e = JSON.parse(m.data); } catch (_) { return; }
      if (e.type === "call.new" && e.call) onCall(e.call);
      else if (e.type === "call.transcript") onTranscript(e);
      else if (e.type === "reset") onReset();
      else if (e.type === "status" && e.status) {
        const st = e.status.state;
        setState(st === "connected" ? "live" : st.replace("_", " "), st === "connected" ? "connected" : "problem");
      }
    };
    ws.onclose = (ev) => {
      if (ev.code === 4401) {
        setState("signed out: open a new login link", "problem");
        return;
      }
      setState("reconnecting…", "problem");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  player.addEventListener("ended", next);
  player.addEventListener("error", next);
  player.addEventListener("play", () => { $("hint").hidden = true; });
  $("skip").addEventListener("click", next);
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT") return;
    if (e.key === " ") { e.preventDefault(); player.paused ? player.play() : player.pause(); }
    if (e.key === "ArrowRight") next();
    if (e.key === "l" || e.key === "L") $("live").click();
  });
  connect();
})();
