/**
 * `latchkey serve`: runs the service until SIGTERM or SIGINT, then shuts down gracefully (in-flight
 * requests finish, new ones are refused cleanly, engine and store are closed) and exits 0.
 */
import { ENVIRONMENT_VARIABLES, loadServiceConfig } from '../../service/config.js';
import { jsonLogger } from '../../service/logger.js';
import { importServiceModule } from '../../service/peers.js';
import type { Command } from '../command.js';
import { EXIT } from '../io.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the session service',
  usage: 'serve [--port 4100] [--host 127.0.0.1]',
  details: `Environment (flags win):\n${ENVIRONMENT_VARIABLES.map((v) => `  ${v.name.padEnd(26)} ${v.meaning} (default: ${v.fallback})`).join('\n')}\n\nLogs: one JSON object per line on stdout.`,
  options: { port: { type: 'string', short: 'p' }, host: { type: 'string' } },
  async run(io, { values }) {
    const config = loadServiceConfig(io.env, {
      ...(typeof values.port === 'string' ? { port: values.port } : {}),
      ...(typeof values.host === 'string' ? { host: values.host } : {}),
    });
    // Loaded here, not at the top: the service's packages are optional, and other commands work without them.
    const { startService } = await importServiceModule(() => import('../../service/server.js'), 'latchkey serve');
    const logger = jsonLogger({ write: (line, level) => (level === 'error' ? io.stderr(line) : io.stdout(line)) });
    const service = await startService({ config, logger });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.log('info', 'signal', { signal });
        service.close().then(resolve, (err: unknown) => {
          logger.log('error', 'shutdown failed', { err });
          resolve();
        });
      };
      io.signals?.once('SIGTERM', () => stop('SIGTERM'));
      io.signals?.once('SIGINT', () => stop('SIGINT'));
    });
    return EXIT.ok;
  },
};
