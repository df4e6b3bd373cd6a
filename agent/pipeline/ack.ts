import type { Ack, AckStatus, AimErrorCode, ParamResult, PathError } from '../../protocol/index.js';

/** What an ack says about its config, known as far as the pipeline got. */
export interface AckSubject {
  version: number | null;
  id: string | null;
  sha256: string | null;
}

export interface AckFields {
  status: AckStatus;
  stage: string;
  reason?: string | null;
  code?: AimErrorCode;
  errors?: PathError[];
  params?: ParamResult[];
  aim?: { result: string; via?: string } | null;
  lockToken?: number | null;
  pushMs?: number | null;
  rolledBack?: boolean;
}

/** Build a complete ack (DESIGN.md "Ack event") with every field present. */
export function makeAck(subject: AckSubject, fields: AckFields, totalMs: number, at: Date): Ack {
  const ack: Ack = {
    version: subject.version,
    id: subject.id,
    sha256: subject.sha256,
    status: fields.status,
    stage: fields.stage,
    reason: fields.reason ?? null,
    errors: fields.errors ?? [],
    params: fields.params ?? [],
    aim: fields.aim ?? null,
    lockToken: fields.lockToken ?? null,
    timings: { totalMs: Math.max(0, Math.round(totalMs * 10) / 10), pushMs: fields.pushMs == null ? null : Math.round(fields.pushMs * 10) / 10 },
    at: at.toISOString(),
  };
  if (fields.rolledBack !== undefined) ack.rolledBack = fields.rolledBack;
  if (fields.code !== undefined) ack.code = fields.code;
  return ack;
}

/** Best-effort version/id from a document that failed validation, so even a rejection names its config. */
export function looseSubject(value: unknown): AckSubject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { version: null, id: null, sha256: null };
  const v = (value as Record<string, unknown>).version;
  const id = (value as Record<string, unknown>).id;
  return {
    version: typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null,
    id: typeof id === 'string' ? id.slice(0, 128) : null,
    sha256: null,
  };
}
