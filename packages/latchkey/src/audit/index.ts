/** latchkey/audit: the persisted security audit log (recorder and stores). Re-exports only. */
export { AuditRecorder, type AuditEventSource, type AuditRecorderOptions } from './recorder.js';
export { MemoryAuditStore } from './memory.js';
export { InvalidAuditQueryError, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from './query.js';
export {
  AUDIT_EVENT_TYPES,
  type AuditActor,
  type AuditEvent,
  type AuditEventType,
  type AuditPage,
  type AuditQuery,
  type AuditStore,
} from './types.js';
