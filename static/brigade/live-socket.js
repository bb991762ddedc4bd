/* A WebSocket that stays up, for htmx's ws extension: the kitchen screens and the till's floor plan.
 *
 * htmx's ws extension reconnects only after abnormal closes (1006, 1011…), not after a clean
 * 1000/1001 (a server restart). `htmx.createWebSocket` returns a LiveSocket instead, which looks like
 * one WebSocket to htmx but, underneath,
 *   - reconnects after any close, with backoff (0.5 s doubling to 10 s, with jitter);
 *   - pings every few seconds and treats silence as a dead link (half-open TCP, sleeping Wi-Fi);
 *   - stops on the server's refusals (the `fatal` close codes: unpaired, wrong role, unknown station).
 * HTML frames go to htmx; JSON frames (pong, ack, error) go to the page's `control` hook.
 *
 * Hooks (all optional but `url`):
 *   url()                  the address to connect to now (the kitchen adds ?since=<last seq seen>)
 *   state(state, reason)   "connecting", "reconnecting", "live", or "fatal" with the code's reason
 *   fatal                  {close code: reason} that stop the socket for good
 *   html(data)             called with each HTML frame before htmx swaps it
 *   control(message)       called with each JSON frame, parsed
 *   pingEvery, staleAfter  milliseconds (defaults 8 s and 20 s)
 */
(function () {
  "use strict";

  var CONNECT_TIMEOUT = 10000;

  function LiveSocket(hooks) {
    this.hooks = hooks;
    this.CONNECTING = 0; this.OPEN = 1; this.CLOSING = 2; this.CLOSED = 3;
    this.binaryType = "blob";
    this.onopen = null; this.onclose = null; this.onerror = null;
    this.listeners = {};
    this.ws = null;
    this.stopped = false;
    this.attempt = 0;
    this.lastHeard = 0;
    this.lastPing = 0;
    this.openedAt = 0;
    var self = this;
    this.timer = setInterval(function () { self.watch(); }, 1000);
    this.connect();
  }

  Object.defineProperty(LiveSocket.prototype, "readyState", {
    // While reconnecting htmx sees CONNECTING and queues what is sent; the queue is flushed on the
    // next open (every message names its target state, so a late one is harmless).
    get: function () {
      if (this.stopped) return 3;
      return this.ws && this.ws.readyState === 1 ? 1 : 0;
    }
  });

  LiveSocket.prototype.addEventListener = function (type, fn) {
    (this.listeners[type] = this.listeners[type] || []).push(fn);
  };
  LiveSocket.prototype.removeEventListener = function (type, fn) {
    this.listeners[type] = (this.listeners[type] || []).filter(function (f) { return f !== fn; });
  };
  LiveSocket.prototype.emit = function (type, event) {
    (this.listeners[type] || []).forEach(function (fn) { fn(event); });
  };

  LiveSocket.prototype.state = function (state, reason) {
    if (this.hooks.state) this.hooks.state(state, reason);
  };

  LiveSocket.prototype.send = function (data) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(data);
  };

  LiveSocket.prototype.close = function () {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
  };

  LiveSocket.prototype.connect = function () {
    var self = this;
    var url = this.hooks.url();
    if (url.indexOf("://") < 0) url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + url;
    var ws = new WebSocket(url);
    this.ws = ws;
    this.openedAt = Date.now();
    this.state(this.attempt ? "reconnecting" : "connecting");
    ws.onopen = function (e) {
      if (ws !== self.ws) return;
      self.attempt = 0;
      self.lastHeard = Date.now();
      self.lastPing = Date.now();
      self.state("live");
      if (self.onopen) self.onopen(e);
    };
    ws.onmessage = function (e) {
      if (ws !== self.ws) return;
      self.lastHeard = Date.now();
      self.receive(e.data);
    };
    ws.onclose = function (e) {
      if (ws !== self.ws) return;
      self.ws = null;
      self.closed(e);
    };
    ws.onerror = function () { /* a close event follows */ };
  };

  LiveSocket.prototype.closed = function (e) {
    if (this.stopped) return;
    var fatal = this.hooks.fatal || {};
    if (fatal[e.code]) {
      this.stopped = true;
      clearInterval(this.timer);
      this.state("fatal", fatal[e.code]);
      if (this.onclose) this.onclose(e);
      return;
    }
    this.retry();
  };

  LiveSocket.prototype.retry = function () {
    var self = this;
    this.state("reconnecting");
    var delay = Math.min(10000, 500 * Math.pow(2, this.attempt)) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(function () { self.connect(); }, delay);
  };

  LiveSocket.prototype.drop = function () {
    // Abandon the current socket without waiting for a close handshake a dead link never finishes.
    var ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(4000); } catch (err) { /* already closing */ } }
    this.retry();
  };

  LiveSocket.prototype.watch = function () {
    if (this.stopped || !this.ws) return;
    var now = Date.now();
    if (this.ws.readyState === 0 && now - this.openedAt > CONNECT_TIMEOUT) return this.drop();
    if (this.ws.readyState !== 1) return;
    if (now - this.lastHeard > (this.hooks.staleAfter || 20000)) return this.drop();
    if (now - this.lastPing > (this.hooks.pingEvery || 8000)) {
      this.lastPing = now;
      this.ws.send('{"action":"ping"}');
    }
  };

  LiveSocket.prototype.receive = function (data) {
    if (typeof data !== "string") return;
    if (data.charAt(0) === "{") {
      var message;
      try { message = JSON.parse(data); } catch (err) { return; }
      if (this.hooks.control) this.hooks.control(message);
      return;
    }
    if (this.hooks.html) this.hooks.html(data);
    this.emit("message", new MessageEvent("message", { data: data }));
  };

  window.BrigadeLiveSocket = LiveSocket;
})();
