// aimctl's library surface: the pieces a ground station or a script can reuse. The CLI is bin/aimctl.ts.
export { main as aimctl } from './cli.js';
export type { CliIO } from './cli-io.js';
export { connectBroker, groundClientId, type BrokerSettings } from './broker.js';
export { FleetLink, correlationFor, type DroneView, type FleetLinkEvents, type PublishOptions } from './fleet-link.js';
export { asDryRun, decodeDesired, readConfigFile, signConfig, withVersion, type LoadedConfig, type SignedConfig } from './config-io.js';
export { parseAmount, amountCeil, amountFloor, type Amount } from './rollout/amount.js';
export { allowedFailures, parseMaxFailures, pastThreshold } from './rollout/threshold.js';
export { parseWaves, planWaves, type PlannedWave } from './rollout/waves.js';
export { prepareRollout, type RolloutRequest } from './rollout/prepare.js';
export { runRollout, summaryRows, type EngineDeps, type EngineOptions } from './rollout/engine.js';
export { rollbackConfig } from './rollout/rollback-config.js';
export { readStateFile, writeStateFile, StateSaver } from './rollout/state-file.js';
export type { DroneRecord, DroneState, RollbackState, RolloutState, RolloutResult } from './rollout/state.js';
export type { ProgressEvent, RunStats, SummaryRow } from './rollout/events.js';
export { TtyProgress, jsonProgress, summaryTable, type ProgressSink } from './rollout/progress.js';
export { statusRow, statusTable, type StatusRow } from './commands/status.js';
