import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { MAV_PARAM_TYPE } from '../protocol/param-table.js';

const MAV_PARAM_TYPE_REAL32 = MAV_PARAM_TYPE.REAL32;
import { castToParamType, floatEqual } from '../protocol/param-cast.js';
import type { SimParamDef } from './param-defaults.js';

/** A PARAM_VALUE the FC sends back to every link after a set. */
export interface ParamEcho {
  name: string;
  value: number;
  type: number;
}

/** What a PARAM_SET did, in ArduPilot's terms (GCS_Param.cpp handle_param_set + AP_Param::save_sync). */
export type SetOutcome =
  | { kind: 'silent' } // unknown name, NaN or Inf: no reply at all
  | { kind: 'denied'; echo: ParamEcho } // read-only: STATUSTEXT + the old value, to the asking link only
  | { kind: 'stored'; name: string; value: number; echoes: ParamEcho[] };

/**
 * The simulated FC's parameter memory: values, defaults, which values are "saved" (in EEPROM), list
 * visibility, and an optional JSON file that keeps saved values across restarts.
 *
 * Defaults are ArduPilot's with overrides on top (like a defaults.parm); the file holds only values set
 * since (like EEPROM), so deleting it is a factory reset.
 */
export class ParamStore {
  private readonly defs: SimParamDef[];
  private readonly byName = new Map<string, SimParamDef>();
  private readonly defaults = new Map<string, number>();
  private readonly values = new Map<string, number>();
  private readonly saved = new Set<string>();
  private readonly file: string | undefined;

  constructor(defs: readonly SimParamDef[], opts: { overrides?: Record<string, number>; file?: string | undefined } = {}) {
    this.defs = defs.map((d) => ({ ...d }));
    for (const d of this.defs) this.byName.set(d.name, d);
    for (const [name, value] of Object.entries(opts.overrides ?? {})) {
      if (!Number.isFinite(value)) throw new RangeError(`parameter ${name}: value must be a finite number`);
      if (!this.byName.has(name)) {
        // Unknown to the table: carried as a REAL32 at the end of the list, so tests can add parameters.
        const def: SimParamDef = { name, type: 'REAL32', default: 0 };
        this.defs.push(def);
        this.byName.set(name, def);
      }
    }
    for (const d of this.defs) {
      const override = opts.overrides?.[d.name];
      const v = castToParamType(override ?? d.default, d.type);
      this.defaults.set(d.name, v);
      this.values.set(d.name, v);
    }
    this.file = opts.file;
    if (this.file !== undefined) this.load(this.file);
  }

  /** The definition a PARAM_SET/PARAM_REQUEST_READ name resolves to, as AP_Param::find would. */
  find(name: string): SimParamDef | undefined {
    const exact = this.byName.get(name);
    if (exact !== undefined) return exact;
    const upper = name.toUpperCase();
    for (const d of this.defs) {
      // Vector elements match their suffix case-sensitively in AP_Param::find_group.
      if (d.groupPrefix === undefined || d.vector !== undefined) continue;
      if (name.startsWith(d.groupPrefix) && upper === d.name.toUpperCase()) return d;
    }
    return undefined;
  }

  get(name: string): number | undefined {
    return this.values.get(name);
  }

  typeOf(def: SimParamDef): number {
    return MAV_PARAM_TYPE[def.type];
  }

  isVisible(def: SimParamDef): boolean {
    return def.enabledBy === undefined || this.values.get(def.enabledBy) !== 0;
  }

  /** Parameters PARAM_REQUEST_LIST sends, in index order. */
  visible(): SimParamDef[] {
    return this.defs.filter((d) => this.isVisible(d));
  }

  /** param_count as the FC reports it: visible parameters only. */
  count(): number {
    return this.visible().length;
  }

  /** Every parameter, hidden ones included. */
  snapshot(): Map<string, { value: number; type: number }> {
    return new Map(this.defs.map((d) => [d.name, { value: this.values.get(d.name) ?? 0, type: this.typeOf(d) }]));
  }

  /** Handle a PARAM_SET for `name` with the float `requested`. */
  set(name: string, requested: number): SetOutcome {
    const def = this.find(name);
    if (def === undefined || !Number.isFinite(requested)) return { kind: 'silent' };
    const old = this.values.get(def.name) ?? 0;
    if (def.readOnly) return { kind: 'denied', echo: { name, value: old, type: this.typeOf(def) } };

    const stored = castToParamType(requested, def.type);
    const forceSave = !floatEqual(requested, old);
    this.values.set(def.name, stored);

    if (def.vector !== undefined) {
      // A Vector3f is saved whole; saving element X sends all three (AP_Param::send_parameter).
      const members = this.vectorMembers(def.vector.base);
      for (const m of members) this.saved.add(m.name);
      this.persist();
      const echoed = def.vector.axis === 0 ? members : [def];
      return { kind: 'stored', name: def.name, value: stored, echoes: echoed.map((m) => this.echoOf(m)) };
    }
    if (!this.saved.has(def.name)) {
      const dflt = this.defaults.get(def.name) ?? 0;
      const nearDefault = floatEqual(stored, dflt) || (def.type !== 'INT32' && Math.abs(stored - dflt) < 1e-4 * Math.abs(stored));
      if (!forceSave && nearDefault) {
        // Not saved, and echoed with the *group's* type, which ArduPilot maps to REAL32.
        return { kind: 'stored', name: def.name, value: stored, echoes: [{ name: def.name, value: dflt, type: MAV_PARAM_TYPE_REAL32 }] };
      }
      this.saved.add(def.name);
    }
    this.persist();
    return { kind: 'stored', name: def.name, value: stored, echoes: [this.echoOf(def)] };
  }

  /** A change made elsewhere (another GCS, a script): cast, store, save; no reply. */
  setLocal(name: string, value: number): number {
    const def = this.byName.get(name);
    if (def === undefined) throw new RangeError(`unknown parameter ${name}`);
    if (!Number.isFinite(value)) throw new RangeError(`parameter ${name}: value must be a finite number`);
    const stored = castToParamType(value, def.type);
    this.values.set(def.name, stored);
    this.saved.add(def.name);
    this.persist();
    return stored;
  }

  echoOf(def: SimParamDef): ParamEcho {
    return { name: def.name, value: this.values.get(def.name) ?? 0, type: def.vector ? MAV_PARAM_TYPE_REAL32 : this.typeOf(def) };
  }

  private vectorMembers(base: string): SimParamDef[] {
    return this.defs.filter((d) => d.vector?.base === base).sort((a, b) => (a.vector?.axis ?? 0) - (b.vector?.axis ?? 0));
  }

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const data: unknown = JSON.parse(text);
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error(`${file}: not a JSON object of parameter values`);
    for (const [name, value] of Object.entries(data)) {
      const def = this.byName.get(name);
      if (def === undefined || typeof value !== 'number' || !Number.isFinite(value)) continue;
      this.values.set(name, castToParamType(value, def.type));
      this.saved.add(name);
    }
  }

  private persist(): void {
    if (this.file === undefined) return;
    const out: Record<string, number> = {};
    for (const name of this.saved) out[name] = this.values.get(name) ?? 0;
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(out, null, 2) + '\n');
    renameSync(tmp, this.file);
  }
}
