export { startAgent, loadTrustedKeys, type Agent, type AgentOptions, type NotifierPort } from './service.js';
export { parseSettings, loadSettings, SettingsSchema, DEFAULT_SETTINGS_PATH, DEFAULT_STATE_DIR, type Settings, type SettingsInput } from './settings.js';
export { ApplyPipeline, type DeliveryMeta, type PipelineState } from './pipeline/pipeline.js';
export { reconcile, type ReconcileResult, type ReconcileState } from './pipeline/reconcile.js';
export { createLogger, silentLogger, type Logger } from './log.js';
export { AGENT_VERSION } from './version.js';
