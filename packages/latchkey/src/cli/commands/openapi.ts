/** `latchkey openapi`: prints the service's OpenAPI 3.1 document (what `/openapi.json` serves). */
import { openApiText } from '../../service/openapi.js';
import type { Command } from '../command.js';
import { EXIT } from '../io.js';

export const openapiCommand: Command = {
  name: 'openapi',
  summary: 'Print the OpenAPI 3.1 document of the service',
  usage: 'openapi',
  async run(io) {
    io.stdout(openApiText());
    return EXIT.ok;
  },
};
