/**
 * nginx in front of a cluster (issue 8), rendered by one pure function so the shipped production
 * file (deploy/nginx/conference.conf) and the launcher's local proxy cannot drift apart:
 *
 *   /p/<k>/...  -> node k only, prefix stripped (the node sees /media, /voice ...), with
 *                  X-Forwarded-Prefix: /p/<k> so it can rebuild the public URL Twilio signed
 *   everything else (webhooks, /api, dashboard, /health) -> any node, round robin; a node that
 *                  refuses or does not accept the connection is skipped
 *
 * WebSocket upgrades pass on every location; responses are not buffered (20 ms media frames).
 *
 * `renderNginxSite` gives the http{}-level part (a Debian site file); `renderNginxConf` wraps it into
 * a whole nginx.conf for `nginx -p <dir> -c <dir>/nginx.conf` (the launcher). Run as a script it
 * prints the shipped file, or one for other nodes:
 *
 *   npx tsx tools/cluster/nginxConfig.ts > deploy/nginx/conference.conf
 *   npx tsx tools/cluster/nginxConfig.ts --nodes 4 --server-name conf.example.org
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface NginxNode {
  /** 1-based: the node's public prefix is /p/<k>. */
  k: number;
  /** Where nginx reaches the node (default 127.0.0.1). */
  host?: string;
  port: number;
}

export interface NginxTls {
  /** PEM certificate chain (e.g. Let's Encrypt's fullchain.pem). */
  certificate: string;
  /** PEM private key (e.g. privkey.pem). */
  key: string;
}

export interface NginxSiteOptions {
  nodes: readonly NginxNode[];
  /** Address and port the proxy listens on (all addresses when host is undefined, IPv4 and IPv6). */
  listen: { host?: string; port: number };
  /** server_name (default `_`: any). */
  serverName?: string;
  /** TLS on the listen port, plus a port-80 server that redirects to https. Undefined: plain HTTP. */
  tls?: NginxTls;
  /** Comment lines put at the top. */
  header?: readonly string[];
}

export interface NginxConfOptions extends NginxSiteOptions {
  /** Absolute directory for nginx's temporary files (request bodies, proxied responses). */
  tempDir: string;
  /** `user` directive (only meaningful when nginx starts as root); undefined: none. */
  user?: string;
  /** Connections per worker; each proxied stream takes two. Default 4096. */
  workerConnections?: number;
  /** Access log file; undefined: off. */
  accessLog?: string;
}

/** Upstream of every node (round robin). */
export const ALL_NODES_UPSTREAM = 'conference_nodes';
/** Upstream of node k alone. */
export const nodeUpstream = (k: number) => `conference_node_${k}`;
/** Public path prefix of node k (no trailing slash), as NODE_PUBLIC_PREFIX. */
export const nodePrefix = (k: number) => `/p/${k}`;

const indent = (lines: readonly string[], by = '    ') => lines.map((l) => (l === '' ? '' : by + l));

function listenLines(listen: NginxSiteOptions['listen'], suffix = ''): string[] {
  if (listen.host !== undefined) {
    const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
    return [`listen ${host}:${listen.port}${suffix};`];
  }
  return [`listen ${listen.port}${suffix};`, `listen [::]:${listen.port}${suffix};`];
}

function checkNodes(nodes: readonly NginxNode[]): void {
  if (nodes.length === 0) throw new Error('nginx config: at least one node');
  const seen = new Set<number>();
  for (const n of nodes) {
    if (!Number.isInteger(n.k) || n.k < 1 || seen.has(n.k)) throw new Error(`nginx config: node numbers must be distinct integers >= 1 (got ${n.k})`);
    if (!Number.isInteger(n.port) || n.port < 1 || n.port > 65535) throw new Error(`nginx config: bad port ${n.port} for node ${n.k}`);
    seen.add(n.k);
  }
}

const address = (n: NginxNode) => `${n.host ?? '127.0.0.1'}:${n.port}`;

/** The http{}-level configuration: the upgrade map, the upstreams, the server(s). */
export function renderNginxSite(options: NginxSiteOptions): string {
  checkNodes(options.nodes);
  const nodes = [...options.nodes].sort((a, b) => a.k - b.k);
  const serverName = options.serverName ?? '_';
  const out: string[] = [];
  if (options.header) out.push(...options.header.map((l) => (l === '' ? '#' : `# ${l}`)), '');

  out.push(
    '# An upgrade request keeps "Connection: upgrade" to the node; any other closes after its response.',
    'map $http_upgrade $conference_connection {',
    '    default upgrade;',
    "    ''      close;",
    '}',
    '',
    '# Webhooks, /api, dashboard, /health: any node. One that refuses the connection or does not accept',
    '# it within proxy_connect_timeout is skipped, and left out for fail_timeout.',
    `upstream ${ALL_NODES_UPSTREAM} {`,
    `    zone ${ALL_NODES_UPSTREAM} 64k;`,
    ...nodes.map((n) => `    server ${address(n)} max_fails=1 fail_timeout=10s;`),
    '}',
    '',
    '# Node k alone, for its /p/<k>/ location (the stream URL the webhook answers names it).',
  );
  for (const n of nodes) out.push(`upstream ${nodeUpstream(n.k)} {`, `    server ${address(n)};`, '}');
  out.push('');

  if (options.tls) {
    out.push(
      '# Twilio calls webhooks and streams over https/wss only: plain HTTP is redirected.',
      'server {',
      ...indent([
        ...listenLines({ ...(options.listen.host !== undefined ? { host: options.listen.host } : {}), port: 80 }),
        `server_name ${serverName};`,
        "# Let's Encrypt renewal (certbot certonly --webroot -w /var/www/html).",
        'location /.well-known/acme-challenge/ {',
        '    root /var/www/html;',
        '}',
        'location / {',
        '    return 301 https://$host$request_uri;',
        '}',
      ]),
      '}',
      '',
    );
  }

  const server: string[] = [...listenLines(options.listen, options.tls ? ' ssl' : ''), `server_name ${serverName};`, ''];
  if (options.tls) {
    server.push(
      `ssl_certificate     ${options.tls.certificate};`,
      `ssl_certificate_key ${options.tls.key};`,
      'ssl_protocols TLSv1.2 TLSv1.3;',
      'ssl_session_cache shared:conference_tls:10m;',
      '',
    );
  }
  server.push(
    'proxy_http_version 1.1;',
    'proxy_set_header Upgrade $http_upgrade;',
    'proxy_set_header Connection $conference_connection;',
    'proxy_set_header Host $host;',
    '# The public URL Twilio called (signature checks, stream URLs): scheme, host[:port], prefix.',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'proxy_set_header X-Forwarded-Host $http_host;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    "# /p/<k> in node k's location, empty (header not sent) elsewhere.",
    'set $conference_prefix "";',
    'proxy_set_header X-Forwarded-Prefix $conference_prefix;',
    '# Media frames (20 ms) and dashboard events go out as they come.',
    'proxy_buffering off;',
    'tcp_nodelay on;',
    '# Nodes are on this machine or the LAN: one that does not accept within 1 s is down.',
    'proxy_connect_timeout 1s;',
    '# Only a refused or unaccepted connection, or a GET without answer, moves to the next node',
    '# (a POST that reached a node is not sent twice).',
    'proxy_next_upstream error timeout;',
    'proxy_next_upstream_timeout 5s;',
    '',
    "# Twilio gives a webhook 15 s; the dashboard's event stream sends every second.",
    'location / {',
    `    proxy_pass http://${ALL_NODES_UPSTREAM};`,
    '    proxy_read_timeout 15s;',
    '    proxy_send_timeout 15s;',
    '}',
    '',
    "# Twilio's webhooks: a repeated one is harmless (admission keeps one seat per CallSid), so a",
    '# node that accepted the connection but did not answer within 4 s (paused, overloaded) is',
    "# skipped for this request too, and the next node answers within Twilio's 15 s.",
    'location /voice {',
    `    proxy_pass http://${ALL_NODES_UPSTREAM};`,
    '    proxy_next_upstream error timeout non_idempotent;',
    '    proxy_next_upstream_timeout 12s;',
    '    proxy_read_timeout 4s;',
    '    proxy_send_timeout 4s;',
    '}',
    '',
    '# Node k: /p/<k>/media -> /media on node k. A stream sends and receives every 20 ms for the',
    '# whole call; the long timeouts only bound a silent one. No timeout here finds a frozen node',
    "# (kill -STOP, a stuck process): on an upgraded connection nginx restarts it on the caller's",
    '# frames too (every 20 ms). A watchdog beside nginx cuts its connections to a node that has not',
    '# answered /health for 5 s (deploy/systemd/conference-watchdog.service; the launcher kills such a',
    "# node instead); nginx then closes the streams, Twilio requests each call's <Connect action>,",
    '# and the rejoin places the room on a live node.',
  );
  for (const n of nodes) {
    server.push(
      `location ${nodePrefix(n.k)}/ {`,
      `    set $conference_prefix ${nodePrefix(n.k)};`,
      `    proxy_pass http://${nodeUpstream(n.k)}/;`,
      '    proxy_read_timeout 1h;',
      '    proxy_send_timeout 1h;',
      '}',
    );
  }
  out.push('server {', ...indent(server), '}');
  return out.join('\n') + '\n';
}

/** A whole nginx.conf for a private instance (`nginx -p <dir> -c <dir>/nginx.conf`); pid and error_log come from -g. */
export function renderNginxConf(options: NginxConfOptions): string {
  const t = options.tempDir.replace(/\/+$/, '');
  const lines = [
    "# A local cluster's proxy, rendered by tools/cluster/nginxConfig.ts (production: deploy/nginx/conference.conf).",
    ...(options.user ? [`user ${options.user};`] : []),
    'worker_processes 1;',
    '',
    'events {',
    `    worker_connections ${options.workerConnections ?? 4096};`,
    '}',
    '',
    'http {',
    `    access_log ${options.accessLog ?? 'off'};`,
    `    client_body_temp_path ${t}/client_body;`,
    `    proxy_temp_path ${t}/proxy;`,
    `    fastcgi_temp_path ${t}/fastcgi;`,
    `    uwsgi_temp_path ${t}/uwsgi;`,
    `    scgi_temp_path ${t}/scgi;`,
    '',
    ...indent(renderNginxSite(options).trimEnd().split('\n')),
    '}',
  ];
  return lines.join('\n') + '\n';
}

/** Options of the shipped example: two nodes on 127.0.0.1:3001..3002, TLS on 443, Let's Encrypt paths. */
export function exampleSite(nodes = 2, basePort = 3001, serverName = 'conference.example.com'): NginxSiteOptions {
  return {
    nodes: Array.from({ length: nodes }, (_, i) => ({ k: i + 1, port: basePort + i })),
    listen: { port: 443 },
    serverName,
    tls: { certificate: `/etc/letsencrypt/live/${serverName}/fullchain.pem`, key: `/etc/letsencrypt/live/${serverName}/privkey.pem` },
    header: [
      'Twilio Media Streams conference, scale-out (issue 8): nginx (Debian, 1.22+) in front of N node',
      'processes, TLS on 443. Generated by `npx tsx tools/cluster/nginxConfig.ts` (a test keeps the',
      "repository's copy equal to it; --nodes N --base-port P --server-name NAME render another).",
      '',
      'Install: copy to /etc/nginx/sites-available/conference, link it from /etc/nginx/sites-enabled/,',
      'replace the server_name and certificate paths, then `nginx -t && systemctl reload nginx`.',
      '',
      `Node k (1..N) runs as: PORT=${basePort - 1}+k NODE_ID=node-k NODE_PUBLIC_PREFIX=/p/k`,
      `NODE_INTERNAL_URL=http://127.0.0.1:<its port> PUBLIC_URL=https://${serverName}, and the same`,
      'REDIS_URL and JOIN_TICKET_SECRET on every node. Its streams: wss://<host>/p/k/media.',
      '',
      'Adding node k: `upstream conference_node_k { server <host>:<port>; }`, a `server <host>:<port> ...;`',
      'line in conference_nodes, and a `location /p/k/` block like the others (or render again).',
    ],
  };
}

const USAGE = `usage: npx tsx tools/cluster/nginxConfig.ts [--nodes N] [--base-port 3001] [--server-name conference.example.com]
Prints the production site file (TLS on 443) for nodes 1..N on 127.0.0.1:<base-port>..; the defaults print deploy/nginx/conference.conf.`;

function main(): void {
  const { values } = parseArgs({
    options: { nodes: { type: 'string' }, 'base-port': { type: 'string' }, 'server-name': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return void console.log(USAGE);
  const nodes = Number(values.nodes ?? 2);
  const basePort = Number(values['base-port'] ?? 3001);
  if (!Number.isInteger(nodes) || nodes < 1 || !Number.isInteger(basePort) || basePort < 1 || basePort + nodes - 1 > 65535) {
    console.error(USAGE);
    process.exit(2);
  }
  process.stdout.write(renderNginxSite(exampleSite(nodes, basePort, values['server-name'] ?? 'conference.example.com')));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
