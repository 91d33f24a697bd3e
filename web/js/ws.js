// Parley — the WebSocket client (/api/v1/ws). Reconnects with jittered backoff (1–30 s) asking
// for `?since=<seq>` to replay missed events; `resync` (too far back) makes the panes reload
// from REST. Frames go to the bus as `ws:<type>`.

import { api } from './api.js';
import { emit } from './store.js';

let socket = null;
let lastSeq = null;
let retries = 0;
let timer = null;
let running = false;
let helloed = false;

export function start() {
  if (running) return;
  running = true;
  retries = 0;
  connect();
}

export function stop() {
  running = false;
  clearTimeout(timer);
  if (socket) {
    socket.onclose = null;
    socket.close(1000, 'signed out');
    socket = null;
  }
  emit('ws:status', 'offline');
}

/** Send a frame (e.g. typing); dropped while disconnected. */
export function send(obj) {
  if (socket?.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(obj));
  return true;
}

function connect() {
  if (!running) return;
  const s = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws${lastSeq != null ? `?since=${lastSeq}` : ''}`);
  socket = s;
  emit('ws:status', 'connecting');
  s.onopen = () => {
    retries = 0;
    emit('ws:status', 'online');
  };
  s.onmessage = (ev) => {
    let f;
    try {
      f = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (f.type === 'hello') {
      // The first connection starts from now (the panes just loaded from REST); later
      // ones keep our seq so the replay fills the gap.
      if (lastSeq == null) lastSeq = f.data.seq;
      if (helloed) emit('ws:reconnected', f.data);
      helloed = true;
    } else if (f.type === 'resync') {
      lastSeq = null;
      emit('ws:resync', null);
    } else if (!(f.seq <= lastSeq)) {
      if (Number.isFinite(f.seq)) lastSeq = f.seq;
      emit(`ws:${f.type}`, f.data || {});
    }
  };
  s.onclose = () => {
    if (socket === s) socket = null;
    emit('ws:status', 'offline');
    if (!running) return;
    const base = Math.min(30000, 1000 * 2 ** Math.min(retries++, 5));
    timer = setTimeout(async () => {
      // A refused handshake looks like any close; after a couple, check the session
      // (a 401 there sends the app back to the sign-in screen).
      if (retries >= 2) {
        try {
          await api('GET', '/api/v1/session');
        } catch (err) {
          if (err.status === 401) return;
        }
      }
      connect();
    }, base / 2 + Math.random() * base / 2);
  };
}
