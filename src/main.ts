/** Process entry: load config, create the server, listen, shut down in order on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { createServer } from './server.js';

async function main(): Promise<void> {
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${error.message}\nSee .env.example for every variable and its meaning.`);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config.logLevel, undefined, { pretty: config.logPretty ?? process.stdout.isTTY === true });
  const server = createServer(config, { log });
  const { port } = await server.listen();
  const local = `http://localhost:${port}`;
  const webhook = config.publicUrl ? `${config.publicUrl}/voice` : 'https://<your-public-host>/voice';
  const development = server.mode === 'development';
  // Before "listening": whoever waits for that line has seen the warning too.
  if (development)
    log.warn(
      'DEVELOPMENT MODE: TWILIO_AUTH_TOKEN is not set, so webhooks and /media upgrades are not checked for Twilio signatures (join tickets still are); set it before exposing this server',
    );
  console.log(
    [
      '',
      `  Conference server listening on ${local}`,
      '',
      development
        ? '  !! DEVELOPMENT MODE: no Twilio signature checks (TWILIO_AUTH_TOKEN unset). Do not expose it like this. !!'
        : '  Twilio signatures are checked on every webhook and /media upgrade.',
      '',
      `  Twilio: set your phone number's Voice webhook ("A call comes in", HTTP POST) to`,
      `      ${webhook}`,
      config.publicUrl ? '' : '    (expose this port with a tunnel, e.g. `ngrok http ' + port + '`, and use its https URL; see README)',
      // The token rides in the URL fragment, which browsers never send: not in any server log.
      config.adminToken
        ? `  Dashboard (this machine): ${local}/dashboard#token=${encodeURIComponent(config.adminToken)}`
        : '  Dashboard: set ADMIN_TOKEN to enable it and the admin API',
      '',
      '  Try it without a phone, in another terminal:',
      `      npm run simulate -- --url ${local} --room 1234 --wav test/fixtures/voices/alice.wav --wav test/fixtures/voices/bob.wav --wav test/fixtures/voices/carol.wav --out out/`,
      '',
    ]
      .filter((line, i, all) => line !== '' || all[i - 1] !== '')
      .join('\n'),
  );
  // Last: whoever waits for this line has the banner (and its signature-check mode) already.
  log.info({ port, mode: server.mode }, 'conference server listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
