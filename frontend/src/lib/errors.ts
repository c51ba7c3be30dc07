// API errors and their mapping onto form fields.
//
// The server answers every failure with
//   {"error": {"code", "message", "fields": [{"field", "message"}]}}
// where list entries are named like "dns_servers[2]". A form shows each field
// message next to its input and everything it has no input for at the top.

import type { FieldError } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[];
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, fields: FieldError[] = [], retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

const FALLBACK: Record<number, string> = {
  400: 'The request was not accepted.',
  401: 'Your session has ended. Please sign in again.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  409: 'That conflicts with the current state.',
  413: 'The upload is too large.',
  415: 'The server did not accept this kind of content.',
  422: 'Some values are not valid.',
  429: 'Too many attempts. Please wait a moment.',
  500: 'The server ran into an error.',
  502: 'The server is not reachable.',
  503: 'The server is not available right now.',
};

function isFieldError(v: unknown): v is FieldError {
  return typeof v === 'object' && v !== null && typeof (v as FieldError).field === 'string' && typeof (v as FieldError).message === 'string';
}

/** Build an ApiError from a status and a (possibly non-JSON) body. */
export function errorFromBody(status: number, body: unknown, retryAfter: number | null = null): ApiError {
  const err = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; message?: unknown; fields?: unknown };
    const fields = Array.isArray(e.fields) ? e.fields.filter(isFieldError) : [];
    const code = typeof e.code === 'string' ? e.code : `HTTP_${status}`;
    const message = typeof e.message === 'string' && e.message ? e.message : (FALLBACK[status] ?? `Request failed (${status}).`);
    return new ApiError(status, code, message, fields, retryAfter);
  }
  return new ApiError(status, `HTTP_${status}`, FALLBACK[status] ?? `Request failed (${status}).`, [], retryAfter);
}

/** "dns_servers[2]" → { base: "dns_servers", index: 2 }; "peer.name" → { base: "name" }. */
export function splitFieldName(field: string): { base: string; index: number | null } {
  let f = field.trim();
  // Setup endpoints may nest the created object; the form knows only the leaf.
  const dot = f.lastIndexOf('.');
  if (dot >= 0) f = f.slice(dot + 1);
  const m = /^(.*?)\[(\d+)\]$/.exec(f);
  if (m && m[1] !== undefined && m[2] !== undefined) return { base: m[1], index: Number(m[2]) };
  return { base: f, index: null };
}

export interface MappedErrors {
  /** message per form field (first one wins, entries of a list are numbered) */
  fields: Record<string, string>;
  /** messages that belong to no input of this form, plus the summary */
  general: string[];
}

/**
 * Map an error onto the inputs a form has. `aliases` lets a form show a server
 * field under another input (e.g. "client_allowed_ips" under "tunnel").
 */
export function mapApiError(error: unknown, known: readonly string[], aliases: Record<string, string> = {}): MappedErrors {
  const out: MappedErrors = { fields: {}, general: [] };
  if (!(error instanceof ApiError)) {
    out.general.push(error instanceof Error && error.message ? error.message : 'Something went wrong.');
    return out;
  }
  const knownSet = new Set(known);
  for (const fe of error.fields) {
    const { base, index } = splitFieldName(fe.field);
    const target = aliases[base] ?? base;
    const message = index === null ? fe.message : `entry ${index + 1}: ${fe.message}`;
    if (knownSet.has(target)) {
      if (!(target in out.fields)) out.fields[target] = message;
    } else {
      out.general.push(`${fe.field}: ${fe.message}`);
    }
  }
  // The summary is shown unless every field message already sits by its input
  // and the summary would only repeat "invalid input".
  const placed = Object.keys(out.fields).length;
  if (placed === 0 || out.general.length > 0 || error.fields.length === 0) {
    out.general.unshift(error.message);
  }
  return out;
}

/** One human sentence for a toast or an error panel. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429 && error.retryAfter) return `${error.message} Try again in ${error.retryAfter} s.`;
    return error.message;
  }
  if (error instanceof TypeError) return 'Cannot reach the server. Check the connection and try again.';
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong.';
}
