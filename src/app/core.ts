/**
 * The conference core without any transport: the rooms and their mixer, seats, join tickets,
 * admission (by rooms, PINs, limits and capacity), where rooms are stored and who owns them (this
 * process, or a cluster node with REDIS_URL), room sounds and in-call keys, speech and status
 * events, recordings, and `endRoom`, the one way a room is ended on purpose.
 *
 * No HTTP, no WebSocket, no timers of its own but the capacity sampler's and a cluster node's
 * (both started by the server): a test can build it and drive the conference with a manual clock.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join as joinPath, resolve as resolvePath } from 'node:path';
import type { Config } from '../config.js';
import { createClusterNode, type ClusterNode } from '../cluster/node.js';
import { LocalCallOutcomes, LocalOwnership, type CallOutcomes, type RoomOwnership } from '../rooms/ownership.js';
import { CallStates, SqliteKeptCallStore } from '../rooms/callStates.js';
import { CoachingRejoins } from '../rooms/coachingRejoins.js';
import { SqliteInviteStore } from '../rooms/sqliteInviteStore.js';
import { Conference, type LeftCoaching } from '../conference/conference.js';
import type { Participant } from '../conference/participant.js';
import { LEAVE_REASONS } from '../conference/leaveReason.js';
import type { RoomDirectory } from '../rooms/directory.js';
import { InCallKeys } from '../conference/inCallKeys.js';
import { Moderation } from '../conference/moderation.js';
import { RoomAudio } from '../conference/roomAudio.js';
import { SpeechActivity } from '../events/speech.js';
import { StatusCallbacks } from '../events/statusCallbacks.js';
import { TwilioStreamEvents } from '../events/twilioStreamEvents.js';
import { DialOuts } from '../http/dialOut.js';
import { twilioCallControl, twilioDialer, type CallControl, type Dialer, type TwilioHttpClient } from '../http/callControl.js';
import type { Logger } from '../log.js';
import type { HealthMonitor } from '../observability/health.js';
import { Announcements } from '../library/announcements.js';
import { AudioLibrary, bundledPrompt } from '../library/audioLibrary.js';
import { RoomMusic, roomMusicOf } from '../library/roomMusic.js';
import { Recordings } from '../recording/recordings.js';
import { Admission } from '../rooms/admission.js';
import { moderationSettings, toggleRoomLock } from '../rooms/roomModeration.js';
import { applyRoomSoundSettings, roomSoundPatch } from '../rooms/roomSound.js';
import { SeatLedger } from '../rooms/seats.js';
import { SqliteRoomDirectory } from '../rooms/sqliteDirectory.js';
import { Invites } from '../security/invite.js';
import { JoinTickets } from '../security/joinTicket.js';
import { loadOrCreateServerKey } from '../security/serverKey.js';
import { Capacity } from '../timing/capacity.js';
import { systemClock, type Clock } from '../timing/clock.js';
import { LoadSampler } from '../timing/loadSampler.js';

export interface CoreDeps {
  log: Logger;
  /** Monotonic ms: the mixer's, the seats' and the recordings' clock. */
  clock: Clock;
  /** Wall clock (Unix ms) for join-ticket expiry. Default: Date.now. */
  wallClock?: Clock;
  /** Default: the cluster's (REDIS_URL), else SQLite at ROOMS_DB_PATH. */
  directory?: RoomDirectory;
  /** Default: Twilio's REST API when TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN are set. */
  callControl?: CallControl;
  /** Where twilio's client sends its requests (default: Twilio's own client, to api.twilio.com); a test's stand-in. */
  twilioHttpClient?: TwilioHttpClient;
  /** Read for a cluster node's heartbeat (tick and event-loop p99). */
  health: HealthMonitor;
}

/** Why a room is ended on purpose: by the admin API, or moved away by the cluster's fence. */
export type EndRoomReason = 'room-closed' | 'moved' | 'moderator-left';

export interface Core {
  readonly conference: Conference;
  readonly seats: SeatLedger;
  readonly tickets: JoinTickets;
  /** Invite links for /join (signed with the tickets' key; kept in the rooms database with a file). */
  readonly invites: Invites;
  readonly admission: Admission;
  /** The talk detector's hook: report(participant, talking) -> speaking indicator and speech events. */
  readonly speech: SpeechActivity;
  /** Null without STATUS_CALLBACK_URL. */
  readonly statusCallbacks: StatusCallbacks | null;
  /** Twilio's reports on each media stream (<Stream statusCallback>), counted. */
  readonly streamEvents: TwilioStreamEvents;
  readonly recordings: Recordings;
  readonly directory: RoomDirectory;
  /** Who mixes which room: always this process, or the cluster's leases and fence. */
  readonly ownership: RoomOwnership;
  /** This node of a cluster (REDIS_URL), or null for one process. */
  readonly cluster: ClusterNode | null;
  /** Admission by capacity: the once-a-second sampler the mixer clock reports its ticks to. */
  readonly load: LoadSampler;
  readonly callControl: CallControl | undefined;
  /** Calls that ended on purpose: their rejoin request is answered with a goodbye. */
  readonly outcomes: CallOutcomes;
  /** What each call had in its room (seat, mute, hold, volume), kept for its rejoin. */
  readonly callStates: CallStates;
  /**
   * One process with RESTART_PAUSE_SECONDS and a database file: on shutdown the calls are told to
   * wait and rejoin the next process (src/server.ts). False: they hear twiml/restarting.xml.
   */
  readonly restartable: boolean;
  /** Places calls (dial-outs) through Twilio's REST API; undefined without Twilio credentials. */
  readonly dialer: Dialer | undefined;
  /** The dial-outs placed by this process: their passes, statuses and counts. */
  readonly dialOuts: DialOuts;
  /** Moderated rooms: waiting for the moderator, startMuted, the end when the moderator leaves. */
  readonly moderation: Moderation;
  /** Named 8 kHz clips: the bundled music and the operator's uploads (AUDIO_DIR). */
  readonly library: AudioLibrary;
  /** Each open room's wait and hold music; `waitAudioFor(room)` is what a waiting caller hears. */
  readonly music: RoomMusic;
  /** Clips played to a room or one caller (POST /api/rooms/<id>/announcements). */
  readonly announcements: Announcements;
  /**
   * Ends a room: every stream in it closes with `reason` and its reserved seats are released.
   * False when no stream was open in it.
   */
  endRoom(room: string, reason: EndRoomReason): boolean;
  /** A cluster node going down: every call's state shared (Redis) for its rejoin on another node. */
  shareCallStates(): Promise<void>;
  /** Closes what the core opened beside the directory (its database connections). */
  close(): void;
}

export function createCore(config: Readonly<Config>, deps: CoreDeps): Core {
  const { log, clock, health } = deps;
  const conference = new Conference({
    log,
    echoWhenAlone: config.echoWhenAlone,
    maxActiveSpeakers: config.maxActiveSpeakers,
    agc: config.agc,
    comfortNoiseDbfs: config.comfortNoiseDbfs,
    talk: { floorCeilingDbfs: config.talkFloorCeilingDbfs },
    audio: { noiseSuppression: config.noiseSuppression },
  });
  conference.on('roomOpened', (room) => log.info({ room: room.id }, 'room opened'));
  conference.on('roomClosed', (room) => log.info({ room: room.id }, 'room closed'));
  conference.on('roomFailed', (room, error) => log.error({ room: room.id, err: error }, 'room tick failed; room closed, others keep mixing'));
  const seats = new SeatLedger(clock);
  // A new call is refused when the steady state with it would not fit (timing/capacity.ts).
  const load = new LoadSampler({
    capacity: new Capacity({ budget: config.overloadBusyFraction }),
    clock,
    callers: () => conference.stats().participants,
    seatsTaken: () => seats.total(),
    onChange: (overloaded, figures) => {
      if (overloaded) log.warn(figures, 'at capacity: new calls hear busy.xml until calls leave; calls in progress go on');
      else log.info(figures, 'below capacity again: admitting new calls');
    },
  });

  // With REDIS_URL this process is one node of a cluster: rooms, leases and nodes live in Redis.
  const cluster = config.redisUrl
    ? createClusterNode({
        config,
        clock,
        log,
        load: () => {
          const c = conference.stats();
          const loopDelayP99Ms = health.loopDelayMs().p99;
          return { rooms: c.rooms, calls: c.participants, tickP99Ms: health.tickMs.summary().p99, loopDelayP99Ms, overloaded: load.overloaded };
        },
        inUse: (room) => conference.room(room) !== undefined || seats.isOpen(room),
      })
    : null;
  const ownership: RoomOwnership = cluster?.ownership ?? new LocalOwnership();
  const directory = deps.directory ?? cluster?.directory ?? new SqliteRoomDirectory(config.roomsDbPath);
  const rest = config.twilioAccountSid && config.twilioAuthToken ? { sid: config.twilioAccountSid, token: config.twilioAuthToken } : undefined;
  const callControl = deps.callControl ?? (rest ? twilioCallControl(rest.sid, rest.token, deps.twilioHttpClient) : undefined);
  const dialer = rest ? twilioDialer(rest.sid, rest.token, deps.twilioHttpClient) : undefined;

  // One process with a database file keeps what it needs across a restart beside that file: its
  // signing key (without JOIN_TICKET_SECRET) and, at shutdown, the calls in progress.
  const persistent = !cluster && config.roomsDbPath !== ':memory:' && config.roomsDbPath !== '';
  const ticketSecret = config.joinTicketSecret
    ? Buffer.from(config.joinTicketSecret, 'utf8')
    : persistent
      ? loadOrCreateServerKey(joinPath(dirname(resolvePath(config.roomsDbPath)), 'server.key'))
      : randomBytes(32);
  const wallClock = deps.wallClock ?? systemClock;
  const callStates = new CallStates({
    clock: wallClock,
    store: persistent ? new SqliteKeptCallStore(config.roomsDbPath) : null,
    // A cluster: every node reads what a call had, wherever it rejoins.
    shared: cluster?.keptCalls ?? null,
    onSharedError: (callSid, error) => log.warn({ callSid, err: error }, "cluster: could not share the call's state (a rejoin on another node starts afresh)"),
  });
  const restored = callStates.load();
  if (restored > 0) log.info({ calls: restored }, 'calls of the previous process wait to rejoin their rooms');
  const restartable = persistent && config.restartPauseSeconds > 0;
  const tickets = new JoinTickets({ secret: ticketSecret, ttlMs: config.joinTicketTtlSeconds * 1000, clock: wallClock });
  const inviteStore = persistent ? new SqliteInviteStore(config.roomsDbPath) : null;
  const invites = new Invites({ secret: ticketSecret, clock: wallClock, store: inviteStore });
  const admission = new Admission({
    directory,
    seats,
    tickets,
    clock,
    limits: { maxRooms: config.maxRooms, maxParticipantsPerRoom: config.maxParticipantsPerRoom, maxParticipants: config.maxParticipants },
    autoCreate: config.autoCreateRooms,
    pinAttempts: config.pinAttempts,
    ...(ownership.clustered ? { mayStart: (room: string, epoch: number) => ownership.mayStart(room, epoch) } : {}),
    admitsCallers: (callers) => load.admits(callers),
    onSetup: () => load.setUp(),
    // Each admitted call brings its room's stored moderation settings, so they are known when the room opens.
    onReserve: (room, record) => {
      const settings = moderationSettings(record);
      moderation.configure(room, settings);
      // A cluster: a room opening here may have started on the node it moved from.
      if (cluster && settings.waitForModerator && !conference.room(room) && !moderation.hasStarted(room)) {
        cluster.roomStarts.isStarted(room).then(
          // (Not for a room its callers have all left meanwhile: its next opening is a new conference.)
          (started) => started && (conference.room(room) !== undefined || seats.isOpen(room)) && moderation.markStarted(room),
          (error: unknown) => log.warn({ room, err: error }, 'cluster: could not read whether the room has started (it may wait for its moderator)'),
        );
      }
    },
  });
  const endRoom = (room: string, reason: EndRoomReason): boolean => {
    const ended = conference.closeRoom(room, reason);
    admission.roomEnded(room);
    return ended;
  };
  // The fence: a room whose lease this node lost is not mixed one more tick; its callers rejoin.
  ownership.on('fenced', (room) => endRoom(room, 'moved'));
  // A call that ended on purpose is not rejoined by the rejoin webhook; any other keeps what it
  // had for its rejoin (a dropped stream, a restart).
  const outcomes: CallOutcomes = cluster?.outcomes ?? new LocalCallOutcomes(clock);
  /** What a participant has now, as kept for its rejoin (`left`: its coaching as it left). */
  const keptOf = (p: Participant, room: string, seat: number, left?: LeftCoaching) => {
    const role = { ...(p.info.moderator ? { moderator: true } : {}), ...(p.info.label !== undefined ? { label: p.info.label } : {}) };
    const coaching = left ? left.coached : p.coaching;
    const coaches = left?.coaches.map((c) => ({ callSid: c.callSid, muted: c.muted, ...(c.hardMuted ? { hardMuted: true } : {}) })) ?? [];
    return {
      room,
      seat,
      state: {
        muted: p.muted,
        ...(p.hardMuted ? { hardMuted: true } : {}),
        onHold: p.onHold,
        listenVolumeDb: p.listenVolumeDb,
        ...(coaching !== null ? { coaching } : {}),
        ...(coaches.length > 0 ? { coaches } : {}),
      },
      ...(role.moderator || role.label !== undefined ? { role } : {}),
    };
  };
  conference.on('participantLeft', (p, room, reason, coaching) => {
    if (LEAVE_REASONS[reason].endedOnPurpose) return outcomes.markEnded(p.callSid, reason);
    if (reason === 'replaced' || p.info.seat === undefined) return;
    callStates.keep(p.callSid, keptOf(p, room.id, p.info.seat, coaching));
  });
  // Back from a rejoin or a restart: the coaching it had, once both calls are in the room again.
  new CoachingRejoins({ conference, clock: wallClock, log, ttlMs: callStates.ttlMs });
  // A cluster also shares a live call's state as it changes (join, mute, hold, volume): its node
  // may die without a leave.
  if (callStates.shared) {
    const share = (p: Participant) => {
      if (p.info.seat !== undefined) callStates.share(p.callSid, keptOf(p, p.roomId, p.info.seat));
    };
    conference.on('participantJoined', share);
    conference.on('participantMuted', share);
    conference.on('participantHeld', share);
    conference.on('participantVolume', share);
    conference.on('participantCoaching', share);
  }
  /** A cluster node going down: every call's state to the shared copy, answered before it closes. */
  const shareCallStates = async () => {
    for (const room of conference.listRooms()) {
      for (const p of room.participants()) if (p.info.seat !== undefined) callStates.share(p.callSid, keptOf(p, room.id, p.info.seat));
    }
    await callStates.flushShared();
  };

  const speech = new SpeechActivity();
  // The talk detector's confirmed talk -> speaking indicator (admin API) and speech callbacks.
  conference.on('participantSpeech', (p, talking) => speech.report(p, talking));
  conference.on('participantLeft', (p, room, reason) => {
    admission.participantLeft(room.id, p.callSid, reason);
    if (reason !== 'replaced') speech.forget(p.callSid);
  });
  const library = new AudioLibrary({ dir: resolvePath(config.audioDir), log });
  const music = new RoomMusic({ conference, directory, library, log, defaults: { waitMusic: config.waitMusic, holdMusic: config.holdMusic } });
  const othersHearJoinBeep = config.beep === 'on' || config.beep === 'onEnter';
  // Spoken, bundled (tools/make-prompts.sh): what a caller a moderator muted hears.
  const moderatorMuted = bundledPrompt('moderator-muted');
  // Constructed before the room sounds: a room that waits for its moderator is marked so at roomOpened.
  // The one place the wait sound is chosen: the room's wait music, else WAIT_MUSIC, else the chime.
  const moderation: Moderation = new Moderation(conference, {
    waitSound: (room) => music.waitAudioFor(room.id),
    mutedPrompt: moderatorMuted,
    endRoom: (room) => endRoom(room, 'moderator-left'),
    schedule: (fn, ms) => setTimeout(fn, ms).unref(),
    othersHearJoinBeep,
    log,
  });
  const roomAudio = new RoomAudio(conference, {
    beep: config.beep,
    waitTone: config.waitTone,
    echoWhenAlone: config.echoWhenAlone,
    waitAudio: (room) => (music.hasWaitMusic(room) ? music.waitAudioFor(room) : null),
  });
  music.on('changed', (room) => {
    roomAudio.restartWaiting(room);
    moderation.restartWaitSound(room);
  });
  // A lone caller's wait loop gives way to the room's wait for its moderator, and comes back after it.
  moderation.on('waiting', (room) => roomAudio.restartWaiting(room));
  moderation.on('started', (room) => roomAudio.restartWaiting(room));
  if (cluster) {
    const starts = cluster.roomStarts;
    moderation.on('startedMark', (room, started) => {
      (started ? starts.mark(room) : starts.clear(room)).catch((error: unknown) =>
        log.warn({ room, started, err: error }, 'cluster: could not share whether the room has started (a move may make its callers wait)'),
      );
    });
  }
  const announcements = new Announcements(conference);
  applyRoomSoundSettings(conference, directory, log);
  if (cluster) applyChangedSettings(cluster, { conference, directory, moderation, music, log });
  new InCallKeys(conference, clock, log, (room) => toggleRoomLock(directory, room), moderatorMuted);
  const statusCallbacks = config.statusCallbackUrl ? new StatusCallbacks({ url: config.statusCallbackUrl, secret: config.statusCallbackSecret, log }) : null;
  statusCallbacks?.attach(conference, speech, moderation);
  const recordings = new Recordings({ conference, dir: resolvePath(config.recordingsDir), mode: config.recordRooms, tracks: config.recordTracks, log });
  recordings.on('started', (r) => statusCallbacks?.enqueue('recording-started', { FriendlyName: r.room, Room: r.room, RecordingSid: r.id }));
  recordings.on('stopped', (r) => {
    const duration = String(Math.round(r.durationSeconds));
    statusCallbacks?.enqueue('recording-stopped', { FriendlyName: r.room, Room: r.room, RecordingSid: r.id, RecordingDuration: duration });
  });

  announcements.on('ended', (a, completed) => {
    log.info({ room: a.room, announcement: a.id, audio: a.audio, to: a.to, completed }, 'announcement ended');
    const fields: Record<string, string> = { FriendlyName: a.room, Room: a.room, AnnouncementSid: a.id, Audio: a.audio, Completed: String(completed) };
    if (a.to !== null) fields['CallSid'] = a.to;
    statusCallbacks?.enqueue(completed ? 'announcement-end' : 'announcement-fail', fields);
  });

  const streamEvents = new TwilioStreamEvents();
  // A dial-out's progress (Twilio's StatusCallback) goes to the operator as status callbacks.
  const dialOuts = new DialOuts({
    secret: ticketSecret,
    clock: deps.wallClock ?? systemClock,
    onEvent: (event, d, callStatus) => {
      const fields: Record<string, string> = {
        FriendlyName: d.room,
        Room: d.room,
        CallSid: d.callSid ?? '',
        To: d.to,
        CallStatus: callStatus,
        Moderator: String(d.moderator),
      };
      if (d.label) fields['Label'] = d.label;
      statusCallbacks?.enqueue(event, fields);
    },
  });
  conference.on('participantJoined', (p) => dialOuts.joined(p.callSid));

  return {
    conference,
    seats,
    tickets,
    invites,
    admission,
    speech,
    statusCallbacks,
    streamEvents,
    recordings,
    directory,
    ownership,
    cluster,
    load,
    callControl,
    outcomes,
    callStates,
    restartable,
    dialer,
    dialOuts,
    moderation,
    library,
    music,
    announcements,
    endRoom,
    shareCallStates,
    close() {
      callStates.close();
      inviteStore?.close();
    },
  };
}

/**
 * A cluster: a room's settings written through another node (a rooms file imported there; a PATCH
 * is forwarded to the room's node and applied there) reach the room open here within a heartbeat.
 * When the shared directory's revision changes, each room open here is read again and its sound,
 * moderation and music applied as PATCH /api/rooms/:id applies them, if they differ from what this
 * watch last applied (applying is idempotent: a room seen for the first time is applied once).
 */
function applyChangedSettings(
  cluster: ClusterNode,
  deps: { conference: Conference; directory: RoomDirectory; moderation: Moderation; music: RoomMusic; log: Logger },
): void {
  const { conference, directory, moderation, music, log } = deps;
  const applied = new Map<string, string>();
  let running: Promise<void> | null = null;
  let again = false;
  const reread = async () => {
    for (const id of applied.keys()) if (!conference.room(id)) applied.delete(id);
    for (const room of conference.listRooms()) {
      const record = await directory.get(room.id);
      if (!record || room.isClosed) continue;
      const sound = roomSoundPatch(record);
      const moderated = moderationSettings(record);
      const clips = roomMusicOf(record);
      const settings = JSON.stringify([sound, moderated, clips]);
      if (applied.get(room.id) === settings) continue;
      applied.set(room.id, settings);
      conference.configureRoom(room.id, sound);
      moderation.configure(room.id, moderated);
      music.set(room.id, clips);
      log.info({ room: room.id, ...room.audio }, 'cluster: room settings changed elsewhere applied');
    }
  };
  const run = () => {
    if (running) {
      again = true;
      return;
    }
    running = reread()
      .catch((error: unknown) => log.warn({ err: error instanceof Error ? error.message : String(error) }, 'cluster: changed room settings not read'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
  };
  cluster.onRoomsChanged(run);
}
