/**
 * Announcements (issue 17, as Twilio's announceUrl): a clip from the audio library played once to a
 * whole room or to one caller in it, through Room.play's cues, mixed with the conversation. Each
 * has an id (`AN` + 32 hex digits); `ended` reports it when it has played to its end, the
 * `announcement-end` status callback. One stopped early (the room closed, the caller it was for left)
 * ends with `completed: false`.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Conference } from '../conference/conference.js';
import type { Room } from '../conference/room.js';

export interface Announcement {
  id: string;
  room: string;
  audio: string;
  /** The one caller it is for (a CallSid), or null for the whole room. */
  to: string | null;
  durationMs: number;
}

export interface AnnouncementEvents {
  /** Played to its end (completed), or stopped early: the room closed, or its caller left. */
  ended: [announcement: Announcement, completed: boolean];
}

export class Announcements extends EventEmitter<AnnouncementEvents> {
  /** Playing now, by room, by cue id. */
  private readonly playing = new Map<Room, Map<number, Announcement>>();

  constructor(private readonly conference: Conference) {
    super();
    conference.on('cueEnded', (room, cueId) => this.finish(room, cueId, true));
    conference.on('roomClosed', (room) => {
      const cues = this.playing.get(room);
      this.playing.delete(room);
      for (const a of cues?.values() ?? []) this.emit('ended', a, false);
    });
    conference.on('participantLeft', (p, room, reason) => {
      // A newer stream of the same call takes its place at once: it goes on hearing it.
      if (reason === 'replaced') return;
      for (const [cueId, a] of this.playing.get(room) ?? []) {
        if (a.to === p.callSid) {
          room.stopCue(cueId);
          this.finish(room, cueId, false);
        }
      }
    });
  }

  /**
   * Plays `pcm` (the clip `audio`) in `room`, to everyone or to the caller `to` only, from the next
   * tick on. The caller must be in the room (the admin API checks).
   */
  play(room: Room, audio: string, pcm: Int16Array, to: string | null): Announcement {
    const announcement: Announcement = { id: `AN${randomBytes(16).toString('hex')}`, room: room.id, audio, to, durationMs: Math.round(pcm.length / 8) };
    const cueId = room.play(pcm, { target: to === null ? { kind: 'all' } : { kind: 'only', callSid: to } });
    const cues = this.playing.get(room) ?? new Map<number, Announcement>();
    this.playing.set(room, cues);
    cues.set(cueId, announcement);
    return announcement;
  }

  /** Playing now in the room `roomId`. */
  list(roomId: string): Announcement[] {
    const room = this.conference.room(roomId);
    return room ? [...(this.playing.get(room)?.values() ?? [])] : [];
  }

  private finish(room: Room, cueId: number, completed: boolean): void {
    const cues = this.playing.get(room);
    const a = cues?.get(cueId);
    if (!cues || !a) return;
    cues.delete(cueId);
    if (cues.size === 0) this.playing.delete(room);
    this.emit('ended', a, completed);
  }
}
