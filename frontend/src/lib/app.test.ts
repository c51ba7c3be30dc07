import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolvePhase } from '../app/session';
import { degradedMessage, type HealthState } from './health';
import { matchPath, safeNext } from './router';

describe('router', () => {
  it('matches patterns with parameters', () => {
    expect(matchPath('/networks/:id', '/networks/7')).toEqual({ id: '7' });
    expect(matchPath('/networks/:id', '/networks/7/')).toEqual({ id: '7' });
    expect(matchPath('/networks/:id', '/networks')).toBeNull();
    expect(matchPath('/', '/')).toEqual({});
    expect(matchPath('/audit', '/alerts')).toBeNull();
  });
  it('only follows local paths after login', () => {
    expect(safeNext('/networks/3?x=1')).toBe('/networks/3?x=1');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext('/login')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});

describe('start-up phase', () => {
  afterEach(() => vi.unstubAllGlobals());

  function server(routes: Record<string, [number, unknown]>) {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        const [status, body] = routes[url] ?? [404, { error: { code: 'NOT_FOUND', message: 'no' } }];
        return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
      }),
    );
  }
  const setup = (complete: boolean) => ({ setup_complete: complete, steps: {}, next_step: complete ? null : 'server', detected_public_ip: null, existing_interfaces: [], driver: 'fake' });
  const unauth = [401, { error: { code: 'UNAUTHORIZED', message: 'Sign in.' } }] as [number, unknown];

  it('goes to the wizard while setup is incomplete', async () => {
    server({ '/api/setup/status': [200, setup(false)] });
    expect((await resolvePhase()).kind).toBe('setup');
  });
  it('goes to the app with a session', async () => {
    server({ '/api/setup/status': [200, setup(true)], '/api/auth/me': [200, { id: 1, username: 'admin', role: 'admin' }] });
    expect(await resolvePhase()).toEqual({ kind: 'app', user: { id: 1, username: 'admin', role: 'admin' } });
  });
  it('goes to the login page without one, also when setup/status is closed after setup', async () => {
    server({ '/api/setup/status': [200, setup(true)], '/api/auth/me': unauth });
    expect((await resolvePhase()).kind).toBe('login');
    server({ '/api/setup/status': unauth, '/api/auth/me': unauth });
    expect((await resolvePhase()).kind).toBe('login');
    server({ '/api/setup/status': [409, { error: { code: 'SETUP_COMPLETE', message: 'done' } }], '/api/auth/me': unauth });
    expect((await resolvePhase()).kind).toBe('login');
  });
  it('reports a server that does not answer properly', async () => {
    server({ '/api/setup/status': [500, { error: { code: 'INTERNAL', message: 'boom' } }] });
    await expect(resolvePhase()).rejects.toThrow('boom');
  });
});

describe('degraded banner', () => {
  const ok: HealthState = { health: null, kernelEnabled: true, driver: 'netlink', diagnostics: [], unhealthy: [], unreachable: false };
  it('is silent when all is well', () => {
    expect(degradedMessage(ok)).toBeNull();
    expect(degradedMessage({ ...ok, health: { status: 'healthy', version: '1', uptime: 1, networks: { total: 1, healthy: 1 }, database: 'ok', driver: 'x' } })).toBeNull();
  });
  it('speaks up when the kernel layer is off', () => {
    const m = degradedMessage({ ...ok, kernelEnabled: false, driver: 'none', diagnostics: ['no wireguard module'] });
    expect(m?.title).toMatch(/not active/);
    expect(m?.details).toContain('no wireguard module');
  });
  it('speaks up when /health is degraded', () => {
    const m = degradedMessage({ ...ok, health: { status: 'degraded', version: '1', uptime: 1, networks: { total: 3, healthy: 1 }, database: 'ok', driver: 'x' }, unhealthy: ['office: wg1 is down'] });
    expect(m?.title).toContain('2 of 3 networks');
    expect(m?.details).toEqual(['office: wg1 is down']);
  });
  it('speaks up when the server is unreachable', () => {
    expect(degradedMessage({ ...ok, unreachable: true })?.title).toMatch(/not reachable/);
  });
});
