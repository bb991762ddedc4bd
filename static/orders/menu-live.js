/* Live 86'ing on tills and kiosks: /ws/menu/ tells which items ran out (or came back).
 *
 * The socket carries small JSON events rather than HTML because the same item shows in several places
 * with different markup (till grid, kiosk grid, set-menu choices); every element with
 * data-item-id="<id>" is updated in place. On each (re)connect the server first sends a snapshot of
 * every limited item, so an event missed while the Wi-Fi was down is caught up: the database is the
 * truth, the socket only rings the bell.
 */
(function () {
  "use strict";

  var delay = 500;

  function apply(item) {
    var orderable = item.available && (item.remaining === null || item.remaining === undefined || item.remaining > 0);
    var nodes = document.querySelectorAll('[data-item-id="' + Number(item.item_id) + '"]');
    nodes.forEach(function (node) {
      node.classList.toggle("is-86", !orderable);
      node.setAttribute("aria-disabled", orderable ? "false" : "true");
      if ("disabled" in node && node.tagName !== "DIV") node.disabled = !orderable;
      var badge = node.querySelector("[data-remaining]");
      if (badge) {
        var shown = item.remaining !== null && item.remaining !== undefined;
        badge.hidden = !shown && orderable;
        badge.textContent = !orderable ? (document.body.dataset.soldOutText || "86") : (shown ? String(item.remaining) : "");
      }
    });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/menu/");
    socket.onopen = function () {
      delay = 500;
      document.body.classList.remove("menu-offline");
    };
    socket.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data.type === "menu.item") apply(data);
      else if (data.type === "menu.snapshot") (data.items || []).forEach(apply);
    };
    socket.onclose = function (event) {
      document.body.classList.add("menu-offline");
      if (event.code === 4401 || event.code === 4403) return;  // not a till or kiosk: do not hammer
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", connect);
  else connect();
})();
