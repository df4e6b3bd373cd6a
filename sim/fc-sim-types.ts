import type { Logger } from 'pino';
import type { LinkStats } from './channel.js';
import type { Clock } from './clock.js';
import type { ImpairmentUpdate } from './impairments.js';
import type { SimTransport, TransportHooks } from './transport.js';

export interface FcSimOptions {
  /** `tcp:127.0.0.1:0` (listen; port 0 picks one), `udp:127.0.0.1:14550` (listen), `serial:/dev/pts/N:57600`. */
  link: string;
  /** MAV_SYSID's default (1); component id is always 1. */
  systemId?: number;
  armed?: boolean;
  /** Default overrides, like a defaults.parm (MNT1_TYPE defaults to 1 here). Unknown names become REAL32 parameters. */
  params?: Record<string, number>;
  /** JSON file holding values set since (the FC's EEPROM): kept across reboots and restarts. */
  paramsFile?: string;
  /** Pace bytes at 10 bits per byte of the baud, both directions: the serial link's baud, or `baud`. */
  baudLimit?: boolean;
  /** Baud rate for `baudLimit` on tcp/udp (and to override a serial link's). */
  baud?: number;
  loss?: number;
  corrupt?: number;
  latencyMs?: number;
  freezeAfter?: number;
  /** Answer every PARAM_REQUEST_READ after this fixed delay. Default: as SITL, a 100 ms tick answering up to 5 queued reads. */
  readLatencyMs?: number;
  /** From a reboot command to the first HEARTBEAT; default 2400 ms (tcp/udp) or 1200 ms (serial), as measured on SITL. */
  rebootDelayMs?: number;
  /**
   * Send a HEARTBEAT to a new TCP/UDP peer at once (default true, so tests do not wait). ArduPilot does
   * not: SITL's first HEARTBEAT came 5–603 ms after connecting (its 1 Hz beat); false behaves like that,
   * for start-up benchmarks.
   */
  heartbeatOnConnect?: boolean;
  /** HEARTBEAT period; default 1000 ms. */
  heartbeatMs?: number;
  /** Servo slew rate in deg/s; default 900 (−90° in 100 ms). */
  mountSlewDegS?: number;
  /**
   * MAVLink 2 signing key (32 bytes), as installed by SETUP_SIGNING: every frame out is signed, and
   * unsigned or wrongly signed frames in are dropped silently (ArduPilot on any port but channel 0).
   */
  signingKey?: Buffer;
  /** With `signingKey`: take unsigned frames too, as ArduPilot does on channel 0 (SERIAL0/USB). */
  signingAcceptUnsigned?: boolean;
  /** Dice for loss/corruption; tests pass a seeded one. */
  random?: () => number;
  clock?: Clock;
  logger?: Logger;
  /**
   * Serve peers through this instead of opening `link`'s socket (tests: an in-memory pipe on the same
   * driven clock, so no real I/O timing is involved). `link`'s kind still picks the serial or network timings.
   */
  transport?: (hooks: TransportHooks, logger: Logger) => SimTransport;
}

export interface FcSimEvents {
  /** A PARAM_SET over the link stored a value (canonical name, stored value). */
  'param-set': [name: string, value: number];
  /** A COMMAND_LONG/INT was answered. */
  command: [command: number, params: readonly number[], result: number];
  peer: [event: 'connect' | 'disconnect', peer: string];
  armed: [armed: boolean];
  reboot: [phase: 'start' | 'done'];
}

export interface FcSim {
  /** The link string peers should use, port resolved, e.g. `tcp:127.0.0.1:40123`. */
  readonly link: string;
  readonly armed: boolean;
  readonly systemId: number;
  setArmed(armed: boolean): void;
  setImpairments(p: ImpairmentUpdate): void;
  getParam(name: string): number | undefined;
  /** A change made elsewhere (another GCS): stored and saved, nothing sent, no 'param-set' event. */
  setParam(name: string, value: number): void;
  /** Every parameter, hidden ones included; a snapshot. */
  readonly params: ReadonlyMap<string, { value: number; type: number }>;
  readonly stats: Readonly<LinkStats>;
  /** As MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN: drops TCP peers; resolves when HEARTBEATs resume. */
  reboot(): Promise<void>;
  /** Closes every socket and timer. */
  stop(): Promise<void>;
  on<K extends keyof FcSimEvents>(event: K, fn: (...args: FcSimEvents[K]) => void): this;
  off<K extends keyof FcSimEvents>(event: K, fn: (...args: FcSimEvents[K]) => void): this;
  once<K extends keyof FcSimEvents>(event: K, fn: (...args: FcSimEvents[K]) => void): this;
}
