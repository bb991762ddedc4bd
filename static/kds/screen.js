/* Kitchen screens: the socket under htmx's ws extension, and everything a cook touches.
 *
 * The socket is a BrigadeLiveSocket (static/brigade/live-socket.js: reconnects after any close with
 * backoff, pings, stops on the server's 44xx refusals). Here it resumes with ?since=<last seq seen>,
 * and the "reconnecting" overlay shows whenever it is not live: never a stale screen that looks live.
 * HTML frames go to htmx (out-of-band swaps by id); JSON frames (pong, ack, error) are handled here.
 */
(function () {
  "use strict";

  var board = document.getElementById("kds");
  if (!board || !window.htmx) return;

  var PING_EVERY = 8000;
  var STALE_AFTER = 20000;
  var FATAL = { 4401: "unpaired", 4403: "wrong_role", 4404: "unknown_station" };
  var overlay = document.getElementById("kds-overlay");
  var statusEl = document.getElementById("kds-status");
  var strings = (document.getElementById("kds-strings") || board).dataset;
  var serverOffset = 0; // server clock minus this screen's clock, in ms

  function lastSeq() { return parseInt(board.dataset.seq || "0", 10) || 0; }

  // --- Connection state --------------------------------------------------------------------------

  var overlayTimer = null;
  function setState(state, reason) {
    board.dataset.state = state;
    if (statusEl) {
      statusEl.dataset.state = state;
      var text = statusEl.querySelector(".kds-status-text");
      if (text) text.textContent = state === "live" ? strings.live : strings.offline;
    }
    if (!overlay) return;
    var title = overlay.querySelector(".kds-overlay-title");
    clearTimeout(overlayTimer);
    if (state === "live") {
      overlay.hidden = true;
    } else if (state === "fatal") {
      title.textContent = title.dataset[reason] || reason;
      overlay.hidden = false;
    } else {
      title.textContent = title.dataset[state] || title.dataset.reconnecting;
      // A first connection usually takes milliseconds: do not flash the overlay for it.
      overlayTimer = setTimeout(function () { overlay.hidden = false; }, state === "connecting" ? 1500 : 0);
    }
  }

  // The socket itself (reconnecting, pinging, stopping on refusals) is static/brigade/live-socket.js.
  function kitchenSocket(url) {
    var socket = new window.BrigadeLiveSocket({
      url: function () { return url + (url.indexOf("?") >= 0 ? "&" : "?") + "since=" + lastSeq(); },
      fatal: FATAL,
      pingEvery: PING_EVERY,
      staleAfter: STALE_AFTER,
      state: function (state, reason) {
        setState(state, reason);
        // Pairing or station changed on the server: the page itself will say what to do.
        if (state === "fatal") setTimeout(function () { location.reload(); }, 30000);
      },
      html: preparePlaceholders,
      control: control
    });
    window.kdsSocket = socket;
    return socket;
  }

  // A card the screen does not have yet (new, recalled, or missed) arrives as an out-of-band swap
  // "by id": give htmx an empty element with that id, in the list named by data-kds-upsert.
  function preparePlaceholders(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    Array.prototype.forEach.call(tpl.content.children, function (el) {
      var list = el.getAttribute("data-kds-upsert");
      if (list && el.id && !document.getElementById(el.id)) {
        var container = document.getElementById(list);
        if (container) {
          var placeholder = document.createElement("div");
          placeholder.id = el.id;
          container.appendChild(placeholder);
        }
      }
    });
  }

  function control(message) {
    if (message.type === "error") toast(message.detail || message.error);
  }

  htmx.createWebSocket = kitchenSocket;

  // The extension would add the page's CSRF header to every message: the socket does not need it.
  document.body.addEventListener("htmx:wsConfigSend", function (e) { e.detail.headers = null; });

  // --- After every frame ---------------------------------------------------------------------------

  board.addEventListener("htmx:wsAfterMessage", afterFrame);

  function afterFrame() {
    var meta = document.getElementById("kds-meta");
    if (meta) {
      if (meta.dataset.seq) board.dataset.seq = meta.dataset.seq;
      if (meta.dataset.now) serverOffset = parseInt(meta.dataset.now, 10) - Date.now();
      if (meta.dataset.beep === "1") { meta.dataset.beep = "0"; beep(); }
    }
    arrange();
    allDay();
    tick();
  }

  // The all-day panel: how many of each dish are still to make, added up from the cards on the
  // screen (held courses, done and voided items excluded), so it always matches what is shown.
  function allDay() {
    var table = document.querySelector("#kds-allday table");
    if (!table) return;
    var counts = {};
    cards().forEach(function (card) {
      if (card.dataset.status === "held") return;
      card.querySelectorAll(".ticket-items > li.item").forEach(function (li) {
        if (li.classList.contains("item-done") || li.classList.contains("item-voided")) return;
        var name = li.dataset.name;
        counts[name] = (counts[name] || 0) + (parseInt(li.dataset.qty, 10) || 0);
      });
    });
    var rows = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || a.localeCompare(b); });
    table.replaceChildren.apply(table, rows.map(function (name) {
      var tr = document.createElement("tr"), qty = document.createElement("td"), label = document.createElement("td");
      qty.className = "qty";
      qty.textContent = counts[name];
      label.textContent = name;
      tr.append(qty, label);
      return tr;
    }));
  }

  // --- Cards: order, pages, selection, timers ------------------------------------------------------

  var page = 0;
  var selected = null; // ticket id

  function cards() { return Array.prototype.slice.call(document.querySelectorAll("#tickets > .ticket")); }

  function sortKey(card) {
    var held = card.dataset.status === "held" ? 1 : 0;
    var rush = card.dataset.rush === "1" ? 0 : 1;
    var sent = parseInt(card.dataset.sent || "0", 10) || 0;
    return [held, rush, sent, parseInt(card.dataset.ticket, 10) || 0];
  }

  function compare(a, b) {
    var ka = sortKey(a), kb = sortKey(b);
    for (var i = 0; i < ka.length; i++) { if (ka[i] !== kb[i]) return ka[i] - kb[i]; }
    return 0;
  }

  // Pages follow the layout: a page holds the cards that fit on the screen, whatever their height.
  // Laying out page N needs pages 0…N-1, so they are measured in turn (a few cards, a few pages).
  function pageStarts(sorted, container) {
    var starts = [0];
    var limit = container.getBoundingClientRect().bottom;
    while (starts.length < 50) {
      var start = starts[starts.length - 1];
      sorted.forEach(function (card, i) { card.hidden = i < start; });
      var next = -1;
      for (var i = start + 1; i < sorted.length; i++) {
        if (sorted[i].getBoundingClientRect().bottom > limit + 1) { next = i; break; }
      }
      if (next < 0) break;
      starts.push(next);
    }
    return starts;
  }

  function arrange() {
    var container = document.getElementById("tickets");
    if (!container) return;
    // Placeholders htmx did not fill (a frame that failed) must not linger.
    Array.prototype.forEach.call(container.querySelectorAll(":scope > div:not(.ticket)"), function (el) {
      if (!el.children.length) el.remove();
    });
    var list = cards();
    var sorted = list.slice().sort(compare);
    var same = sorted.every(function (card, i) { return card === list[i]; });
    if (!same) sorted.forEach(function (card) { container.appendChild(card); });
    var empty = container.querySelector(".tickets-empty");
    if (empty) { empty.hidden = sorted.length > 0; container.appendChild(empty); }
    var starts = pageStarts(sorted, container);
    page = Math.max(0, Math.min(page, starts.length - 1));
    var from = starts[page], to = page + 1 < starts.length ? starts[page + 1] : sorted.length;
    sorted.forEach(function (card, i) {
      card.hidden = i < from || i >= to;
      card.dataset.position = i >= from && i < to ? String(i - from + 1) : "";
    });
    var pageEl = document.getElementById("kds-page");
    if (pageEl) {
      var more = sorted.length - to;
      pageEl.textContent = starts.length > 1
        ? pageEl.dataset.label + " " + (page + 1) + "/" + starts.length + (more > 0 ? " · +" + more + " " + pageEl.dataset.more : "")
        : "";
    }
    var visible = sorted.slice(from, to);
    if (!visible.some(function (card) { return card.dataset.ticket === selected; })) {
      selected = visible.length ? visible[0].dataset.ticket : null;
    }
    list.forEach(function (card) { card.classList.toggle("selected", card.dataset.ticket === selected); });
  }

  function visibleCards() { return cards().filter(function (card) { return !card.hidden; }).sort(compare); }

  function select(card) {
    if (!card) return;
    selected = card.dataset.ticket;
    cards().forEach(function (c) { c.classList.toggle("selected", c === card); });
  }

  function move(step) {
    var list = visibleCards();
    if (!list.length) return;
    var index = list.findIndex(function (card) { return card.dataset.ticket === selected; });
    select(list[Math.max(0, Math.min(list.length - 1, index + step))]);
  }

  function turnPage(step) {
    page = Math.max(0, page + step);
    selected = null;
    arrange();
  }

  function submit(form) {
    if (form && board.dataset.state === "live") form.requestSubmit();
  }

  function selectedCard() {
    return selected ? document.getElementById("ticket-" + selected) : null;
  }

  var amber = (parseInt(board.dataset.amber, 10) || 5) * 60;
  var red = (parseInt(board.dataset.red, 10) || 8) * 60;

  function tick() {
    var now = Date.now() + serverOffset;
    cards().forEach(function (card) {
      var sent = parseInt(card.dataset.sent || "", 10);
      var timer = card.querySelector(".ticket-timer");
      if (!sent || !timer) return;
      var seconds = Math.max(0, Math.floor((now - sent) / 1000));
      timer.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
      var colour = seconds >= red ? "red" : seconds >= amber ? "amber" : "green";
      card.classList.remove("timer-green", "timer-amber", "timer-red");
      card.classList.add("timer-" + colour);
    });
    var clock = document.getElementById("kds-clock");
    if (clock) clock.textContent = restaurantTime(clock, now);
  }

  // The clock shows the restaurant's time zone and the page's language, not the screen's own settings.
  function restaurantTime(clock, now) {
    var options = { hour: "2-digit", minute: "2-digit" };
    if (clock.dataset.timeZone) options.timeZone = clock.dataset.timeZone;
    try {
      return new Date(now).toLocaleTimeString(document.documentElement.lang || [], options);
    } catch (e) {  // a zone name this browser does not know: its own zone rather than no clock
      delete options.timeZone;
      return new Date(now).toLocaleTimeString([], options);
    }
  }

  // --- Bump bar and touch --------------------------------------------------------------------------

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.altKey || e.metaKey || board.dataset.kind === "ready") return;
    var key = e.key;
    var handled = true;
    if (key === "ArrowRight" || key === "ArrowDown") move(1);
    else if (key === "ArrowLeft" || key === "ArrowUp") move(-1);
    else if (/^[1-9]$/.test(key)) select(visibleCards()[parseInt(key, 10) - 1]);
    else if (key === "Enter" || key === " ") {
      var card = selectedCard();
      submit(card && card.querySelector("form.bump"));
    } else if (key === "s" || key === "S") {
      var started = selectedCard();
      var form = started && started.querySelector('form input[name="to"][value="in_progress"]');
      submit(form && form.form);
    } else if (key === "r" || key === "R") submit(document.getElementById("recall-last"));
    else if (key === "PageDown" || key === "+") turnPage(1);
    else if (key === "PageUp" || key === "-") turnPage(-1);
    else if (key === "m" || key === "M") toggleSound();
    else if (key === "f" || key === "F") fullScreen();
    else handled = false;
    if (handled) e.preventDefault();
  });

  board.addEventListener("click", function (e) {
    var card = e.target.closest && e.target.closest(".ticket");
    if (card) select(card);
    // A touched button keeps the focus, and Enter/Space would then press it as well as bump.
    var button = e.target.closest && e.target.closest("button");
    if (button) button.blur();
  });

  // --- Sound, wake lock, full screen ---------------------------------------------------------------

  var audio = null;
  var soundKey = "kds-sound-" + (board.dataset.station || board.dataset.kind);

  function soundOn() {
    var saved = localStorage.getItem(soundKey);
    return saved === null ? board.dataset.sound === "1" : saved === "1";
  }

  function showSound() {
    var button = document.getElementById("kds-sound");
    if (!button) return;
    button.textContent = soundOn() ? button.dataset.on : button.dataset.off;
    button.setAttribute("aria-pressed", soundOn() ? "true" : "false");
  }

  function toggleSound() {
    localStorage.setItem(soundKey, soundOn() ? "0" : "1");
    showSound();
    if (soundOn()) beep();
  }

  function beep() {
    if (!soundOn()) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
      [0, 0.18].forEach(function (at) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = 1046;
        gain.gain.value = 0.15;
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + at);
        osc.stop(audio.currentTime + at + 0.12);
      });
      board.dataset.beeps = String((parseInt(board.dataset.beeps || "0", 10) || 0) + 1);
    } catch (err) { /* no audio device: the screen still works */ }
  }

  // Browsers allow sound only after a first touch: unlock it then.
  document.addEventListener("pointerdown", function () {
    if (audio && audio.state === "suspended") audio.resume();
  }, { once: true });

  var wakeLock = null;
  function keepAwake() {
    if (!("wakeLock" in navigator) || document.visibilityState !== "visible") return;
    navigator.wakeLock.request("screen").then(function (lock) { wakeLock = lock; }, function () { /* not allowed */ });
  }
  document.addEventListener("visibilitychange", keepAwake);

  function fullScreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(function () {});
  }

  function toast(text) {
    var box = document.getElementById("toasts");
    if (!box || !text) return;
    var el = document.createElement("div");
    el.className = "banner banner-warn kds-toast";
    el.textContent = text;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 4000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var sound = document.getElementById("kds-sound");
    if (sound) sound.addEventListener("click", toggleSound);
    var full = document.getElementById("kds-fullscreen");
    if (full) full.addEventListener("click", fullScreen);
    if (board.dataset.now) serverOffset = parseInt(board.dataset.now, 10) - Date.now();
    showSound();
    keepAwake();
    arrange();
    tick();
    setInterval(tick, 1000);
    window.addEventListener("resize", arrange);
  });

  document.body.addEventListener("kds:error", function (e) { toast(e.detail && e.detail.detail); });
})();
