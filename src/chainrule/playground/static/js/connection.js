// The one WebSocket of this tab, and the binary framing of docs/playground.md:
// [uint32 LE n][n bytes of UTF-8 JSON header][zero padding to a multiple of 4][payload].

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The socket address for this page (same host, the token of the page's URL). */
export function socketUrl(token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws?token=${encodeURIComponent(token || "")}`;
}

/** Build a binary message from a JSON header and a payload (ArrayBuffer or typed array). */
export function encodeBinary(header, payload) {
  const head = encoder.encode(JSON.stringify(header));
  const start = 4 + head.length;
  const padded = Math.ceil(start / 4) * 4;
  const body = payload instanceof ArrayBuffer ? new Uint8Array(payload)
    : new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  const bytes = new Uint8Array(padded + body.length);  // zero-filled: the padding
  new DataView(bytes.buffer).setUint32(0, head.length, true);
  bytes.set(head, 4);
  bytes.set(body, padded);
  return bytes.buffer;
}

/** Split a binary message into its header (parsed) and payload (a view, no copy). */
export function decodeBinary(buffer) {
  if (buffer.byteLength < 4) throw new Error("binary message shorter than its length field");
  const length = new DataView(buffer).getUint32(0, true);
  if (4 + length > buffer.byteLength) throw new Error("binary header longer than the message");
  const header = JSON.parse(decoder.decode(new Uint8Array(buffer, 4, length)));
  const start = Math.ceil((4 + length) / 4) * 4;
  return { header, payload: new Uint8Array(buffer, Math.min(start, buffer.byteLength)) };
}

/**
 * The connection: `handlers[type](message, payload)` is called for each message (payload only
 * for binary ones); `onClose()` when the socket closes. Messages sent before the socket opens
 * wait for it.
 */
export class Connection {
  constructor(url, handlers, onClose) {
    this.handlers = handlers;
    this.onClose = onClose;
    this.waiting = [];
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.socket.addEventListener("open", () => this.flush());
    this.socket.addEventListener("message", (event) => this.receive(event.data));
    this.socket.addEventListener("close", () => this.onClose());
  }

  get open() {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(message) {
    this.sendRaw(JSON.stringify(message));
  }

  sendBinary(header, payload) {
    this.sendRaw(encodeBinary(header, payload));
  }

  sendRaw(data) {
    if (this.socket.readyState === WebSocket.CONNECTING) this.waiting.push(data);
    else if (this.open) this.socket.send(data);
  }

  flush() {
    for (const data of this.waiting) this.socket.send(data);
    this.waiting = [];
  }

  receive(data) {
    let message;
    let payload = null;
    try {
      if (typeof data === "string") message = JSON.parse(data);
      else ({ header: message, payload } = decodeBinary(data));
    } catch (error) {
      console.error("unreadable message from the server", error);
      return;
    }
    const handler = this.handlers[message.type];
    if (handler) handler(message, payload);
    else console.warn("message of unknown type", message.type);
  }
}
