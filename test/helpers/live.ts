/** The dashboard's live feed (GET /api/live, server-sent events), read as a client does. */
import assert from 'node:assert/strict';

/** Reads the feed until its first `event` and returns that event's data, parsed; then disconnects. */
export async function firstLiveEvent<T>(baseUrl: string, adminToken: string, event: string): Promise<T> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/api/live`, { headers: { authorization: `Bearer ${adminToken}` }, signal: controller.signal });
  assert.equal(res.status, 200);
  const decoder = new TextDecoder();
  const pattern = new RegExp(`event: ${event}\\ndata: (.*)\\n\\n`);
  let text = '';
  try {
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      const m = pattern.exec(text);
      if (m) return JSON.parse(m[1]!) as T;
    }
  } finally {
    controller.abort();
  }
  throw new Error(`the feed ended without a ${event} event: ${text.slice(0, 300)}`);
}

/** One server-sent event as read: its `event:` name and its `data:` parsed. */
export interface LiveEvent {
  event: string;
  data: any;
}

/** The live feed read in the background: every event so far, in order, until `stop`. */
export interface LiveReader {
  readonly events: LiveEvent[];
  /** Waits for an event after those already seen that `predicate` accepts, or fails after `timeoutMs`. */
  next(predicate: (e: LiveEvent) => boolean, what: string, timeoutMs?: number): Promise<LiveEvent>;
  stop(): Promise<void>;
}

/** Connects to the feed and reads it as a browser would, splitting the stream into events. */
export async function readLive(baseUrl: string, adminToken: string): Promise<LiveReader> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/api/live`, { headers: { authorization: `Bearer ${adminToken}` }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: LiveEvent[] = [];
  const decoder = new TextDecoder();
  const reading = (async () => {
    let text = '';
    try {
      for await (const chunk of res.body!) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = text.indexOf('\n\n');
        while (end >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          end = text.indexOf('\n\n');
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          assert.ok(event !== undefined && data !== undefined, `an event with a name and data: ${block.slice(0, 200)}`);
          events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  let seen = 0;
  return {
    events,
    async next(predicate, what, timeoutMs = 3000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        for (; seen < events.length; seen++) if (predicate(events[seen]!)) return events[seen++]!;
        assert.ok(performance.now() < deadline, `timed out waiting on the live feed for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async stop() {
      controller.abort();
      await reading;
    },
  };
}
