export { AimStore, Staged, aimFileText, CURRENT_FILE, PREVIOUS_FILE, type AgentState, type AimStoreOptions, type StoredConfig } from './aim-store.js';
export { Locksmith, type BreakResult, type LocksmithEvents, type LocksmithOptions, type ReclaimInfo } from './locksmith.js';
export type { LockHandle, LostInfo } from './held-lock.js';
export type { LockRecord, LockVerdict } from './lock-record.js';
export { LOCK_FILE } from './lock-dir.js';
export { STATE_FILE, TOKEN_FILE } from './fence-token.js';
export { nodeFs, type FileHandleLike, type StoreFs } from './durable-fs.js';
export { procInfo, readBootId, readStartTime, readUptimeMs, type ProcInfo } from './proc.js';
export type { StoreLogger } from './logger.js';
