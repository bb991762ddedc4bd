/* Brigade till and kiosk: every state-changing htmx request survives a Wi-Fi blip.
 *
 * Each user action (a POST from htmx) gets a client-made idempotency key, sent as the
 * "Idempotency-Key" header. When the request does not reach the server or its answer does not come back
 * (network error, timeout, 502/503/504 from something in between), the action is queued with its key,
 * the page shows "reconnecting…" and the action is resent with the SAME key, with backoff, until the
 * server answers. The server dedupes on the key, so a request that did arrive the first time is not
 * applied twice: never a double order, never a lost one.
 *
 * While actions are queued, new actions join the end of the queue instead of racing ahead of them
 * ("add steak" must reach the server before "send to kitchen").
 *
 * A definitive answer (2xx, or a 4xx such as "this item is 86'd") ends the action: it is not retried.
 */
(function () {
  "use strict";

  var RETRYABLE = { 0: true, 502: true, 503: true, 504: true };
  var BACKOFF_MS = [400, 800, 1600, 3200, 5000];  // then every 5 s, for as long as it takes
  var queue = [];        // actions waiting for the network, oldest first
  var inflight = {};     // key -> action, for requests on the wire
  var attempt = 0;
  var timer = null;

  function newKey() {
    // crypto.randomUUID needs a secure context; tablets reach the server over plain http on the LAN.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function formValues(formData) {
    // Keep repeated names (several modifiers) as arrays: htmx.ajax appends each value.
    var values = {};
    formData.forEach(function (value, name) {
      if (!(name in values)) values[name] = value;
      else if (Array.isArray(values[name])) values[name].push(value);
      else values[name] = [values[name], value];
    });
    return values;
  }

  function closestAttr(elt, name) {
    var node = elt && elt.closest ? elt.closest("[" + name + "]") : null;
    return node ? node.getAttribute(name) : null;
  }

  function targetSelector(target) {
    if (target && target.id) return "#" + target.id;
    return null;
  }

  function setStatus() {
    var banner = document.getElementById("net-status");
    var waiting = queue.length > 0;
    document.body.classList.toggle("is-reconnecting", waiting);
    if (banner) {
      banner.hidden = !waiting;
      var count = banner.querySelector("[data-count]");
      if (count) count.textContent = String(queue.length);
    }
  }

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var div = document.createElement("div");
    div.className = "toast toast-" + (kind || "bad");
    div.setAttribute("role", "status");
    div.textContent = message;  // text, never HTML
    box.appendChild(div);
    setTimeout(function () { div.remove(); }, 6000);
  }
  window.brigadeToast = toast;

  function scheduleReplay() {
    if (timer || queue.length === 0) return;
    var delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    timer = setTimeout(function () { timer = null; replayHead(); }, delay);
  }

  function replayHead() {
    var action = queue[0];
    if (!action || inflight[action.key]) return;
    inflight[action.key] = action;
    // Replayed from the body with what was captured when the user acted (values, target, swap,
    // select): the element that made it may have been swapped out since, and its own request
    // queue (hx-sync) must not hold the replay back.
    var target = action.target && document.querySelector(action.target) ? action.target : null;
    var context = {
      source: document.body,
      values: action.values,
      headers: { "Idempotency-Key": action.key },
      target: target || undefined,
      swap: target ? (action.swap || undefined) : "none",
      select: action.select || undefined
    };
    function settled() {
      // The request never went out: try again later, same key.
      if (inflight[action.key]) {
        delete inflight[action.key];
        scheduleReplay();
      }
    }
    htmx.ajax(action.verb, action.path, context).then(settled, settled);
  }

  function isQueued(key) {
    for (var i = 0; i < queue.length; i++) if (queue[i].key === key) return true;
    return false;
  }

  var seq = 0;

  function enqueue(action) {
    // Oldest action first, whatever order their failures were reported in.
    if (isQueued(action.key)) return;
    var i = 0;
    while (i < queue.length && queue[i].seq < action.seq) i++;
    queue.splice(i, 0, action);
  }

  function watch(elt, key) {
    // Listen on the element itself: if it left the page meanwhile, the event no longer bubbles.
    function handler(event) {
      var headers = event.detail.requestConfig && event.detail.requestConfig.headers;
      if (!headers || headers["Idempotency-Key"] !== key) return;
      elt.removeEventListener("htmx:afterRequest", handler);
      finished(key, event.detail);
    }
    elt.addEventListener("htmx:afterRequest", handler);
  }

  function finished(key, detail) {
    var action = inflight[key];
    if (!action) return;
    delete inflight[key];
    var status = detail.xhr ? detail.xhr.status : 0;
    if (RETRYABLE[status]) {
      enqueue(action);
      setStatus();
      scheduleReplay();
      return;
    }
    // A definitive answer: the action is done (applied, or refused with a message).
    queue = queue.filter(function (a) { return a.key !== key; });
    attempt = 0;
    setStatus();
    if (queue.length > 0) replayHead();
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var d = event.detail;
    if (d.verb === "get") return;
    var key = d.headers["Idempotency-Key"];
    if (key) {  // a replay: it keeps the key it was born with
      watch(d.elt, key);
      return;
    }
    var action = {
      seq: ++seq,
      key: newKey(),
      verb: d.verb,
      path: d.path,
      values: formValues(d.formData),
      target: targetSelector(d.target),
      swap: closestAttr(d.elt, "hx-swap"),
      select: closestAttr(d.elt, "hx-select")
    };
    if (queue.length > 0) {
      // Reconnecting: wait behind the actions already queued, in the order the user made them.
      event.preventDefault();
      enqueue(action);
      setStatus();
      return;
    }
    d.headers["Idempotency-Key"] = action.key;
    inflight[action.key] = action;
    watch(d.elt, action.key);
  });

  // The brief's three failure signals all land in afterRequest above (status 0 or 5xx); these
  // handlers only tell the user what is going on.
  document.addEventListener("htmx:sendError", function () { setStatus(); });
  document.addEventListener("htmx:timeout", function () { setStatus(); });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || RETRYABLE[xhr.status]) return;
    // A refusal the server did not render into the page (403, 404, 400…): say so briefly.
    var message = xhr.getResponseHeader("X-Brigade-Message");
    var i18n = document.getElementById("i18n");
    var text = (i18n && i18n.dataset.error) || "Error";
    toast(message ? decodeURIComponent(message) : text + " (" + xhr.status + ")");
  });

  // Server messages sent with the HX-Trigger header ("Sent to the kitchen.").
  document.addEventListener("brigade:toast", function (event) {
    toast(event.detail && event.detail.message, event.detail && event.detail.kind);
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : null;
    if (!target) return;
    // Category tabs on the order screen: every category's items are on the page; show one.
    var tab = target.closest("[data-show-cat]");
    if (tab) {
      var id = tab.getAttribute("data-show-cat");
      document.querySelectorAll("[data-show-cat]").forEach(function (b) { b.classList.toggle("active", b === tab); });
      document.querySelectorAll(".items[data-cat], .kiosk-items[data-cat]").forEach(function (box) {
        box.hidden = box.getAttribute("data-cat") !== id;
      });
    }
    // Quantity steppers: − / + next to a number input.
    var step = target.closest("[data-step]");
    if (step) {
      var input = step.parentElement.querySelector("input[type=number]");
      if (input) {
        var min = Number(input.min || 1), max = Number(input.max || 99);
        var value = Math.min(max, Math.max(min, (Number(input.value) || 0) + Number(step.getAttribute("data-step"))));
        input.value = String(value);
      }
    }
    // Quick-fill buttons (cash tendered: 10, 20, 50…).
    var fill = target.closest("[data-fill]");
    if (fill) {
      var field = document.querySelector(fill.getAttribute("data-fill"));
      if (field) field.value = fill.getAttribute("data-value");
    }
  });

  // "Up to 3 extras": a fourth tick is undone at once (the server checks it too).
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.type !== "checkbox" || !box.checked) return;
    var group = box.closest("fieldset[data-max]");
    if (!group) return;
    var max = Number(group.getAttribute("data-max"));
    if (group.querySelectorAll("input[type=checkbox]:checked").length > max) box.checked = false;
  });

  // Modals: a tap on the backdrop or Escape closes them (the server renders them into #modal).
  document.addEventListener("click", function (event) {
    if (event.target.classList && event.target.classList.contains("modal-backdrop")) {
      event.target.remove();
    }
    var closer = event.target.closest && event.target.closest("[data-close-modal]");
    if (closer) {
      var backdrop = closer.closest(".modal-backdrop");
      if (backdrop) backdrop.remove();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var backdrop = document.querySelector(".modal-backdrop");
      if (backdrop) backdrop.remove();
    }
  });

  window.addEventListener("online", function () { attempt = 0; if (timer) { clearTimeout(timer); timer = null; } replayHead(); });

  // For tests and the status banner.
  window.brigadePending = function () { return queue.length + Object.keys(inflight).length; };
})();
