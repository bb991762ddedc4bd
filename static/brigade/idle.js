/* Shared screens: log the person out after the idle limit (data-idle-logout on <body>, in seconds),
 * so whoever walks up to the till next must type their own PIN. Any touch, click or key restarts the
 * clock. The server enforces the same limit (orders.access.pin_session_expired); this only makes the
 * screen return to the PIN pad on its own instead of at the next tap. */
(function () {
  "use strict";
  var seconds = parseInt(document.body.dataset.idleLogout || "0", 10);
  if (!seconds) return;
  var timer = null;
  function logOut() {
    var form = document.getElementById("logout-form");
    if (!form) return;
    // Actions still waiting for the network (orders/till.js) would be lost with the page: wait.
    if (typeof window.brigadePending === "function" && window.brigadePending() > 0) { restart(); return; }
    var flag = document.createElement("input");  // tells the server to say why on the PIN screen
    flag.type = "hidden"; flag.name = "idle"; flag.value = "1";
    form.appendChild(flag);
    form.submit();
  }
  function restart() {
    clearTimeout(timer);
    timer = setTimeout(logOut, seconds * 1000);
  }
  ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, restart, { passive: true });
  });
  restart();
})();
