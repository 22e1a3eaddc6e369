/**
 * Who is talking: the hook the talk detector reports to. `report(participant, talking)` is called
 * when a caller's confirmed talk starts or stops (server.ts wires the conference's
 * `participantSpeech` event, which the room's talk detector drives); the admin API reads
 * `isTalking`, and the status callbacks turn the changes into participant-speech-start / -stop.
 * Nothing here makes an event up: no report, no event.
 */
import { EventEmitter } from 'node:events';
import type { Participant } from '../conference/participant.js';

export interface SpeechEvents {
  speech: [participant: Participant, talking: boolean];
}

export class SpeechActivity extends EventEmitter<SpeechEvents> {
  private readonly talking = new Set<string>();

  /** The talk detector's verdict for `participant`. Repeats of the same state are ignored. */
  report(participant: Participant, talking: boolean): void {
    if (this.talking.has(participant.callSid) === talking) return;
    if (talking) this.talking.add(participant.callSid);
    else this.talking.delete(participant.callSid);
    this.emit('speech', participant, talking);
  }

  isTalking(callSid: string): boolean {
    return this.talking.has(callSid);
  }

  /** The participant left: forget it without an event (participant-leave says enough). */
  forget(callSid: string): void {
    this.talking.delete(callSid);
  }
}
