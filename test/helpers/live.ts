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
