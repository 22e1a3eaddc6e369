// Conference line dashboard: plain JavaScript, no build step.
// The admin token lives in sessionStorage (this tab only) and goes out only as a bearer header.
// Live state arrives over server-sent events read with fetch (GET /api/live); actions are admin
// API calls whose errors are shown in the page.

const TOKEN_KEY = 'conference.adminToken';
const $ = (selector, root = document) => root.querySelector(selector);

const state = {
  token: null,
  abort: null,
  retryMs: 1000,
  history: [],
  rooms: new Map(), // id -> { el, people: Map(callSid -> row) }
  recordingIds: '',
  audio: null, // the audio library's clip names
};

// --- token --------------------------------------------------------------------------------

function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    // Out of the address bar and the history at once.
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.abort?.abort();
  $('#app').hidden = true;
  $('#sign-out').hidden = true;
  $('#sign-in').hidden = false;
  setConnection('off', 'Signed out');
  if (message) showError(message);
  $('#token-input').focus();
}

function signIn(token) {
  state.token = token;
  $('#sign-in').hidden = true;
  $('#app').hidden = false;
  $('#sign-out').hidden = false;
  connect();
  refreshRecordings();
  refreshAudio();
}

// --- audio library ------------------------------------------------------------------------

/** The audio library's clip names: the create form's suggestions, the Announce prompt's list. */
async function refreshAudio() {
  try {
    state.audio = (await api('GET', '/api/audio')).audio.map((a) => a.name);
  } catch (error) {
    if (error.message !== 'refused') showError(`Listing audio failed: ${error.message}`);
    return;
  }
  $('#audio-names').replaceChildren(...state.audio.map((name) => Object.assign(document.createElement('option'), { value: name })));
}

// --- messages -----------------------------------------------------------------------------

function showError(text) {
  $('#alert-text').textContent = text;
  $('#alert').hidden = false;
}

function clearError() {
  $('#alert').hidden = true;
  $('#alert-text').textContent = '';
}

function notify(text) {
  $('#notice').textContent = text;
}

function setConnection(kind, text) {
  const el = $('#connection');
  el.className = `pill pill-${kind}`;
  el.textContent = text;
}

// --- API ----------------------------------------------------------------------------------

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${state.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401 || res.status === 403) {
    signOut('The admin token was refused. Enter it again.');
    throw new Error('refused');
  }
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json() : await res.blob();
  if (!res.ok) {
    const message = data?.error?.message ?? `${res.status} ${res.statusText}`;
    throw new Error(message);
  }
  return data;
}

/** Runs an action from a button: disabled while it runs, errors shown, success announced. */
async function act(button, what, run) {
  if (button) button.disabled = true;
  try {
    await run();
    clearError();
    notify(what);
  } catch (error) {
    if (error.message !== 'refused') showError(`${what} failed: ${error.message}`);
  } finally {
    if (button) button.disabled = false;
  }
}

// --- live feed ----------------------------------------------------------------------------

async function connect() {
  state.abort?.abort();
  const abort = new AbortController();
  state.abort = abort;
  setConnection('wait', 'Connecting…');
  try {
    const res = await fetch('/api/live', { headers: { authorization: `Bearer ${state.token}` }, signal: abort.signal });
    if (res.status === 401 || res.status === 403) return signOut('The admin token was refused. Enter it again.');
    if (!res.ok || !res.body) {
      let message = `${res.status} ${res.statusText}`;
      try {
        message = (await res.json()).error.message;
      } catch {}
      throw new Error(message);
    }
    setConnection('live', 'Live');
    state.retryMs = 1000;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        if (data) onEvent(event, JSON.parse(data));
      }
    }
    throw new Error('the server ended the live feed');
  } catch (error) {
    if (abort.signal.aborted || !state.token) return;
    setConnection('off', `Reconnecting in ${Math.round(state.retryMs / 1000)} s`);
    setTimeout(() => state.abort === abort && connect(), state.retryMs);
    state.retryMs = Math.min(10_000, state.retryMs * 2);
  }
}

function onEvent(event, data) {
  if (event === 'history') {
    state.history = data;
    renderHealth();
  } else if (event === 'health') {
    state.history.push(data);
    if (state.history.length > 120) state.history.shift();
    renderHealth();
  } else if (event === 'snapshot') {
    renderRooms(data.rooms);
  }
}

// --- health -------------------------------------------------------------------------------

function renderHealth() {
  const last = state.history[state.history.length - 1];
  for (const fig of document.querySelectorAll('.metric')) {
    const key = fig.dataset.metric;
    const unit = fig.dataset.unit ?? '';
    const values = state.history.map((s) => s[key]);
    const value = last ? last[key] : null;
    // data-alert names a flag of the sample that marks this figure (overloaded: at capacity, refusing new calls).
    const alert = fig.dataset.alert !== undefined && last?.[fig.dataset.alert] === true;
    fig.classList.toggle('alert', alert);
    fig.title = alert ? 'At capacity: one more call would not fit, so new calls are refused until calls leave' : '';
    $('.value', fig).textContent = value === null || value === undefined ? '–' : `${formatNumber(value)}${unit ? ' ' + unit : ''}`;
    const max = Math.max(1e-9, ...values) * 1.15;
    const n = values.length;
    const points = values.map((v, i) => `${n <= 1 ? 120 : ((i / (n - 1)) * 120).toFixed(1)},${(31 - (v / max) * 29).toFixed(1)}`).join(' ');
    $('polyline', fig).setAttribute('points', points);
    const svg = $('svg', fig);
    svg.setAttribute('aria-label', `${$('figcaption', fig).textContent}: now ${$('.value', fig).textContent}, highest ${formatNumber(Math.max(0, ...values))}${unit ? ' ' + unit : ''} in the last 2 minutes`);
  }
}

function formatNumber(v) {
  if (Number.isInteger(v)) return String(v);
  return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2);
}

// --- rooms --------------------------------------------------------------------------------

function formatDuration(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}` : `${m}:${String(s).padStart(2, '0')}`;
}

function renderRooms(rooms) {
  const container = $('#rooms');
  const seen = new Set();
  rooms.forEach((room, index) => {
    seen.add(room.id);
    let entry = state.rooms.get(room.id);
    if (!entry) {
      entry = createRoom(room.id);
      state.rooms.set(room.id, entry);
    }
    if (container.children[index] !== entry.el) container.insertBefore(entry.el, container.children[index] ?? null);
    updateRoom(entry, room);
  });
  for (const [id, entry] of state.rooms) {
    if (seen.has(id)) continue;
    const hadFocus = entry.el.contains(document.activeElement);
    entry.el.remove();
    state.rooms.delete(id);
    if (hadFocus) $('#rooms-heading').focus();
  }
  $('#no-rooms').hidden = rooms.length > 0;
  const callers = rooms.reduce((n, r) => n + r.participants.length, 0);
  $('#rooms-count').textContent = rooms.length ? `· ${rooms.length} ${rooms.length === 1 ? 'room' : 'rooms'}, ${callers} ${callers === 1 ? 'caller' : 'callers'}` : '';
  const recordingIds = rooms.map((r) => r.recording?.id ?? '').join(',');
  if (recordingIds !== state.recordingIds) {
    state.recordingIds = recordingIds;
    refreshRecordings();
  }
}

function createRoom(id) {
  const el = $('#room-template').content.firstElementChild.cloneNode(true);
  el.dataset.room = id;
  const titleId = `room-${id}-title`;
  $('.room-title', el).id = titleId;
  el.setAttribute('aria-labelledby', titleId);
  const entry = { el, people: new Map(), room: null };
  $('.act-lock', el).addEventListener('click', (e) => {
    const locked = !entry.room.locked;
    act(e.currentTarget, `${locked ? 'Lock' : 'Unlock'} room ${id}`, () => api('PATCH', `/api/rooms/${id}`, { locked }));
  });
  // An invite link for a browser (POST /api/rooms/N/invites): good for an hour, shown to copy.
  $('.act-invite', el).addEventListener('click', (e) => {
    act(e.currentTarget, `Invite link for room ${id} made`, async () => {
      const invite = await api('POST', `/api/rooms/${id}/invites`, { ttlSeconds: 3600 });
      // Not awaited: a clipboard that asks for permission must not hold the link back.
      navigator.clipboard?.writeText(invite.url).catch(() => {});
      prompt(`Invite link to room ${id} (good for an hour, until ${new Date(invite.expiresAt).toLocaleTimeString()}):`, invite.url);
    });
  });
  // Call a number into the room (POST /api/rooms/N/participants, Twilio's REST API): the callee
  // hears "You are invited to conference N. Press 1 to join." and appears in the room on 1.
  $('.act-call', el).addEventListener('click', (e) => {
    const answer = prompt(`Call a number into room ${id}: the number in E.164 form (e.g. +15005550100). They press 1 to join.`);
    const to = answer?.trim();
    if (!to) return;
    act(e.currentTarget, `Calling ${to} into room ${id}`, () => api('POST', `/api/rooms/${id}/participants`, { to }));
  });
  // An announcement (POST /api/rooms/N/announcements): a library clip played once to the room.
  $('.act-announce', el).addEventListener('click', (e) => {
    const names = state.audio ?? [];
    const audio = prompt(`Play which clip to everyone in room ${id}? (${names.join(', ') || 'none in the library'})`, names.find((n) => n !== 'wait' && n !== 'hold') ?? '');
    if (!audio) return;
    act(e.currentTarget, `Announce ${audio} in room ${id}`, () => api('POST', `/api/rooms/${id}/announcements`, { audio: audio.trim() }));
  });
  $('.act-record', el).addEventListener('click', (e) => {
    const recording = entry.room.recording;
    act(e.currentTarget, `${recording ? 'Stop recording' : 'Record'} room ${id}`, () => api(recording ? 'DELETE' : 'POST', `/api/rooms/${id}/recording`, recording ? undefined : {}));
  });
  // Mute everyone but the moderators (a hard mute), or unmute them all.
  $('.act-mute-all', el).addEventListener('click', (e) => {
    const muted = !allMuted(entry.room);
    act(e.currentTarget, `${muted ? 'Mute all in' : 'Unmute all in'} room ${id}`, () => api('POST', `/api/rooms/${id}/mute-all`, { muted, exceptModerators: true }));
  });
  // End the calls and keep the room (POST /end); Delete also forgets it.
  $('.act-end', el).addEventListener('click', (e) => {
    const n = entry.room.participants.length;
    if (!confirm(`End room ${id} and disconnect ${n} ${n === 1 ? 'caller' : 'callers'}? Its settings are kept.`)) return;
    act(e.currentTarget, `End room ${id}`, () => api('POST', `/api/rooms/${id}/end`));
  });
  for (const button of el.querySelectorAll('.act-setting')) {
    button.addEventListener('click', (e) => {
      const setting = e.currentTarget.dataset.setting;
      const on = !entry.room[setting];
      act(e.currentTarget, `${e.currentTarget.textContent} ${on ? 'on' : 'off'} for room ${id}`, () => api('PATCH', `/api/rooms/${id}`, { [setting]: on }));
    });
  }
  // The room's wait and hold music (PATCH, as the API): a library clip, or empty for the server's.
  // In force at once in an open room; a name the library lacks is refused with the API's message.
  const music = $('.music', el);
  music.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {};
    for (const key of MUSIC_KEYS) body[key] = music.elements[key].value.trim() || null;
    act($('.act-music', music), `Set the music of room ${id}`, async () => {
      const room = await api('PATCH', `/api/rooms/${id}`, body);
      for (const key of MUSIC_KEYS) showMusic(music.elements[key], room[key], true);
    });
  });
  $('.act-delete', el).addEventListener('click', (e) => {
    const n = entry.room.participants.length;
    if (!confirm(`End room ${id}${n ? ` and disconnect ${n} ${n === 1 ? 'caller' : 'callers'}` : ''}, and delete it?`)) return;
    act(e.currentTarget, `Delete room ${id}`, () => api('DELETE', `/api/rooms/${id}`));
  });
  return entry;
}

const MUSIC_KEYS = ['waitMusic', 'holdMusic'];

/**
 * Shows a room's music setting in its field; a field the operator has edited (and not saved) keeps
 * the edit, unless `saved`.
 */
function showMusic(input, value, saved = false) {
  const shown = value ?? '';
  if (saved || input.value === (input.dataset.shown ?? '')) input.value = shown;
  input.dataset.shown = shown;
}

/** Everyone but the moderators is muted (and there is someone to mute). */
function allMuted(room) {
  const others = room.participants.filter((p) => !p.moderator);
  return others.length > 0 && others.every((p) => p.muted);
}

function updateRoom(entry, room) {
  entry.room = room;
  const el = entry.el;
  $('.room-number', el).textContent = `Room ${room.id}`;
  $('.room-label', el).textContent = room.label ? `· ${room.label}` : '';
  $('.seats', el).textContent = `${room.participants.length} / ${room.seatLimit} seats`;
  $('.pin', el).hidden = !room.hasPin;
  $('.moderator-pin', el).hidden = !room.hasModeratorPin;
  $('.waiting', el).hidden = !room.waitingForModerator;
  const muteAll = $('.act-mute-all', el);
  muteAll.textContent = allMuted(room) ? 'Unmute all' : 'Mute all';
  muteAll.setAttribute('aria-label', `${allMuted(room) ? 'Unmute' : 'Mute'} everyone but the moderators in room ${room.id}`);
  muteAll.disabled = room.participants.length === 0;
  const end = $('.act-end', el);
  end.textContent = 'End';
  end.setAttribute('aria-label', `End the calls in room ${room.id} and keep its settings`);
  end.disabled = room.participants.length === 0;
  for (const button of el.querySelectorAll('.act-setting')) {
    button.setAttribute('aria-pressed', String(Boolean(room[button.dataset.setting])));
  }
  const music = $('.music', el);
  music.setAttribute('aria-label', `Music of room ${room.id}`);
  music.elements.waitMusic.setAttribute('aria-label', `Wait music of room ${room.id}`);
  music.elements.holdMusic.setAttribute('aria-label', `Hold music of room ${room.id}`);
  $('.act-music', music).setAttribute('aria-label', `Save the music of room ${room.id}`);
  for (const key of MUSIC_KEYS) showMusic(music.elements[key], room[key]);
  $('.locked', el).hidden = !room.locked;
  $('.auto', el).hidden = room.administered;
  const rec = $('.rec', el);
  rec.hidden = !room.recording;
  const lock = $('.act-lock', el);
  lock.textContent = room.locked ? 'Unlock' : 'Lock';
  lock.setAttribute('aria-label', `${room.locked ? 'Unlock' : 'Lock'} room ${room.id}`);
  const record = $('.act-record', el);
  record.textContent = room.recording ? 'Stop recording' : 'Record';
  record.setAttribute('aria-label', `${room.recording ? 'Stop recording' : 'Record'} room ${room.id}`);
  record.disabled = !room.recording && room.participants.length === 0;
  const joinLink = $('.act-join', el);
  joinLink.href = `/join?room=${encodeURIComponent(room.id)}`;
  joinLink.setAttribute('aria-label', `Join room ${room.id} from this browser`);
  $('.act-invite', el).setAttribute('aria-label', `Make an invite link to room ${room.id} for a browser`);
  $('.act-call', el).setAttribute('aria-label', `Call a number into room ${room.id}`);
  const announce = $('.act-announce', el);
  announce.disabled = room.participants.length === 0;
  announce.setAttribute('aria-label', `Play an announcement to room ${room.id}`);
  const del = $('.act-delete', el);
  del.textContent = 'Delete';
  del.setAttribute('aria-label', `End and delete room ${room.id}`);

  const tbody = $('tbody', el);
  const seen = new Set();
  room.participants.forEach((p, index) => {
    seen.add(p.callSid);
    let row = entry.people.get(p.callSid);
    if (!row) {
      row = createPerson(room.id, p.callSid, entry);
      entry.people.set(p.callSid, row);
    }
    if (tbody.children[index] !== row.el) tbody.insertBefore(row.el, tbody.children[index] ?? null);
    updatePerson(row, p, entry);
  });
  for (const [sid, row] of entry.people) {
    if (seen.has(sid)) continue;
    const hadFocus = row.el.contains(document.activeElement);
    row.el.remove();
    entry.people.delete(sid);
    if (hadFocus) $('.act-lock', el).focus();
  }
  $('.room-empty', el).hidden = room.participants.length > 0;
  // Numbers called into the room (dial-outs) until they are in it or the call is over.
  const calling = $('.room-calling', el);
  const dialOuts = room.dialOuts ?? [];
  calling.hidden = dialOuts.length === 0;
  calling.textContent = dialOuts.length ? `Calling ${dialOuts.map((d) => `${d.to} (${d.status})`).join(', ')}` : '';
  $('.people', el).hidden = room.participants.length === 0;
}

function createPerson(roomId, callSid, roomEntry) {
  const el = $('#person-template').content.firstElementChild.cloneNode(true);
  el.dataset.callSid = callSid;
  const row = { el, p: null };
  const who = () => `seat ${row.p.seat ?? '?'} (${row.p.from ?? 'unknown number'})`;
  const path = `/api/rooms/${roomId}/participants/${encodeURIComponent(callSid)}`;
  $('.act-mute', el).addEventListener('click', (e) => {
    const muted = !row.p.muted;
    act(e.currentTarget, `${muted ? 'Mute' : 'Unmute'} ${who()}`, () => api('PATCH', path, { muted }));
  });
  $('.act-hold', el).addEventListener('click', (e) => {
    const hold = !row.p.hold;
    act(e.currentTarget, `${hold ? 'Hold' : 'Resume'} ${who()}`, () => api('PATCH', path, { hold }));
  });
  // Coaching: this caller whispers to one other (only that one hears it), or stops.
  $('.act-coach', el).addEventListener('click', (e) => {
    if (row.p.coaching) {
      act(e.currentTarget, `Stop coaching by ${who()}`, () => api('PATCH', path, { coaching: null }));
      return;
    }
    const others = (roomEntry.room?.participants ?? []).filter((q) => q.callSid !== callSid);
    const seat = prompt(`${who()} coaches which seat? Only that caller will hear them. (${others.map((q) => q.seat).join(', ')})`);
    const target = others.find((q) => String(q.seat) === String(seat ?? '').trim());
    if (!seat) return;
    if (!target) return showError(`No seat ${seat} in this room.`);
    act(e.currentTarget, `${who()} coaches seat ${target.seat}`, () => api('PATCH', path, { coaching: target.callSid }));
  });
  $('.act-kick', el).addEventListener('click', (e) => {
    act(e.currentTarget, `Remove ${who()}`, () => api('DELETE', path));
  });
  return row;
}

function updatePerson(row, p, roomEntry) {
  row.p = p;
  const el = row.el;
  el.classList.toggle('talking', p.talking);
  el.classList.toggle('on-hold', p.hold);
  $('.seat', el).textContent = p.seat ?? '–';
  $('.from', el).textContent = p.label ? `${p.label} (${p.from ?? 'unknown'})` : (p.from ?? 'unknown');
  $('.moderator-badge', el).hidden = !p.moderator;
  // A program (an agent, a recorder ...) admitted by the API; a listener is never heard.
  const programBadge = $('.program-badge', el);
  programBadge.hidden = !p.program;
  programBadge.textContent = p.program?.role === 'listener' ? 'Program (listens)' : 'Program';
  $('.joined', el).textContent = formatDuration(p.joinedForSeconds);
  const mutedBadge = $('.muted-badge', el);
  mutedBadge.hidden = !p.muted;
  mutedBadge.textContent = p.mutedByModerator ? 'Muted by moderator' : 'Muted';
  $('.hold-badge', el).hidden = !p.hold;
  const coached = p.coaching ? roomEntry?.room?.participants.find((q) => q.callSid === p.callSidToCoach) : null;
  const coachBadge = $('.coach-badge', el);
  coachBadge.hidden = !p.coaching;
  coachBadge.textContent = p.coaching ? `Coaching seat ${coached?.seat ?? '?'}` : '';
  $('.ok-text', el).hidden = p.muted || p.hold || p.coaching;
  const level = Math.max(-60, Math.min(0, p.levelDbfs));
  const meter = $('.meter', el);
  meter.setAttribute('aria-valuenow', String(Math.round(level)));
  meter.setAttribute('aria-valuetext', `${p.talking ? 'speaking, ' : ''}${p.levelDbfs <= -90 ? 'silent' : `${Math.round(p.levelDbfs)} dBFS`}`);
  meter.setAttribute('aria-label', `Level of seat ${p.seat ?? '?'}`);
  $('.meter-fill', el).style.width = `${((level + 60) / 60) * 100}%`;
  $('.level', el).textContent = p.levelDbfs <= -90 ? 'silent' : `${Math.round(p.levelDbfs)} dBFS`;
  $('.jitter', el).textContent = `${p.jitterDepthFrames} fr · ${p.jitterMs} ms`;
  const who = `seat ${p.seat ?? '?'}`;
  const mute = $('.act-mute', el);
  mute.textContent = p.muted ? 'Unmute' : 'Mute';
  mute.setAttribute('aria-label', `${p.muted ? 'Unmute' : 'Mute'} ${who}`);
  const hold = $('.act-hold', el);
  hold.textContent = p.hold ? 'Resume' : 'Hold';
  hold.setAttribute('aria-label', `${p.hold ? 'Take off hold' : 'Put on hold'} ${who}`);
  const coach = $('.act-coach', el);
  coach.textContent = p.coaching ? 'Stop coaching' : 'Coach';
  coach.setAttribute('aria-label', `${p.coaching ? 'Stop coaching by' : 'Coach another caller as'} ${who}`);
  const kick = $('.act-kick', el);
  kick.textContent = 'Kick';
  kick.setAttribute('aria-label', `Remove ${who} from the room`);
}

// --- recordings ---------------------------------------------------------------------------

async function refreshRecordings() {
  let list;
  try {
    list = (await api('GET', '/api/recordings')).recordings;
  } catch (error) {
    if (error.message !== 'refused') showError(`Listing recordings failed: ${error.message}`);
    return;
  }
  const table = $('#recordings');
  const tbody = $('tbody', table);
  tbody.replaceChildren(
    ...list.map((r) => {
      const tr = document.createElement('tr');
      const cell = (text, cls) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
        return td;
      };
      cell(r.room);
      cell(r.startedAt ? new Date(r.startedAt).toLocaleString() : '–');
      cell(r.active ? 'recording…' : formatDuration(Math.round(r.durationSeconds)), 'num');
      cell(r.tracks.length ? r.tracks.join(', ') : '–');
      const actions = cell('', 'actions');
      const download = document.createElement('button');
      download.type = 'button';
      download.className = 'small';
      download.textContent = 'Download';
      download.setAttribute('aria-label', `Download the recording of room ${r.room} from ${r.startedAt}`);
      download.disabled = r.active;
      download.addEventListener('click', (e) =>
        act(e.currentTarget, `Download recording of room ${r.room}`, async () => {
          const blob = await api('GET', `/api/recordings/${r.id}`);
          const a = document.createElement('a');
          a.href = URL.createObjectURL(blob);
          a.download = `room-${r.room}-${r.id}.wav`;
          a.click();
          setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
        }),
      );
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'small danger';
      remove.textContent = 'Delete';
      remove.setAttribute('aria-label', `Delete the recording of room ${r.room} from ${r.startedAt}`);
      remove.disabled = r.active;
      remove.addEventListener('click', (e) =>
        act(e.currentTarget, `Delete recording of room ${r.room}`, async () => {
          await api('DELETE', `/api/recordings/${r.id}`);
          await refreshRecordings();
        }),
      );
      actions.append(download, remove);
      return tr;
    }),
  );
  table.hidden = list.length === 0;
  $('#no-recordings').hidden = list.length > 0;
}

// --- forms --------------------------------------------------------------------------------

function wire() {
  $('#alert-close').addEventListener('click', clearError);
  $('#sign-out').addEventListener('click', () => signOut());
  $('#sign-in-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('#token-input').value.trim();
    $('#token-input').value = '';
    sessionStorage.setItem(TOKEN_KEY, token);
    clearError();
    signIn(token);
  });
  $('#create-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const body = { id: String(data.get('id')).trim() };
    const label = String(data.get('label') ?? '').trim();
    const pin = String(data.get('pin') ?? '').trim();
    const seats = String(data.get('maxParticipants') ?? '').trim();
    if (label) body.label = label;
    if (pin) body.pin = pin;
    if (seats) body.maxParticipants = Number(seats);
    const moderatorPin = String(data.get('moderatorPin') ?? '').trim();
    if (moderatorPin) body.moderatorPin = moderatorPin;
    for (const setting of ['waitForModerator', 'startMuted', 'endWhenModeratorLeaves']) if (data.get(setting)) body[setting] = true;
    for (const key of ['waitMusic', 'holdMusic']) {
      const name = String(data.get(key) ?? '').trim();
      if (name) body[key] = name;
    }
    act($('button[type=submit]', form), `Create room ${body.id}`, async () => {
      await api('POST', '/api/rooms', body);
      form.reset();
    });
  });
}

wire();
const token = takeTokenFromFragment();
if (token) signIn(token);
else signOut();
