/** `latchkey openapi`: prints the service's OpenAPI 3.1 document (what `/openapi.json` serves). */
import { importServiceModule } from '../../service/peers.js';
import type { Command } from '../command.js';
import { EXIT } from '../io.js';

export const openapiCommand: Command = {
  name: 'openapi',
  summary: 'Print the OpenAPI 3.1 document of the service',
  usage: 'openapi',
  async run(io) {
    // The document is built from the service's zod schemas: loaded only for this command.
    const { openApiText } = await importServiceModule(() => import('../../service/openapi.js'), 'latchkey openapi');
    io.stdout(openApiText());
    return EXIT.ok;
  },
};
