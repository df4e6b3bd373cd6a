export * from './mosquitto.js';
export * from './ports.js';
export * from './procs.js';
export * from './pty.js';
export * from './tools.js';
export * from './wait.js';
export * from './launcher.js';
export * from './uart-bridge.js';
