/**
 * Issue 8: the proxy in front of a cluster. The shipped nginx file is the renderer's output (no
 * drift) and Debian's nginx accepts it; the launcher starts 3 real node processes, a real
 * redis-server and a real nginx on loopback, and nginx routes /p/<k>/ to node k (WebSocket
 * upgrades too), spreads everything else, skips a node killed with -9, and stop() leaves nothing
 * running. nginx alone never times out a stream whose node went silent while the caller talks
 * (issue 16: why the launcher watches /health). Skipped (outside CI only) without redis-server or nginx.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect as connectTcp, createServer as createNetServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { childPids, NGINX_PATH, nginxSkipReason, startCluster, type Cluster } from '../../tools/cluster/launcher.js';
import { DEFAULT_HUNG_AFTER_MS } from '../../tools/cluster/hangWatch.js';
import { exampleSite, renderNginxConf, renderNginxSite } from '../../tools/cluster/nginxConfig.js';
import { redisServerSkipReason } from '../../tools/cluster/redisServer.js';
import { blankConfigEnv, CLUSTER_LAUNCHER_KEYS } from '../helpers/server.js';

const SHIPPED = fileURLToPath(new URL('../../deploy/nginx/conference.conf', import.meta.url));
const WATCHDOG_UNIT = fileURLToPath(new URL('../../deploy/systemd/conference-watchdog.service', import.meta.url));
const run = promisify(execFile);

// A throwaway self-signed P-256 certificate and key (CN=conference.example.com, valid to 2126),
// only so `nginx -t` can load the shipped file's ssl_certificate lines. Never used for traffic.
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmTCCAT+gAwIBAgIUNMP+NPSs5fyv0TbS/7uv/zdnECYwCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWY29uZmVyZW5jZS5leGFtcGxlLmNvbTAgFw0yNjExMjExNDEx
MjJaGA8yMTI2MTAyODE0MTEyMlowITEfMB0GA1UEAwwWY29uZmVyZW5jZS5leGFt
cGxlLmNvbTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIdluiFNKh729PUqKq94
MrvJ2smMbnVi7nb6GOeWDznh6Mz8aBMh+5TeU7gNiHSNvElMTfYu36+d1NwJi0Jn
o1CjUzBRMB0GA1UdDgQWBBQm3RGIOHXsxAKKSP91li332fl8ejAfBgNVHSMEGDAW
gBQm3RGIOHXsxAKKSP91li332fl8ejAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49
BAMCA0gAMEUCIBpWnw2S3Xhk4IMBBCQcVtXbq4KEgF+9dEtwvzP6aUFhAiEAxqBn
KcKMvvFxrWG3LNwgmptuCwZFBanQ7nnSZjYdhvw=
-----END CERTIFICATE-----
`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnycV2wEOfI2LYQv+
1pr+kt/L25tImxf8TTnocDvCXvehRANCAASHZbohTSoe9vT1KiqveDK7ydrJjG51
Yu52+hjnlg854ejM/GgTIfuU3lO4DYh0jbxJTE32Lt+vndTcCYtCZ6NQ
-----END PRIVATE KEY-----
`;

const nginxSkip = nginxSkipReason();
const clusterSkip = redisServerSkipReason() ?? nginxSkip;

describe('nginx config (deploy/nginx/conference.conf)', () => {
  it("the shipped file is the renderer's output for the example (2 nodes, TLS)", () => {
    const shipped = readFileSync(SHIPPED, 'utf8');
    assert.equal(shipped, renderNginxSite(exampleSite()), 'regenerate it: npx tsx tools/cluster/nginxConfig.ts > deploy/nginx/conference.conf');
  });

  it("the watchdog's systemd unit watches the shipped site's nodes (deploy/systemd/conference-watchdog.service)", () => {
    const unit = readFileSync(WATCHDOG_UNIT, 'utf8');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    const watched = [...execStart.matchAll(/--node (\S+)/g)].map((m) => m[1]);
    const site = exampleSite();
    assert.deepEqual(
      watched,
      site.nodes.map((n) => `${n.host ?? '127.0.0.1'}:${n.port}`),
    );
    assert.match(execStart, new RegExp(`--hung-after-ms ${DEFAULT_HUNG_AFTER_MS}\\b`));
    assert.match(execStart, /tools\/cluster\/watchdog\.ts/);
    assert.match(unit, /^AmbientCapabilities=CAP_NET_ADMIN$/m);
  });

  it('routes each /p/<k>/ to node k alone, prefix stripped and named, and the rest to all nodes', () => {
    const site = renderNginxSite({
      nodes: [
        { k: 1, port: 3001 },
        { k: 2, port: 3002 },
        { k: 3, host: '10.0.0.7', port: 3001 },
      ],
      listen: { host: '127.0.0.1', port: 8080 },
    });
    assert.match(site, /location \/p\/3\/ \{\n\s+set \$conference_prefix \/p\/3;\n\s+proxy_pass http:\/\/conference_node_3\/;/);
    assert.match(site, /upstream conference_node_3 \{\n\s+server 10\.0\.0\.7:3001;\n\}/);
    assert.match(site, /upstream conference_nodes \{\n\s+zone conference_nodes 64k;\n(\s+server \S+ max_fails=1 fail_timeout=10s;\n){3}\}/);
    assert.match(site, /location \/ \{\n\s+proxy_pass http:\/\/conference_nodes;/);
    // Plain HTTP: no TLS, no redirect server, one listen line on the given address.
    assert.doesNotMatch(site, /ssl|return 301/);
    assert.deepEqual(
      site.match(/^\s*listen .*$/gm)?.map((l) => l.trim()),
      ['listen 127.0.0.1:8080;'],
    );
  });

  it("Debian's nginx accepts it inside Debian's nginx.conf (nginx -t)", { skip: nginxSkip ?? false }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nginx-check-'));
    try {
      await writeFile(join(dir, 'fullchain.pem'), TEST_CERT);
      await writeFile(join(dir, 'privkey.pem'), TEST_KEY, { mode: 0o600 });
      await writeFile(join(dir, 'site.conf'), readFileSync(SHIPPED, 'utf8').replaceAll('/etc/letsencrypt/live/conference.example.com', dir));
      // Debian's own main file when present (its http{} defaults around the site), logs and pid moved here.
      const main = existsSync('/etc/nginx/nginx.conf')
        ? readFileSync('/etc/nginx/nginx.conf', 'utf8')
            .replace(/include\s+\/etc\/nginx\/sites-enabled\/\*;/, `include ${dir}/site.conf;`)
            .replace(/include\s+\/etc\/nginx\/conf\.d\/\*\.conf;/, '')
            .replaceAll('/var/log/nginx/', `${dir}/`)
            .replace(/^pid .*$/m, `pid ${dir}/nginx.pid;`)
        : `pid ${dir}/nginx.pid;\nevents {}\nhttp {\n    include ${dir}/site.conf;\n}\n`;
      assert.ok(main.includes(`include ${dir}/site.conf;`), 'the site is included');
      await writeFile(join(dir, 'nginx.conf'), main);
      const { stderr } = await run(NGINX_PATH, ['-t', '-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')]);
      assert.match(stderr, /test is successful/);
      // The launcher's whole-file form of the same routing, too.
      await writeFile(
        join(dir, 'local.conf'),
        renderNginxConf({ ...exampleSite(), tls: { certificate: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') }, tempDir: dir }),
      );
      const local = await run(NGINX_PATH, ['-t', '-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', join(dir, 'local.conf'), '-g', `pid ${dir}/nginx.pid;`]);
      assert.match(local.stderr, /test is successful/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A port that was free a moment ago. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

// Issue 16, item 5: why a frozen node is found by the launcher's watch (tools/cluster/hangWatch.ts)
// and not by a short proxy_read_timeout on /p/<k>/. Held here so the comment in the nginx file
// stays true: if nginx ever times out a silent upstream while the caller talks, the timeout is the
// simpler fix.
describe('nginx alone does not drop a stream whose node went silent', { skip: nginxSkip ?? false }, () => {
  it('a 1 s proxy_read_timeout never fires while the caller sends every 20 ms; it fires once the caller stops', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nginx-frozen-'));
    // The frozen node: the kernel accepted the connection, the upgrade was answered, then nothing.
    const frozen = createNetServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n');
        socket.pause();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve));
    const nodePort = (frozen.address() as AddressInfo).port;
    const proxyPort = await freePort();
    const conf = renderNginxConf({ nodes: [{ k: 1, port: nodePort }], listen: { host: '127.0.0.1', port: proxyPort }, tempDir: dir });
    assert.match(conf, /proxy_read_timeout 1h;/);
    await writeFile(join(dir, 'nginx.conf'), conf.replace('proxy_read_timeout 1h;', 'proxy_read_timeout 1s;'));
    const nginx = spawn(NGINX_PATH, ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', `daemon off; pid ${dir}/nginx.pid;`], {
      stdio: 'ignore',
    });
    const client = new Socket();
    try {
      for (let i = 0; ; i++) {
        const up = await new Promise<boolean>((resolve) => {
          const probe = connectTcp(proxyPort, '127.0.0.1', () => {
            probe.destroy();
            resolve(true);
          });
          probe.once('error', () => resolve(false));
        });
        if (up) break;
        assert.ok(i < 100, 'nginx listens within 5 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      let closedAtMs: number | null = null;
      let upgraded = false;
      client.on('data', (d) => (upgraded ||= d.toString('latin1').startsWith('HTTP/1.1 101')));
      client.on('close', () => (closedAtMs = performance.now()));
      client.on('error', () => {});
      await new Promise<void>((resolve) => client.connect(proxyPort, '127.0.0.1', resolve));
      client.write(
        'GET /p/1/media HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      // A Twilio media message is about 300 bytes, 50 a second.
      const frame = Buffer.alloc(300, 0x41);
      const talking = setInterval(() => client.write(frame), 20);
      await new Promise((r) => setTimeout(r, 3000));
      clearInterval(talking);
      assert.ok(upgraded, 'the upgrade went through');
      assert.equal(closedAtMs, null, "open after 3 s of a silent node under a 1 s timeout: the caller's frames restart it");
      const quietAtMs = performance.now();
      await new Promise((r) => setTimeout(r, 3000));
      assert.ok(closedAtMs !== null, 'closed once the caller stopped too');
      const after = closedAtMs - quietAtMs;
      // nginx moves a running timer only when the new deadline is 300 ms or more away (NGX_TIMER_LAZY_DELAY).
      assert.ok(after >= 600 && after <= 2500, `closed ${after.toFixed(0)} ms after the caller stopped (the 1 s timeout)`);
    } finally {
      client.destroy();
      nginx.kill('SIGTERM');
      frozen.close();
      await new Promise((resolve) => (nginx.exitCode !== null || nginx.signalCode !== null ? resolve(null) : nginx.once('exit', resolve)));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const health = async (url: string): Promise<{ status: number; node: unknown }> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  const body = (await res.json()) as { node?: unknown };
  return { status: res.status, node: body.node };
};

/** Lines of `file` refusing a stream start for want of a join ticket. */
const ticketRefusals = async (file: string) =>
  (await readFile(file, 'utf8')).split('\n').filter((l) => l.includes('closing stream') && l.includes('"BAD_TICKET"')).length;

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('cluster launcher: 3 nodes, redis-server and nginx on loopback', { skip: clusterSkip ?? false }, () => {
  let cluster: Cluster;

  before(async () => {
    // Development mode whatever the shell or a local .env says (every key blank: "not set"): the
    // upgrade needs no Twilio signature, the start still a ticket.
    cluster = await startCluster({ nodes: 3, quiet: true, env: { ...blankConfigEnv(CLUSTER_LAUNCHER_KEYS), LOG_LEVEL: 'info' } });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('/p/<k>/health reaches node k', async () => {
    for (const node of cluster.nodes) {
      const r = await health(`${cluster.publicUrl}${node.prefix}/health`);
      assert.equal(r.status, 200);
      assert.equal(r.node, node.id, `${node.prefix}/health`);
    }
  });

  it('/health goes round robin over every node', async () => {
    const seen = new Map<unknown, number>();
    for (let i = 0; i < 30; i++) {
      const r = await health(`${cluster.publicUrl}/health`);
      assert.equal(r.status, 200);
      seen.set(r.node, (seen.get(r.node) ?? 0) + 1);
    }
    for (const node of cluster.nodes)
      assert.ok((seen.get(node.id) ?? 0) >= 5, `${node.id} answered ${seen.get(node.id) ?? 0} of 30: ${JSON.stringify([...seen])}`);
  });

  it('a WebSocket upgrade to /p/2/media reaches node 2 (a start without ticket: 1008 from node 2)', async () => {
    const before = await Promise.all(cluster.nodes.map((n) => ticketRefusals(n.logFile)));
    const ws = new WebSocket(`${cluster.publicUrl.replace(/^http/, 'ws')}/p/2/media`, { perMessageDeflate: false });
    const closed = new Promise<number>((resolve, reject) => {
      ws.once('close', (code) => resolve(code));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const streamSid = 'MZ' + '0'.repeat(32);
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid,
        start: {
          streamSid,
          accountSid: 'AC' + '0'.repeat(32),
          callSid: 'CA' + '1'.repeat(32),
          tracks: ['inbound'],
          customParameters: { room: '1234' },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      }),
    );
    assert.equal(await closed, 1008, 'closed by the app (BAD_TICKET)');
    // The refusal is in node 2's log, and only there.
    const deadline = Date.now() + 3000;
    let after = before;
    while (Date.now() < deadline) {
      after = await Promise.all(cluster.nodes.map((n) => ticketRefusals(n.logFile)));
      if (after[1]! > before[1]!) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      after.map((n, i) => n - before[i]!),
      [0, 1, 0],
      'ticket refusals logged per node',
    );
  });

  it('kill -9 of node 1: every /health still answers (nginx skips the dead node)', async () => {
    const node1 = cluster.nodes[0]!;
    node1.kill('SIGKILL');
    assert.equal((await node1.waitExit()).signal, 'SIGKILL');
    assert.equal(node1.pid, undefined);
    const answeredBy: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await health(`${cluster.publicUrl}/health`);
      assert.equal(r.status, 200, `request ${i + 1}`);
      answeredBy.push(r.node);
    }
    assert.ok(!answeredBy.includes('node-1'), JSON.stringify(answeredBy));
    assert.ok(answeredBy.includes('node-2') && answeredBy.includes('node-3'), JSON.stringify(answeredBy));
    // Its own route has nowhere else to go.
    assert.equal((await fetch(`${cluster.publicUrl}/p/1/health`)).status, 502);
  });

  it('startNode(1) brings node 1 back on its port and route', async () => {
    const node1 = await cluster.startNode(1);
    assert.ok(node1.pid !== undefined);
    assert.equal((await health(`${cluster.publicUrl}/p/1/health`)).node, 'node-1');
  });

  it('stop() leaves no process behind', async () => {
    const pids = [
      ...cluster.nodes.map((n) => n.pid).filter((p): p is number => p !== undefined),
      cluster.nginx.pid!,
      ...childPids(cluster.nginx.pid),
      cluster.redis!.pid()!,
    ];
    assert.equal(pids.length, 3 + 1 + 1 + 1, `3 nodes, nginx master and worker, redis-server: ${pids.join(' ')}`);
    assert.ok(pids.every(isAlive));
    await cluster.stop();
    assert.deepEqual(pids.filter(isAlive), [], 'still running after stop()');
    assert.ok(cluster.nodes.every((n) => n.pid === undefined));
    await cluster.stop(); // twice: no-op
  });
});
