// Parley — hold-to-record voice messages (S6): hold the button (pointer, Space/Enter) to
// record, release to finish. Problems reach onError as a sentence to act on.
import { t } from '../i18n.js';

const MIME = 'audio/webm;codecs=opus';

/** cb: onRecorded(blob, ms), onError(message), onState(recording, ms). */
export function attachVoice(button, cb) {
  let rec = null;
  let stream = null;
  let held = false; // still held (the permission prompt may outlast the press)
  let started = 0;
  let tick = null;

  const release = () => stream?.getTracks().forEach((t) => t.stop());

  async function begin() {
    if (rec || held) return;
    held = true;
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder !== 'function') {
      return cb.onError(t('Voice messages need a secure (HTTPS) page and a browser that can record audio.'));
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      held = false;
      return cb.onError(err.name === 'NotAllowedError' || err.name === 'SecurityError'
        ? t('Microphone access was refused. Allow the microphone for this site in the browser settings, then try again.')
        : err.name === 'NotFoundError' ? t('No microphone was found.') : t('Cannot use the microphone: {error}', { error: err.message || err.name }));
    }
    if (!held) return release(); // let go while the browser asked
    const chunks = [];
    try {
      rec = new MediaRecorder(stream, { mimeType: MediaRecorder.isTypeSupported(MIME) ? MIME : 'audio/webm' });
    } catch (err) {
      release();
      return cb.onError(t('Cannot record audio: {error}', { error: err.message }));
    }
    rec.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    rec.onstop = () => {
      const ms = Date.now() - started;
      const blob = new Blob(chunks, { type: 'audio/webm' });
      release();
      cb.onState(false, 0);
      if (ms < 600 || !blob.size) cb.onError(t('Hold the button to record, release to send.'));
      else cb.onRecorded(blob, ms);
    };
    started = Date.now();
    rec.start(250);
    button.setAttribute('aria-pressed', 'true');
    cb.onState(true, 0);
    tick = setInterval(() => {
      const ms = Date.now() - started;
      cb.onState(true, ms);
      if (ms > 300000) finish();
    }, 250);
  }

  function finish() {
    held = false;
    if (!rec) return;
    clearInterval(tick);
    button.setAttribute('aria-pressed', 'false');
    if (rec.state !== 'inactive') rec.stop();
    rec = null;
  }

  button.addEventListener('pointerdown', (e) => {
    if (e.button) return;
    e.preventDefault();
    button.setPointerCapture(e.pointerId);
    begin();
  });
  for (const ev of ['pointerup', 'pointercancel', 'blur']) button.addEventListener(ev, finish);
  button.addEventListener('keydown', (e) => {
    if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) { e.preventDefault(); begin(); }
  });
  button.addEventListener('keyup', (e) => {
    if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); finish(); }
  });
  button.addEventListener('contextmenu', (e) => e.preventDefault());
}
