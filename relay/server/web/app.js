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
  // The app's LED shades (relay/led.Palette; a test keeps them equal) and
  // its colour for a call whose talkgroup and system have none.
  const LED = {"blue":"#007aff","cyan":"#32ade6","green":"#34c759","magenta":"#ff2d55","orange":"#ff9500","purple":"#af52de","red":"#ff3b30","white":"#ffffff","yellow":"#ffcc00"};
  const LED_DEFAULT = "#007aff";
  let current = null;
  let lastId = 0;
  let retry = 500;

  // Times follow the browser's language: 24-hour or 12-hour as its
  // locale writes them. Calls of another day also show the day.
  const cycle = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle;
  const h24 = cycle === "h23" || cycle === "h24";
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: h24 ? "2-digit" : "numeric", minute: "2-digit", second: "2-digit" });
  const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });

  function label(c) {
    return c.talkgroupLabel || c.talkgroupName || ("TG " + c.talkgroupId);
  }
  function when(c) {
    const d = new Date(c.dateTime * 1000);
    const t = timeFmt.format(d);
    return d.toDateString() === new Date().toDateString() ? t : dayFmt.format(d) + " " + t;
  }
  function ledColor(c) {
    const s = String(c.ledColor || "").trim().toLowerCase();
    const v = LED[s] || s;
    if (/^#[0-9a-f]{6}$/.test(v)) return v;
    if (/^#[0-9a-f]{3}$/.test(v)) return "#" + v[1] + v[1] + v[2] + v[2] + v[3] + v[3];
    return LED_DEFAULT;
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
    $("led").style.background = ledColor(c);
    $("led").classList.add("on");
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

  function badge(li, rule) {
    const b = document.createElement("span");
    b.className = "alert";
    b.textContent = rule;
    li.querySelector(".what").append(b);
    li.classList.add("alerted");
  }

  function row(c) {
    const li = document.createElement("li");
    li.dataset.id = String(c.id);
    const dot = document.createElement("span");
    dot.className = "dot";
    dot.style.background = ledColor(c);
    const time = document.createElement("span");
    time.className = "when";
    time.textContent = when(c);
    const what = document.createElement("span");
    what.className = "what";
    what.textContent = label(c) + " (" + (c.systemLabel || c.systemId) + ")";
    const save = document.createElement("a");
    save.className = "save";
    save.href = c.audioUrl + "?download=1";
    save.textContent = "⤓";
    save.title = "Save this call's audio";
    save.addEventListener("click", (e) => e.stopPropagation());
    li.append(dot, time, what, save);
    for (const a of c.alerts || []) badge(li, a.rule);
    li.addEventListener("click", () => play(c));
    return li;
  }

  function addHistory(c) {
    history.unshift(c);
    $("history").prepend(row(c));
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
    loadRecent();
  }

  function onAlert(a) {
    for (const c of history) {
      if (c.id === a.callId) (c.alerts = c.alerts || []).push(a);
    }
    for (const li of $("history").children) {
      if (li.dataset.id === String(a.callId)) badge(li, a.rule);
    }
  }

  // The recent calls the relay holds, so the list does not start empty;
  // the live feed then continues after the newest of them.
  async function loadRecent() {
    try {
      const r = await fetch("/v1/calls?limit=50", { credentials: "same-origin" });
      if (!r.ok) return;
      const body = await r.json();
      const calls = (body.calls || []).slice().reverse(); // oldest first
      for (const c of calls) {
        if (c.id > lastId) {
          lastId = c.id;
          addHistory(c);
        }
      }
    } catch (_) {
      // The live feed still works; the list fills as calls arrive.
    }
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
      else if (e.type === "call.alert") onAlert(e);
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
  loadRecent().then(connect);
})();
