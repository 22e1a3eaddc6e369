/**
 * Prometheus metrics (prom-client) for GET /metrics.
 *
 * Nothing here runs on the mixer's 20 ms path: gauges and the per-call counters are read from the
 * conference, the ticker and the live sessions when Prometheus scrapes; the only things counted as
 * they happen are rare events (a call leaving, a socket closing, a webhook answered), each one
 * addition. A call's counters are folded into the totals when it leaves, so totals never go back.
 */
import { totalmem } from 'node:os';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Conference } from '../conference/conference.js';
import type { Participant } from '../conference/participant.js';
import type { StatusCallbacks } from '../events/statusCallbacks.js';
import type { TwilioStreamEvents } from '../events/twilioStreamEvents.js';
import type { DurationHistogram } from '../timing/histogram.js';
import type { Ticker } from '../timing/ticker.js';

/** What the metrics read of a live media session (media/session.ts ObservedSession has it). */
export interface ObservedSession {
  /** Null until the stream's `start`. */
  readonly callSid: string | null;
  readonly stats: { readonly framesDroppedSlowSocket: number; readonly clears: number; readonly leadMs: number };
}

/**
 * The memory this process may use: the cgroup's limit (a container's, a systemd MemoryMax) when
 * one is set, else the machine's. Node answers no limit as 0, undefined or 2^64 by version and
 * platform; a limit above the machine's memory is no limit either.
 */
export function memoryLimitBytes(constrained: number | undefined = process.constrainedMemory?.(), total: number = totalmem()): number {
  return constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
}

/** Bucket bounds (ms) of the tick-duration histogram: a tick has 20 ms; past 10 ms is trouble. */
export const TICK_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50] as const;
/** Webhook latency buckets (seconds): Twilio waits 15 s, callers notice 0.5 s. */
const WEBHOOK_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** The webhook paths measured; anything else under /voice is `other`. */
const WEBHOOK_ROUTES = new Set(['/voice', '/voice/room', '/voice/pin']);

export interface MetricsSources {
  conference: Conference;
  ticker: Ticker;
  /** The tick's two parts: every room's mixing, then the socket writes. */
  tickParts?: { mix: DurationHistogram; send: DurationHistogram };
  statusCallbacks: StatusCallbacks | null;
  /** Twilio's stream events (<Stream statusCallback>), counted by the webhook. */
  streamEvents?: TwilioStreamEvents;
  /** Event-loop delay p99 and max, ms (from the server's monitor). */
  eventLoopDelayMs: () => { p99: number; max: number };
  /** Twilio signatures are checked (TWILIO_AUTH_TOKEN set): 400/403 answers count as signature failures. */
  signatureChecks: boolean;
  /** Admission by capacity (src/timing/capacity.ts): the last second's utilisation, the verdict, the projection. */
  load?: () => { utilization: number; overloaded: boolean; episodes: number; callersHeld: number | null };
  /** Recordings being written now (0 without the recorder). */
  activeRecordings?: () => number;
  /**
   * A cluster node's view of the cluster, read from the store at scrape time: the nodes with a live
   * heartbeat, and how many of them are draining. Absent for one process; a rejection counts as no
   * node seen (the store cannot be read).
   */
  clusterNodes?: () => Promise<{ live: number; draining: number }>;
}

interface InputTotals {
  framesIn: number;
  concealed: number;
  underruns: number;
  overflowDrops: number;
  driftDrops: number;
  framesMixed: number;
}

const zeroInput = (): InputTotals => ({ framesIn: 0, concealed: 0, underruns: 0, overflowDrops: 0, driftDrops: 0, framesMixed: 0 });

function addInput(into: InputTotals, p: Participant): void {
  const q = p.input.stats;
  into.framesIn += q.framesIn;
  into.concealed += q.concealed;
  into.underruns += q.underruns;
  into.overflowDrops += q.overflowDrops;
  into.driftDrops += q.driftDrops;
  into.framesMixed += p.stats.framesMixed;
}

/** A counter whose value is a running total kept elsewhere: set at scrape time. */
function totalCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: (set: (labels: Record<string, string>, value: number) => void) => void,
): Counter<string> {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read((labels, value) => {
        if (value > 0) this.inc(labels, value);
        else this.inc(labels, 0);
      });
    },
  });
}

/** A DurationHistogram exposed as a Prometheus histogram (ms buckets converted to seconds). */
function durationHistogramMetric(name: string, help: string, source: () => DurationHistogram) {
  return {
    name,
    help,
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    get() {
      const h = source();
      const values: Array<{ metricName: string; labels: Record<string, string>; value: number }> = TICK_BUCKETS_MS.map((ms) => ({
        metricName: `${name}_bucket`,
        labels: { le: String(ms / 1000) },
        value: h.countAtMost(ms),
      }));
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: h.count });
      values.push({ metricName: `${name}_sum`, labels: {}, value: h.sum / 1000 });
      values.push({ metricName: `${name}_count`, labels: {}, value: h.count });
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    reset() {},
  };
}

export class Metrics {
  readonly registry = new Registry();
  /**
   * The live media sessions (for outbound lead and slow-socket drops): the media endpoint adds and
   * removes them; a removed session's counters are folded into the totals.
   */
  readonly sessions: Set<ObservedSession> = new ObservedSessions((session) => this.sessionEnded(session));
  /** Input counters of calls that have left. */
  private readonly goneInput = zeroInput();
  private goneSlowSocketDrops = 0;
  private goneClears = 0;
  private defaultMetrics = false;
  private readonly wsCloses = new Counter({
    name: 'conference_websocket_closes_total',
    help: 'Media Stream WebSockets closed, by close code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  private readonly webhookSeconds = new Histogram({
    name: 'conference_webhook_duration_seconds',
    help: 'Time to answer a Twilio voice webhook, by route and HTTP status',
    labelNames: ['route', 'status'],
    buckets: WEBHOOK_BUCKETS_S,
    registers: [this.registry],
  });
  private readonly signatureFailures = new Counter({
    name: 'conference_signature_failures_total',
    help: 'Requests refused for a missing (HTTP 400 without the header) or wrong (HTTP 403) X-Twilio-Signature: voice webhooks and /media upgrades',
    labelNames: ['route', 'reason'],
    registers: [this.registry],
  });
  private readonly upgradesRefused = new Counter({
    name: 'conference_media_upgrades_refused_total',
    help: 'WebSocket upgrades to /media refused before a socket opened, by HTTP status',
    labelNames: ['status'],
    registers: [this.registry],
  });

  constructor(private readonly sources: MetricsSources) {
    const r = this.registry;
    const { conference, ticker } = sources;
    conference.on('participantLeft', (p) => addInput(this.goneInput, p));

    new Gauge({
      name: 'conference_callers',
      help: 'Participants in rooms now',
      registers: [r],
      collect() {
        this.set(conference.stats().participants);
      },
    });
    new Gauge({
      name: 'conference_rooms',
      help: 'Rooms open now',
      registers: [r],
      collect() {
        this.set(conference.stats().rooms);
      },
    });
    new Gauge({
      name: 'conference_memory_limit_bytes',
      help: "Memory the process may use: its cgroup's limit when one is set, else the machine's memory",
      registers: [r],
      collect() {
        this.set(memoryLimitBytes());
      },
    });
    totalCounter(r, 'conference_ticks_total', 'Mixer ticks run', [], (set) => set({}, ticker.stats.ticks));
    totalCounter(r, 'conference_late_ticks_total', 'Mixer ticks that started half a period or more after their deadline', [], (set) =>
      set({}, ticker.stats.lateTicks),
    );
    totalCounter(r, 'conference_skipped_ticks_total', 'Mixer ticks skipped when the clock resynchronised after a long stall', [], (set) =>
      set({}, ticker.stats.skippedTicks),
    );
    r.registerMetric(
      durationHistogramMetric('conference_tick_duration_seconds', 'Work time of one mixer tick (all rooms)', () => ticker.tickDuration) as never,
    );
    const parts = sources.tickParts;
    if (parts) {
      r.registerMetric(durationHistogramMetric('conference_tick_mix_seconds', 'Part of a mixer tick spent mixing (every room)', () => parts.mix) as never);
      r.registerMetric(
        durationHistogramMetric(
          'conference_tick_send_seconds',
          'Part of a mixer tick spent handing frames to the sockets (one write per listener)',
          () => parts.send,
        ) as never,
      );
    }
    r.registerMetric(
      durationHistogramMetric('conference_tick_lateness_seconds', 'How late each mixer tick started after its deadline', () => ticker.lateness) as never,
    );

    totalCounter(r, 'conference_frames_in_total', '20 ms frames received from callers', [], (set) => set({}, this.inputTotals().framesIn));
    totalCounter(r, 'conference_frames_out_total', '20 ms frames of mix sent to callers', [], (set) => set({}, conference.stats().framesSent));
    totalCounter(r, 'conference_frames_concealed_total', "Frames concealed because the caller's frame had not arrived at its tick", [], (set) =>
      set({}, this.inputTotals().concealed),
    );
    totalCounter(
      r,
      'conference_frames_dropped_total',
      'Frames dropped, by reason (jitter buffer full, standing delay taken back, outbound socket not draining)',
      ['reason'],
      (set) => {
        const t = this.inputTotals();
        set({ reason: 'overflow' }, t.overflowDrops);
        set({ reason: 'drift' }, t.driftDrops);
        set({ reason: 'slow_socket' }, this.goneSlowSocketDrops + this.sum((s) => s.stats.framesDroppedSlowSocket));
      },
    );
    totalCounter(r, 'conference_outbound_clears_total', '`clear` messages sent because audio queued at Twilio grew past OUTBOUND_MAX_LEAD_MS', [], (set) =>
      set({}, this.goneClears + this.sum((s) => s.stats.clears)),
    );
    const self = this;
    new Gauge({
      name: 'conference_jitter_buffer_depth_frames',
      help: "Frames waiting in the callers' jitter buffers now (mean and max over callers)",
      labelNames: ['stat'],
      registers: [r],
      collect() {
        setMeanMax(
          this,
          (function* () {
            for (const room of conference.listRooms()) for (const p of room.participants()) yield p.input.stats.depth;
          })(),
        );
      },
    });
    new Gauge({
      name: 'conference_outbound_lead_seconds',
      help: "Audio queued at Twilio ahead of the callers' ears, as the last mark measured (mean and max over calls)",
      labelNames: ['stat'],
      registers: [r],
      collect() {
        setMeanMax(
          this,
          (function* () {
            for (const s of self.sessions) if (s.callSid !== null) yield s.stats.leadMs / 1000;
          })(),
        );
      },
    });
    new Gauge({
      name: 'conference_event_loop_delay_seconds',
      help: 'Event-loop delay since start (p99 and max)',
      labelNames: ['stat'],
      registers: [r],
      collect() {
        const d = sources.eventLoopDelayMs();
        this.set({ stat: 'p99' }, d.p99 / 1000);
        this.set({ stat: 'max' }, d.max / 1000);
      },
    });
    const load = sources.load;
    if (load) {
      new Gauge({
        name: 'conference_event_loop_utilization',
        help: 'Share of the last second the event loop was busy (0..1)',
        registers: [r],
        collect() {
          this.set(load().utilization);
        },
      });
      new Gauge({
        name: 'conference_overloaded',
        help: '1 while a new call would be refused because the steady state with it would not fit (OVERLOAD_BUSY_PERCENT of the event loop)',
        registers: [r],
        collect() {
          this.set(load().overloaded ? 1 : 0);
        },
      });
      totalCounter(r, 'conference_overload_episodes_total', 'Times admission began refusing new calls for capacity', [], (set) => set({}, load().episodes));
      new Gauge({
        name: 'conference_capacity_callers',
        help: 'Callers this process is projected to hold within OVERLOAD_BUSY_PERCENT of the event loop (-1: not known yet, or no limit)',
        registers: [r],
        collect() {
          this.set(load().callersHeld ?? -1);
        },
      });
    }
    totalCounter(
      r,
      'conference_status_callbacks_total',
      'Status callbacks, by outcome (delivered, failed: gave up after the retries, dropped: queue full)',
      ['outcome'],
      (set) => {
        const s = sources.statusCallbacks?.stats;
        set({ outcome: 'delivered' }, s?.delivered ?? 0);
        set({ outcome: 'failed' }, s?.failed ?? 0);
        set({ outcome: 'dropped' }, s?.dropped ?? 0);
      },
    );
    totalCounter(
      r,
      'conference_twilio_stream_events_total',
      "Twilio's reports on the media streams (<Stream statusCallback>), by event (stream-started, stream-stopped, stream-error) and, for errors, Twilio's error code",
      ['event', 'code'],
      (set) => {
        const events = sources.streamEvents;
        set({ event: 'stream-started', code: '' }, events?.totals.started ?? 0);
        set({ event: 'stream-stopped', code: '' }, events?.totals.stopped ?? 0);
        for (const [code, count] of events?.errorsByCode ?? []) set({ event: 'stream-error', code }, count);
      },
    );
    const clusterNodes = sources.clusterNodes;
    if (clusterNodes) {
      // One read of the store per scrape serves both gauges: a scrape collects every metric at once,
      // so the second gauge finds the first one's read in flight.
      let reading: Promise<{ live: number; draining: number }> | null = null;
      const read = () => {
        reading ??= clusterNodes()
          .catch(() => ({ live: 0, draining: 0 }))
          .finally(() => {
            reading = null;
          });
        return reading;
      };
      new Gauge({
        name: 'conference_cluster_nodes',
        help: 'Cluster nodes with a live heartbeat, as this node reads the store (itself included; 0 when it cannot read the store)',
        registers: [r],
        async collect() {
          this.set((await read()).live);
        },
      });
      new Gauge({
        name: 'conference_cluster_nodes_draining',
        help: 'Of conference_cluster_nodes, those draining (taking no new rooms)',
        registers: [r],
        async collect() {
          this.set((await read()).draining);
        },
      });
    }
    new Gauge({
      name: 'conference_recordings_active',
      help: 'Recordings being written now',
      registers: [r],
      collect() {
        this.set(sources.activeRecordings?.() ?? 0);
      },
    });
  }

  /** A media session has ended: keep its counters in the totals. */
  sessionEnded(session: ObservedSession): void {
    this.goneSlowSocketDrops += session.stats.framesDroppedSlowSocket;
    this.goneClears += session.stats.clears;
  }

  /** A Media Stream WebSocket closed with this code (1000, 1001, 1008 ...). */
  webSocketClosed(code: number): void {
    this.wsCloses.inc({ code: String(code) });
  }

  /**
   * A voice webhook was answered: its route ('other' for one not known), status, how long it took,
   * and whether it carried X-Twilio-Signature (http/webhookTimer.ts times them).
   */
  webhookAnswered(path: string, status: number, seconds: number, hasSignature: boolean): void {
    const route = WEBHOOK_ROUTES.has(path) ? path : 'other';
    this.webhookSeconds.observe({ route, status: String(status) }, seconds);
    const reason = this.sources.signatureChecks ? signatureFailure(status, hasSignature) : null;
    if (reason) this.signatureFailures.inc({ route, reason });
  }

  /** A /media upgrade was refused with this HTTP status (see observeUpgrades). */
  upgradeRefused(status: number, hasSignature: boolean): void {
    this.upgradesRefused.inc({ status: String(status) });
    const reason = this.sources.signatureChecks ? signatureFailure(status, hasSignature) : null;
    if (reason) this.signatureFailures.inc({ route: '/media', reason });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text. */
  render(): Promise<string> {
    // The process metrics start with the first scrape: a server nobody scrapes pays nothing.
    if (!this.defaultMetrics) {
      this.defaultMetrics = true;
      collectDefaultMetrics({ register: this.registry, prefix: 'conference_' });
    }
    return this.registry.metrics();
  }

  private inputTotals(): InputTotals {
    const t = { ...this.goneInput };
    for (const room of this.sources.conference.listRooms()) for (const p of room.participants()) addInput(t, p);
    return t;
  }

  private sum(read: (s: ObservedSession) => number): number {
    let total = 0;
    for (const s of this.sessions) total += read(s);
    return total;
  }
}

type VerifyDone = (ok: boolean, code?: number, message?: string) => void;

/**
 * Wraps a WebSocket `verifyClient`, telling `onRefused` of each refusal (its HTTP status, and
 * whether the request carried X-Twilio-Signature) without changing any verdict.
 */
export function observeUpgrades<I extends { req: { headers: Record<string, string | string[] | undefined> } }>(
  verify: (info: I, done: VerifyDone) => void,
  onRefused: (status: number, hasSignature: boolean) => void,
): (info: I, done: VerifyDone) => void {
  return (info, done) =>
    verify(info, (ok, code, message) => {
      if (!ok) onRefused(code ?? 0, info.req.headers['x-twilio-signature'] !== undefined);
      done(ok, code, message);
    });
}

/**
 * Signature refusals (only while signatures are checked): a 400 or 403 to a request without
 * X-Twilio-Signature (missing), or a 403 to one with it (invalid).
 */
function signatureFailure(status: number, hasSignature: boolean): 'invalid' | 'missing' | null {
  if (status !== 400 && status !== 403) return null;
  if (!hasSignature) return 'missing';
  return status === 403 ? 'invalid' : null;
}

/** A Set of live sessions that tells the metrics when one is removed (its socket closed). */
class ObservedSessions extends Set<ObservedSession> {
  constructor(private readonly onRemoved: (session: ObservedSession) => void) {
    super();
  }

  override delete(session: ObservedSession): boolean {
    if (this.has(session)) this.onRemoved(session);
    return super.delete(session);
  }
}

/** Sets a gauge's `stat="mean"` and `stat="max"` from values read at scrape time (0 for none). */
function setMeanMax(gauge: { set(labels: { stat: string }, value: number): void }, values: Iterable<number>): void {
  let n = 0;
  let sum = 0;
  let max = 0;
  for (const v of values) {
    n++;
    sum += v;
    if (v > max) max = v;
  }
  gauge.set({ stat: 'mean' }, n ? sum / n : 0);
  gauge.set({ stat: 'max' }, max);
}
