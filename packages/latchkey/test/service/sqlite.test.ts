/** The service contract on the embedded SQLite store (the default). */
import { describeServiceContract } from './contract.js';
import { startTestService, testClock } from './helpers.js';

describeServiceContract('SQLite', () => startTestService({ clock: testClock() }), { storeClass: 'SqliteStore' });
