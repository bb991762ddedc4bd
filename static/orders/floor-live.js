/* The live floor plan: /ws/till/floor/ under htmx's ws extension (see floor.html).
 *
 * htmx's ws extension reconnects only after abnormal closes, not after a clean one (a server
 * restart), so htmx.createWebSocket returns a FloorSocket that looks like one WebSocket to htmx but
 * reconnects after any close with backoff (0.5 s doubling to 10 s, with jitter), pings every few
 * seconds and treats silence as a dead link, and stops on the server's refusals (4401 unpaired,
 * 4403 not a till). While it is not open, body[data-floor-live] is "0" and #floor polls every 4 s;
 * once open, the server sends the whole #floor at once and after every change (swapped in by id).
 */
(function () {
  "use strict";

  if (!window.htmx || !document.getElementById("floor-live")) return;

  var PING_EVERY = 10000;
  var STALE_AFTER = 25000;
  var CONNECT_TIMEOUT = 10000;
  var FATAL = { 4401: true, 4403: true };

  function setLive(live) { document.body.dataset.floorLive = live ? "1" : "0"; }

  function FloorSocket(url) {
    this.url = url;
    this.CONNECTING = 0; this.OPEN = 1; this.CLOSING = 2; this.CLOSED = 3;
    this.binaryType = "blob";
    this.onopen = null; this.onclose = null; this.onerror = null;
    this.listeners = {};
    this.ws = null;
    this.stopped = false;
    this.attempt = 0;
    var self = this;
    this.timer = setInterval(function () { self.watch(); }, 1000);
    this.connect();
  }

  Object.defineProperty(FloorSocket.prototype, "readyState", {
    get: function () {
      if (this.stopped) return 3;
      return this.ws && this.ws.readyState === 1 ? 1 : 0;
    }
  });

  FloorSocket.prototype.addEventListener = function (type, fn) {
    (this.listeners[type] = this.listeners[type] || []).push(fn);
  };
  FloorSocket.prototype.removeEventListener = function (type, fn) {
    this.listeners[type] = (this.listeners[type] || []).filter(function (f) { return f !== fn; });
  };
  FloorSocket.prototype.send = function (data) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(data);
  };
  FloorSocket.prototype.close = function () {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    setLive(false);
    if (this.ws) this.ws.close(1000);
  };

  FloorSocket.prototype.connect = function () {
    var self = this;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = this.url.indexOf("://") >= 0 ? this.url : scheme + location.host + this.url;
    var ws = new WebSocket(url);
    this.ws = ws;
    this.openedAt = Date.now();
    ws.onopen = function (e) {
      if (ws !== self.ws) return;
      self.attempt = 0;
      self.lastHeard = Date.now();
      self.lastPing = Date.now();
      setLive(true);
      if (self.onopen) self.onopen(e);
    };
    ws.onmessage = function (e) {
      if (ws !== self.ws) return;
      self.lastHeard = Date.now();
      if (typeof e.data !== "string" || e.data.charAt(0) === "{") return;  // pong, error
      (self.listeners.message || []).forEach(function (fn) { fn(new MessageEvent("message", { data: e.data })); });
    };
    ws.onclose = function (e) {
      if (ws !== self.ws) return;
      self.ws = null;
      setLive(false);
      if (FATAL[e.code]) {
        self.stopped = true;  // not a till (any more): the poll and the page say the rest
        clearInterval(self.timer);
        if (self.onclose) self.onclose(e);
        return;
      }
      self.retry();
    };
    ws.onerror = function () { /* a close event follows */ };
  };

  FloorSocket.prototype.retry = function () {
    var self = this;
    var delay = Math.min(10000, 500 * Math.pow(2, this.attempt)) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(function () { self.connect(); }, delay);
  };

  FloorSocket.prototype.drop = function () {
    var ws = this.ws;
    this.ws = null;
    setLive(false);
    if (ws) { try { ws.close(4000); } catch (err) { /* already closing */ } }
    this.retry();
  };

  FloorSocket.prototype.watch = function () {
    if (this.stopped || !this.ws) return;
    var now = Date.now();
    if (this.ws.readyState === 0 && now - this.openedAt > CONNECT_TIMEOUT) return this.drop();
    if (this.ws.readyState !== 1) return;
    if (now - this.lastHeard > STALE_AFTER) return this.drop();
    if (now - this.lastPing > PING_EVERY) {
      this.lastPing = now;
      this.ws.send('{"action":"ping"}');
    }
  };

  setLive(false);
  htmx.createWebSocket = function (url) { return new FloorSocket(url); };
  // The extension would add the page's CSRF header to every message: the socket does not need it.
  document.body.addEventListener("htmx:wsConfigSend", function (e) { e.detail.headers = null; });
})();
