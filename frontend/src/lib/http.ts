// The one place that talks HTTP. Same origin, cookie session; every failure
// becomes an ApiError. A 401 on any call (except the ones that expect it, such
// as the login itself) is reported to the app, which sends the user to the
// login page or back into the setup wizard.

import { ApiError, errorFromBody } from './errors';
import { noteServerDate } from './clock';

type UnauthorizedHandler = () => void;
let onUnauthorized: UnauthorizedHandler = () => {};

export function setUnauthorizedHandler(handler: UnauthorizedHandler): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  method?: string;
  /** JSON body (serialised here) */
  json?: unknown;
  /** raw body, e.g. a File for the restore upload */
  body?: BodyInit;
  contentType?: string;
  query?: Record<string, string | number | boolean | null | undefined>;
  /** false: a 401 is just an error for the caller (login form, start-up probe) */
  redirectOn401?: boolean;
  signal?: AbortSignal;
}

export function withQuery(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === null || v === undefined || v === '') continue;
    qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    body = opts.body;
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
  }
  const res = await fetch(withQuery(path, opts.query), {
    method: opts.method ?? 'GET',
    headers,
    body,
    credentials: 'same-origin',
    cache: 'no-store',
    signal: opts.signal,
  });
  noteServerDate(res.headers.get('Date'));
  if (!res.ok) {
    let parsed: unknown = null;
    try {
      parsed = await res.json();
    } catch {
      parsed = null;
    }
    const ra = res.headers.get('Retry-After');
    const err = errorFromBody(res.status, parsed, ra && /^\d+$/.test(ra) ? Number(ra) : null);
    if (res.status === 401 && opts.redirectOn401 !== false) onUnauthorized();
    throw err;
  }
  return res;
}

/** Whether a GET of `path` is answered; a refusal throws like any request (a 401 goes to the
 *  handler). The body is never read (an event stream would not end), and the request is
 *  aborted as soon as its headers are in. */
export async function probe(path: string): Promise<void> {
  const ctl = new AbortController();
  try {
    await send(path, { signal: ctl.signal });
  } finally {
    ctl.abort();
  }
}

/** JSON request; 204 answers resolve to undefined. */
export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, 'BAD_RESPONSE', 'The server sent an answer the UI cannot read.');
  }
}

export async function requestText(path: string, opts: RequestOptions = {}): Promise<string> {
  return (await send(path, opts)).text();
}

/** A binary answer with the file name of its Content-Disposition. */
export async function requestBlob(path: string, opts: RequestOptions = {}): Promise<{ blob: Blob; filename: string | null }> {
  const res = await send(path, opts);
  return { blob: await res.blob(), filename: filenameFromDisposition(res.headers.get('Content-Disposition')) };
}

export function filenameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(header);
  if (star && star[1]) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''));
    } catch {
      /* fall through to the plain form */
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header);
  if (plain) return (plain[2] ?? plain[1] ?? '').trim() || null;
  return null;
}
