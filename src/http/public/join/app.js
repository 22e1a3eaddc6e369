// Join a room from this browser: the microphone, then a join ticket from POST /join/ticket (with an
// invite link, the room's PIN or the admin token), then the Media Streams
// protocol on /media exactly as Twilio speaks it, with the microphone resampled to 8 kHz and
// mu-law encoded in an AudioWorklet (worklet.js) and the room's mix played back.

const $ = (selector) => document.querySelector(selector);
const TOKEN_KEY = 'conference.adminToken';
const SAMPLES_PER_FRAME = 160;
/** Seconds of received audio kept for the level display (and the tests' measurement). */
const KEEP_SECONDS = 4;

const DECODE = new Int16Array(256);
for (let code = 0; code < 256; code++) {
  const inverted = ~code & 0xff;
  const exponent = (inverted >> 4) & 0x07;
  const mantissa = inverted & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  DECODE[code] = inverted & 0x80 ? -magnitude : magnitude;
}

/** What the page knows of its call; window.joinState for tests and curious operators. */
const call = {
  status: 'idle',
  framesSent: 0,
  framesReceived: 0,
  marksEchoed: 0,
  received: new Int16Array(8000 * KEEP_SECONDS),
  receivedCount: 0,
  micDbfs: -96,
  heardDbfs: -96,
  closeCode: null,
  closeReason: '',
  /** The last `seconds` of what was heard, as 8 kHz samples. */
  recent(seconds = KEEP_SECONDS) {
    const n = Math.min(this.receivedCount, Math.round(seconds * 8000), this.received.length);
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) out[i] = this.received[(this.receivedCount - n + i) % this.received.length];
    return out;
  },
};
window.joinState = call;

let ws = null;
let audio = null;
let mic = null;
let bridge = null;
let session = null;
let sequence = 1;
let chunk = 0;

function setStatus(kind, text) {
  call.status = text;
  const el = $('#status');
  el.className = `pill pill-${kind}`;
  el.textContent = text;
}

function showError(text) {
  $('#alert-text').textContent = text;
  $('#alert').hidden = !text;
}

function levelDbfs(samples, scale) {
  let acc = 0;
  for (let i = 0; i < samples.length; i++) acc += (samples[i] / scale) ** 2;
  const rms = Math.sqrt(acc / Math.max(1, samples.length));
  return rms > 0 ? Math.max(-96, 20 * Math.log10(rms)) : -96;
}

function showLevel(meterId, outputId, dbfs) {
  const level = Math.max(-60, Math.min(0, dbfs));
  const meter = $(meterId);
  meter.setAttribute('aria-valuenow', String(Math.round(level)));
  meter.querySelector('.meter-fill').style.width = `${((level + 60) / 60) * 100}%`;
  $(outputId).textContent = dbfs <= -90 ? 'silent' : `${Math.round(dbfs)} dBFS`;
}

function send(message) {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ sequenceNumber: String(sequence++), streamSid: session.streamSid, ...message }));
}

function base64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  return btoa(text);
}

function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** The invite of an invite link (/join?room=1234#invite=...), or null. */
function inviteInLink() {
  return new URLSearchParams(location.hash.slice(1)).get('invite');
}

async function join(form) {
  showError('');
  const room = form.room.value.trim();
  const pin = form.pin.value.trim();
  const token = form.token.value.trim();
  const invite = inviteInLink();
  // The microphone first: its permission prompt may take a while, and the ticket (with the seat it
  // reserves) is good for a few seconds only.
  setStatus('wait', 'Opening the microphone…');
  mic = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false } });
  audio = new AudioContext({ latencyHint: 'interactive' });
  await audio.audioWorklet.addModule('/join/worklet.js');
  const source = audio.createMediaStreamSource(mic);
  // Anti-aliasing before the 8 kHz resampler: two 2nd-order low-passes at 3.4 kHz.
  const lp1 = new BiquadFilterNode(audio, { type: 'lowpass', frequency: 3400, Q: 0.54 });
  const lp2 = new BiquadFilterNode(audio, { type: 'lowpass', frequency: 3400, Q: 1.31 });
  bridge = new AudioWorkletNode(audio, 'phone-bridge', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
  source.connect(lp1).connect(lp2).connect(bridge).connect(audio.destination);
  await audio.resume();

  setStatus('wait', 'Getting a ticket…');
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  // The admin token, else the invite link's, else the PIN (the server says which it takes: JOIN_PAGE).
  const body = token ? { room } : invite ? { room, invite } : pin ? { room, pin } : { room };
  const res = await fetch('/join/ticket', { method: 'POST', headers, body: JSON.stringify(body) });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer?.error?.message ?? `${res.status} ${res.statusText}`);
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  session = answer;

  setStatus('wait', 'Connecting…');
  // The ticket also rides on the upgrade: a server checking Twilio signatures on /media lets in an
  // upgrade without one only when it carries a redeemable ticket (a browser cannot sign).
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${session.mediaPath}?ticket=${encodeURIComponent(session.ticket)}`);
  ws.onopen = () => {
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    send({
      event: 'start',
      start: {
        accountSid: session.accountSid,
        streamSid: session.streamSid,
        callSid: session.callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: { room: session.room, ticket: session.ticket },
      },
    });
    setStatus('live', `In room ${session.room}`);
    $('#join-card').hidden = true;
    $('#call-card').hidden = false;
    $('#call-room').textContent = session.room;
    $('#call-seat').textContent = `· seat ${session.seat}`;
    $('#mute-button').focus();
  };
  bridge.port.onmessage = ({ data }) => {
    if (data.type === 'frame') {
      const mulaw = data.mulaw;
      send({ event: 'media', media: { track: 'inbound', chunk: String(++chunk), timestamp: String(chunk * 20), payload: base64(mulaw) } });
      call.framesSent++;
      if (call.framesSent % 5 === 0) {
        const pcm = new Int16Array(SAMPLES_PER_FRAME);
        for (let i = 0; i < pcm.length; i++) pcm[i] = DECODE[mulaw[i]];
        call.micDbfs = levelDbfs(pcm, 32768);
        showLevel('#mic-meter', '#mic-level', call.micDbfs);
      }
    } else if (data.type === 'mark') {
      call.marksEchoed++;
      send({ event: 'mark', mark: { name: data.name } });
    }
  };
  ws.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.event === 'media') {
      const mulaw = fromBase64(message.media.payload);
      bridge.port.postMessage({ type: 'play', mulaw });
      for (let i = 0; i < mulaw.length; i++) call.received[(call.receivedCount + i) % call.received.length] = DECODE[mulaw[i]];
      call.receivedCount += mulaw.length;
      call.framesReceived++;
      if (call.framesReceived % 5 === 0) {
        call.heardDbfs = levelDbfs(call.recent(0.1), 32768);
        showLevel('#heard-meter', '#heard-level', call.heardDbfs);
      }
    } else if (message.event === 'mark') {
      bridge.port.postMessage({ type: 'mark', name: message.mark.name });
    } else if (message.event === 'clear') {
      bridge.port.postMessage({ type: 'clear' });
    }
  };
  ws.onclose = (event) => {
    call.closeCode = event.code;
    call.closeReason = event.reason;
    hangUp();
    const why = event.code === 1000 || event.code === 1005 ? (event.reason || 'The call ended.') : `Disconnected (${event.code}${event.reason ? `: ${event.reason}` : ''}).`;
    setStatus('off', 'Not connected');
    if (event.code !== 1000 && event.code !== 1005) showError(why);
  };
}

function hangUp() {
  mic?.getTracks().forEach((t) => t.stop());
  audio?.close().catch(() => {});
  mic = audio = bridge = null;
  $('#call-card').hidden = true;
  $('#join-card').hidden = false;
}

function leave() {
  if (session) send({ event: 'stop', stop: { accountSid: session.accountSid, callSid: session.callSid } });
  ws?.close(1000, 'left');
  hangUp();
  setStatus('off', 'Left the room');
}

$('#join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const button = $('#join-button');
  button.disabled = true;
  try {
    await join(e.currentTarget);
  } catch (error) {
    hangUp();
    setStatus('off', 'Not connected');
    showError(`Could not join: ${error.message}`);
  } finally {
    button.disabled = false;
  }
});
$('#leave-button').addEventListener('click', leave);
$('#mute-button').addEventListener('click', (e) => {
  const muted = e.currentTarget.getAttribute('aria-pressed') !== 'true';
  e.currentTarget.setAttribute('aria-pressed', String(muted));
  e.currentTarget.textContent = muted ? 'Unmute microphone' : 'Mute microphone';
  bridge?.port.postMessage({ type: 'mute', muted });
});

const params = new URLSearchParams(location.search);
if (params.get('room')) $('#room').value = params.get('room');
// An invite link: /join?room=1234#invite=... (the fragment never reaches a server or a Referer).
function showInvite() {
  const invite = inviteInLink();
  $('#invite-note').hidden = !invite;
  $('#room').readOnly = Boolean(invite);
}
showInvite();
window.addEventListener('hashchange', showInvite);
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) $('#token').value = saved;
