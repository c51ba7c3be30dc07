import { describe, expect, it } from 'vitest';
import { ApiError, describeError, errorFromBody, mapApiError, splitFieldName } from './errors';

const body = (fields: { field: string; message: string }[], message = 'Invalid input.') => ({
  error: { code: 'VALIDATION_ERROR', message, fields },
});

describe('errorFromBody', () => {
  it('reads the contract error shape', () => {
    const e = errorFromBody(422, body([{ field: 'subnet', message: 'overlaps network home' }]));
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(422);
    expect(e.code).toBe('VALIDATION_ERROR');
    expect(e.message).toBe('Invalid input.');
    expect(e.fields).toEqual([{ field: 'subnet', message: 'overlaps network home' }]);
  });

  it('survives bodies that are not the contract shape', () => {
    expect(errorFromBody(502, null).message).toMatch(/not reachable/);
    expect(errorFromBody(500, 'oops').code).toBe('HTTP_500');
    expect(errorFromBody(418, {}).message).toContain('418');
    const junk = errorFromBody(400, { error: { code: 'X', fields: [{ nope: 1 }, { field: 'name', message: 'bad' }] } });
    expect(junk.fields).toEqual([{ field: 'name', message: 'bad' }]);
    expect(junk.message).toBe('The request was not accepted.');
  });

  it('keeps Retry-After', () => {
    expect(errorFromBody(429, null, 42).retryAfter).toBe(42);
  });
});

describe('splitFieldName', () => {
  it.each([
    ['subnet', 'subnet', null],
    ['dns_servers[2]', 'dns_servers', 2],
    ['peer.name', 'name', null],
    ['network.client_allowed_ips[0]', 'client_allowed_ips', 0],
  ])('%s', (f, base, index) => {
    expect(splitFieldName(f)).toEqual({ base, index });
  });
});

describe('mapApiError', () => {
  const known = ['name', 'subnet', 'listen_port', 'dns_servers'];

  it('puts each field message next to its input and drops the generic summary', () => {
    const err = errorFromBody(422, body([
      { field: 'subnet', message: 'overlaps network “home”' },
      { field: 'listen_port', message: 'port 51820 is in use' },
    ]));
    const m = mapApiError(err, known);
    expect(m.fields).toEqual({ subnet: 'overlaps network “home”', listen_port: 'port 51820 is in use' });
    expect(m.general).toEqual([]);
  });

  it('numbers list entries', () => {
    const m = mapApiError(errorFromBody(422, body([{ field: 'dns_servers[1]', message: 'not an address' }])), known);
    expect(m.fields.dns_servers).toBe('entry 2: not an address');
  });

  it('keeps the first message per field', () => {
    const m = mapApiError(
      errorFromBody(422, body([
        { field: 'name', message: 'first' },
        { field: 'name', message: 'second' },
      ])),
      known,
    );
    expect(m.fields.name).toBe('first');
  });

  it('sends unknown fields and the summary to the top of the form', () => {
    const m = mapApiError(errorFromBody(422, body([{ field: 'interface', message: 'taken' }, { field: 'name', message: 'bad' }])), known);
    expect(m.fields).toEqual({ name: 'bad' });
    expect(m.general).toEqual(['Invalid input.', 'interface: taken']);
  });

  it('uses aliases', () => {
    const m = mapApiError(errorFromBody(422, body([{ field: 'client_allowed_ips[0]', message: 'bad' }])), ['tunnel'], { client_allowed_ips: 'tunnel' });
    expect(m.fields.tunnel).toBe('entry 1: bad');
  });

  it('an error without fields is a form-level message', () => {
    const m = mapApiError(new ApiError(409, 'SUBNET_EXHAUSTED', 'No free address left in 10.8.0.0/30.'), known);
    expect(m.fields).toEqual({});
    expect(m.general).toEqual(['No free address left in 10.8.0.0/30.']);
  });

  it('non-API errors are reported too', () => {
    expect(mapApiError(new TypeError('Failed to fetch'), known).general).toEqual(['Failed to fetch']);
    expect(mapApiError('weird', known).general).toEqual(['Something went wrong.']);
  });
});

describe('describeError', () => {
  it('explains network failures and rate limits', () => {
    expect(describeError(new TypeError('Failed to fetch'))).toMatch(/Cannot reach/);
    expect(describeError(new ApiError(429, 'RATE_LIMITED', 'Too many attempts.', [], 30))).toBe('Too many attempts. Try again in 30 s.');
    expect(describeError(new ApiError(404, 'PEER_NOT_FOUND', 'No such peer.'))).toBe('No such peer.');
  });
});
