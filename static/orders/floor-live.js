/* The live floor plan: /ws/till/floor/ under htmx's ws extension (see floor.html).
 *
 * The socket is a BrigadeLiveSocket (static/brigade/live-socket.js: reconnects after any close with
 * backoff, pings, treats silence as a dead link) that stops on the server's refusals (4401 unpaired,
 * 4403 not a till). While it is not open, body[data-floor-live] is "0" and #floor polls every 4 s;
 * once open, the server sends the whole #floor at once and after every change (swapped in by id).
 */
(function () {
  "use strict";

  if (!window.htmx || !window.BrigadeLiveSocket || !document.getElementById("floor-live")) return;

  function setLive(live) { document.body.dataset.floorLive = live ? "1" : "0"; }

  setLive(false);
  htmx.createWebSocket = function (url) {
    return new window.BrigadeLiveSocket({
      url: function () { return url; },
      fatal: { 4401: "unpaired", 4403: "wrong_role" },  // not a till (any more): the poll and the page say the rest
      pingEvery: 10000,
      staleAfter: 25000,
      state: function (state) { setLive(state === "live"); }
    });
  };
  // The extension would add the page's CSRF header to every message: the socket does not need it.
  document.body.addEventListener("htmx:wsConfigSend", function (e) { e.detail.headers = null; });
})();
