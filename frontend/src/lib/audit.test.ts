import { describe, expect, it } from 'vitest';
import { describeResource, detailLines } from './audit';

describe('describeResource', () => {
  it('names the resource instead of "peer:6"', () => {
    expect(describeResource({ resource: 'peer:6', resource_name: 'laptop' })).toBe('peer “laptop”');
    expect(describeResource({ resource: 'network:2', resource_name: 'home' })).toBe('network “home”');
    expect(describeResource({ resource: 'user:1', resource_name: 'admin' })).toBe('user “admin”');
    expect(describeResource({ resource: 'bridge:3', resource_name: 'home – office' })).toBe('bridge home – office');
    expect(describeResource({ resource: 'alert:4', resource_name: 'peer_offline' })).toBe('Peer offline alert');
  });
  it('falls back to the kind and id, and shows other resources as they are', () => {
    expect(describeResource({ resource: 'peer:6', resource_name: null })).toBe('peer #6');
    expect(describeResource({ resource: 'settings', resource_name: null })).toBe('settings');
    expect(describeResource({ resource: 'system', resource_name: null })).toBe('system');
  });
});

describe('detailLines', () => {
  it('reads changes as from → to, with words for booleans and lists', () => {
    expect(
      detailLines({
        name: 'laptop',
        network_id: 1,
        changes: { enabled: { from: true, to: false }, client_allowed_ips: { from: [], to: ['10.0.0.0/8', '192.168.1.0/24'] } },
      }),
    ).toEqual([
      { label: 'enabled', value: 'yes → no' },
      { label: 'client routes', value: 'none → 10.0.0.0/8, 192.168.1.0/24' },
      { label: 'name', value: 'laptop' },
      { label: 'network id', value: '1' },
    ]);
  });
  it('a changed field is said once, as its change', () => {
    expect(detailLines({ name: 'new', changes: { name: { from: 'old', to: 'new' } } })).toEqual([{ label: 'name', value: 'old → new' }]);
  });
  it('never shows key material, only that a preshared key was replaced', () => {
    expect(detailLines({ changes: { preshared_key: { from: true, to: true, rotated: true } } })).toEqual([
      { label: 'preshared key', value: 'replaced by a new one' },
    ]);
  });
  it('shows nothing as a dash, times as dates, and no raw JSON for flat values', () => {
    const lines = detailLines({ email: null, expires_at: 1_700_000_000, mode: 'gateway' });
    expect(lines[0]).toEqual({ label: 'email', value: '—' });
    expect(lines[1]?.value).not.toBe('1700000000');
    expect(lines[2]).toEqual({ label: 'mode', value: 'gateway' });
    expect(detailLines({})).toEqual([]);
    expect(detailLines(null)).toEqual([]);
  });
  it('reads a restore entry without raw JSON: nested objects as "label: value, …"', () => {
    // the detail services/backup.py records for a restore
    const lines = detailLines({
      replaced: { networks: 2, peers: 2 },
      networks: 1,
      peers: 3,
      saved_previous: 'backups/before-restore-20261207.tar',
      backup_created_at: 1_700_000_000,
      backup_schema_version: 9,
      audit_entries_carried: 14,
    });
    expect(lines[0]).toEqual({ label: 'replaced', value: 'networks: 2, peers: 2' });
    expect(lines.find((l) => l.label === 'backup created at')?.value).not.toBe('1700000000');
    for (const l of lines) expect(l.value).not.toMatch(/[{}"]/);
    expect(detailLines({ limits: { listen_port: 51820, nested: { created_at: null } } })[0]?.value).toBe('listen port: 51820, nested: created at: —');
    expect(detailLines({ replaced: {} })[0]?.value).toBe('none');
  });
});
