/* Kiosk inactivity: after `data-idle` seconds without a touch, ask "are you still there?"; with no
 * answer within 15 s, forget the basket and go back to the attract screen. The order-number screen
 * goes back by itself after `data-done` seconds. Timers only: the server keeps nothing but the
 * session's basket, which the start screen clears. */
(function () {
  "use strict";

  var PROMPT_SECONDS = 15;
  var config, prompt, idleTimer = null, countdownTimer = null, remaining = 0;

  function startOver() {
    // POST reset (clears the basket), then the start screen; if the network is down, go anyway:
    // the start screen clears the basket too.
    var form = document.createElement("form");
    form.method = "post";
    form.action = config.dataset.resetUrl;
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) {
      var copy = document.createElement("input");
      copy.type = "hidden";
      copy.name = "csrfmiddlewaretoken";
      copy.value = token.value;
      form.appendChild(copy);
      document.body.appendChild(form);
      form.submit();
    } else {
      window.location.href = config.dataset.startUrl;
    }
  }

  function hidePrompt() {
    if (countdownTimer) clearInterval(countdownTimer);
    countdownTimer = null;
    if (prompt) prompt.hidden = true;
  }

  function showPrompt() {
    if (!prompt) { startOver(); return; }
    remaining = PROMPT_SECONDS;
    prompt.querySelector("[data-countdown]").textContent = String(remaining);
    prompt.hidden = false;
    countdownTimer = setInterval(function () {
      remaining -= 1;
      prompt.querySelector("[data-countdown]").textContent = String(Math.max(remaining, 0));
      if (remaining <= 0) { hidePrompt(); startOver(); }
    }, 1000);
  }

  function armIdle() {
    var idle = Number(config.dataset.idle || 0);
    if (idleTimer) clearTimeout(idleTimer);
    if (idle > 0) idleTimer = setTimeout(showPrompt, idle * 1000);
  }

  function activity() {
    if (countdownTimer) return;  // the prompt is up: only its buttons answer it
    armIdle();
  }

  function init() {
    config = document.getElementById("kiosk-config");
    prompt = document.getElementById("still-there");
    if (!config) return;
    ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
      document.addEventListener(name, activity, { passive: true });
    });
    document.addEventListener("click", function (event) {
      if (event.target.closest("[data-still-here]")) { hidePrompt(); armIdle(); }
      if (event.target.closest("[data-start-over]")) { hidePrompt(); startOver(); }
    });
    var done = Number(config.dataset.done || 0);
    if (done > 0) setTimeout(function () { window.location.href = config.dataset.startUrl; }, done * 1000);
    armIdle();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
