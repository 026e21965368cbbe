// One streamed answer over WS /v1/chat/stream/{id}, resumed after a dropped connection.
//
// Every message carries a sequence number. After a drop we reconnect with
// last_token_seq = the last one received, and the server sends exactly what follows; any
// message at or below that number is ignored anyway, so nothing is ever shown twice.

// Closes after which reconnecting cannot help; any other (a network drop, 1013 "try again")
// is retried with exponential backoff.
const FINAL_CLOSE_CODES = new Set([1000, 4400, 4401, 4403, 4404, 4410]);
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 8000;
const MAX_RETRIES = 8;

export class AnswerStream {
  /**
   * handlers: onToken(text), onCitations(items), onEnd(usage, found) (found: false when the
   * documents do not hold the answer), onError(code, message),
   * onClosed(code, reason) when it ends without "end", onState(state): "connecting" |
   * "streaming" | "reconnecting" | "done".
   */
  constructor(sessionId, token, handlers) {
    this.sessionId = sessionId;
    this.token = token;
    this.handlers = handlers;
    this.lastSeq = null;
    this.retries = 0;
    this.finished = false;
    this.socket = null;
    this.timer = null;
    this.lastError = null; // an error message is followed by the close that says if it is final
  }

  start() {
    this.handlers.onState?.("connecting");
    this.connect();
    return this;
  }

  /** Stop for good (a new question, signing out). */
  cancel() {
    this.finished = true;
    clearTimeout(this.timer);
    this.socket?.close(1000);
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ access_token: this.token });
    if (this.lastSeq !== null) params.set("last_token_seq", String(this.lastSeq));
    const id = encodeURIComponent(this.sessionId);
    return `${scheme}//${location.host}/v1/chat/stream/${id}?${params}`;
  }

  connect() {
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => this.handlers.onState?.("streaming");
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      if (socket === this.socket) this.closed(event.code, event.reason);
    };
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return; // not ours
    }
    if (typeof message.seq === "number") {
      if (this.lastSeq !== null && message.seq <= this.lastSeq) return; // already shown
      this.lastSeq = message.seq;
    }
    this.retries = 0; // the connection works again
    if (message.type === "token") this.handlers.onToken(message.content || "");
    else if (message.type === "citations") this.handlers.onCitations(message.items || []);
    else if (message.type === "end") this.end(message.usage || null, message.found !== false);
    else if (message.type === "error") this.lastError = message;
  }

  end(usage, found) {
    this.finished = true;
    this.handlers.onState?.("done");
    this.handlers.onEnd(usage, found);
  }

  fail(code, message) {
    this.finished = true;
    this.handlers.onState?.("done");
    this.handlers.onError(code, message);
  }

  closed(code, reason) {
    if (this.finished) return;
    const error = this.lastError;
    this.lastError = null;
    if (FINAL_CLOSE_CODES.has(code) || this.retries >= MAX_RETRIES) {
      if (error) return this.fail(error.code, error.message);
      this.finished = true;
      this.handlers.onState?.("done");
      this.handlers.onClosed(code, reason);
      return;
    }
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.retries);
    this.retries += 1;
    this.handlers.onState?.("reconnecting");
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
