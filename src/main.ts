/** Process entry: load config, create the server, listen, shut down in order on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { createServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${error.message}\nSee .env.example for every variable and its meaning.`);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const server = createServer(config, { log });
  const { port } = await server.listen();
  const local = `http://localhost:${port}`;
  const webhook = config.publicUrl ? `${config.publicUrl}/voice` : 'https://<your-public-host>/voice';
  log.info({ port }, 'conference server listening');
  console.log(
    [
      '',
      `  Conference server listening on ${local}`,
      '',
      `  Twilio: set your phone number's Voice webhook ("A call comes in", HTTP POST) to`,
      `      ${webhook}`,
      config.publicUrl ? '' : '    (expose this port with a tunnel, e.g. `ngrok http ' + port + '`, and use its https URL; see README)',
      '  Try it without a phone, in another terminal:',
      `      npm run simulate -- --url ${local} --room 1234 --wav test/fixtures/voices/alice.wav --wav test/fixtures/voices/bob.wav --wav test/fixtures/voices/carol.wav --out out/`,
      '',
    ]
      .filter((line, i, all) => line !== '' || all[i - 1] !== '')
      .join('\n'),
  );

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
