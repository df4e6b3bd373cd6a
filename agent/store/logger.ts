/**
 * The slice of a pino Logger the store and the lock use. A pino Logger fits; the default drops
 * everything, so library code never needs pino loaded (the lock's helper processes start faster).
 */
export interface StoreLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;
export const silentStoreLogger: StoreLogger = { debug: noop, info: noop, warn: noop, error: noop };
