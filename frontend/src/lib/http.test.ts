import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from './errors';
import { filenameFromDisposition, request, setUnauthorizedHandler, withQuery } from './http';

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  const fetchMock = vi.fn(async () =>
    new Response(body === null ? null : typeof body === 'string' ? body : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json', ...headers },
    }),
  );
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

afterEach(() => {
  vi.unstubAllGlobals();
  setUnauthorizedHandler(() => {});
});

describe('request', () => {
  it('sends JSON with same-origin credentials and parses the answer', async () => {
    const f = respond(201, { id: 3, name: 'home' });
    const res = await request<{ id: number }>('/api/networks', { method: 'POST', json: { name: 'home' } });
    expect(res.id).toBe(3);
    const [url, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/networks');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(init.body).toBe('{"name":"home"}');
  });

  it('resolves 204 to undefined', async () => {
    respond(204, null);
    await expect(request('/api/auth/logout', { method: 'POST' })).resolves.toBeUndefined();
  });

  it('turns an error body into an ApiError with fields', async () => {
    respond(422, { error: { code: 'VALIDATION_ERROR', message: 'Invalid.', fields: [{ field: 'subnet', message: 'bad' }] } });
    const err = await request('/api/networks').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).fields).toEqual([{ field: 'subnet', message: 'bad' }]);
  });

  it('reports a 401 to the app unless told not to', async () => {
    const seen = vi.fn();
    setUnauthorizedHandler(seen);
    respond(401, { error: { code: 'UNAUTHORIZED', message: 'Sign in.' } });
    await expect(request('/api/networks')).rejects.toBeInstanceOf(ApiError);
    expect(seen).toHaveBeenCalledTimes(1);
    respond(401, { error: { code: 'BAD_CREDENTIALS', message: 'Wrong.' } });
    await expect(request('/api/auth/login', { method: 'POST', redirectOn401: false })).rejects.toBeInstanceOf(ApiError);
    expect(seen).toHaveBeenCalledTimes(1);
  });

  it('reads Retry-After', async () => {
    respond(429, { error: { code: 'RATE_LIMITED', message: 'Slow down.' } }, { 'Retry-After': '17' });
    const err = (await request('/api/auth/login', { redirectOn401: false }).catch((e: unknown) => e)) as ApiError;
    expect(err.retryAfter).toBe(17);
  });

  it('sends a raw body with its content type (restore upload)', async () => {
    const f = respond(200, { restored: true });
    await request('/api/system/restore', { method: 'POST', body: new Blob(['SQLite format 3']), contentType: 'application/octet-stream' });
    const init = (f.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/octet-stream');
    expect(init.body).toBeInstanceOf(Blob);
  });
});

describe('helpers', () => {
  it('withQuery skips empty values', () => {
    expect(withQuery('/api/audit-log', { action: 'peer.create', from: 5, to: undefined, x: '', y: null })).toBe('/api/audit-log?action=peer.create&from=5');
    expect(withQuery('/a?b=1', { c: 2 })).toBe('/a?b=1&c=2');
    expect(withQuery('/a')).toBe('/a');
  });
  it('filenameFromDisposition', () => {
    expect(filenameFromDisposition('attachment; filename="laptop.conf"')).toBe('laptop.conf');
    expect(filenameFromDisposition('attachment; filename=backup.db')).toBe('backup.db');
    expect(filenameFromDisposition("attachment; filename*=UTF-8''Z%C3%BCrich.conf")).toBe('Zürich.conf');
    expect(filenameFromDisposition(null)).toBeNull();
  });
});
