/** Reported in status messages; version.test.ts keeps it equal to package.json's. */
export const AGENT_VERSION = '0.1.0';
