// Validation and request bodies of the network, peer, bridge, password and admin forms.
import { describe, expect, it } from 'vitest';
import { validatePasswordChange } from '../pages/Account';
import { filterFromQuery, pageSummary, queryFromFilter } from '../pages/AuditLog';
import { directionLabel, validateBridge } from '../pages/Bridges';
import { expiryTone } from '../pages/Settings';
import { validateAdmin } from '../pages/wizard/Wizard';
import type { Bridge, Network, Peer } from '../lib/types';
import { suggestInterface } from '../lib/networks';
import { networkBody, networkDefaults, validateNetwork, valuesOf } from './NetworkForm';
import { peerBody, peerDefaults, peerValuesOf, validatePeer } from './PeerForm';

const home: Network = {
  id: 1,
  name: 'home',
  interface: 'wg0',
  mode: 'gateway',
  subnet: '10.8.0.0/24',
  subnet6: null,
  listen_port: 51820,
  public_key: 'x',
  server_address: '10.8.0.1',
  server_address6: null,
  dns_servers: ['1.1.1.1'],
  mtu: null,
  nat_enabled: true,
  inter_peer_routing: false,
  enabled: true,
  created_at: 1,
  updated_at: 1,
};

describe('network form', () => {
  it('defaults to a free subnet and port', () => {
    const d = networkDefaults([home], ['9.9.9.9']);
    expect(d.subnet).toBe('10.9.0.0/24');
    expect(d.listen_port).toBe('51821');
    expect(d.dns_servers).toBe('9.9.9.9');
    expect(validateNetwork({ ...d, name: 'office' }, [home])).toEqual({});
  });

  it('flags a bad subnet, port and name before sending', () => {
    const errs = validateNetwork({ ...networkDefaults([]), name: 'bad/name', subnet: '10.8.0.1/24', listen_port: '70000', mtu: '100' }, []);
    expect(Object.keys(errs).sort()).toEqual(['listen_port', 'mtu', 'name', 'subnet']);
    expect(errs.subnet).toContain('10.8.0.0/24');
  });

  it('flags collisions with other networks but not with itself', () => {
    const v = { ...valuesOf(home), name: 'Home' };
    const errs = validateNetwork(v, [home]);
    expect(errs.subnet).toContain('home');
    expect(errs.listen_port).toContain('home');
    expect(errs.name).toBeDefined();
    expect(validateNetwork(valuesOf(home), [home], home.id)).toEqual({});
  });

  it('sends everything on create (minus empty optionals) and only changes on edit', () => {
    const create = networkBody({ ...networkDefaults([]), name: ' lab ', dns_servers: '1.1.1.1, 8.8.8.8' });
    expect(create).toEqual({
      name: 'lab',
      mode: 'gateway',
      subnet: '10.8.0.0/24',
      listen_port: 51820,
      dns_servers: ['1.1.1.1', '8.8.8.8'],
      nat_enabled: true,
      inter_peer_routing: false,
    });
    expect(networkBody(valuesOf(home), home)).toEqual({});
    expect(networkBody({ ...valuesOf(home), listen_port: '51900', mtu: '1420' }, home)).toEqual({ listen_port: 51900, mtu: 1420 });
    expect(networkBody({ ...valuesOf({ ...home, mtu: 1420 }), mtu: '' }, { ...home, mtu: 1420 })).toEqual({ mtu: null });
  });
});

describe('network form: the interface name (create only, under Advanced)', () => {
  it('is optional, validated like the server, and sent only when given', () => {
    const d = { ...networkDefaults([home]), name: 'lab' };
    expect(validateNetwork(d, [home])).toEqual({});
    expect(networkBody(d).interface).toBeUndefined();
    expect(networkBody({ ...d, interface: ' wg-lab ' }).interface).toBe('wg-lab');
    expect(validateNetwork({ ...d, interface: 'a-sixteen-chars!' }, [home]).interface).toBe('At most 15 characters.');
    expect(validateNetwork({ ...d, interface: 'wg lab' }, [home]).interface).toContain('letters, digits and _ = + . -');
    expect(validateNetwork({ ...d, interface: '..' }, [home]).interface).toBeDefined();
    expect(validateNetwork({ ...d, interface: 'wg0' }, [home]).interface).toBe('Network “home” uses wg0.');
    expect(validateNetwork({ ...d, interface: 'x=+_.-9' }, [home])).toEqual({});
  });
  it('an edit never checks or sends it (it cannot change)', () => {
    expect(validateNetwork({ ...valuesOf(home), interface: 'bad name' }, [home], home.id)).toEqual({});
    expect(networkBody({ ...valuesOf(home), interface: 'wg9' }, home)).toEqual({});
  });
  it('the placeholder guesses the name the server would pick', () => {
    expect(suggestInterface([])).toBe('wg0');
    expect(suggestInterface([home])).toBe('wg1');
    expect(suggestInterface([home], ['wg1', 'wg3'])).toBe('wg2');
  });
});

const laptop: Peer = {
  id: 5,
  network_id: 1,
  name: 'laptop',
  email: null,
  public_key: 'pk',
  address: '10.8.0.5',
  address6: null,
  allowed_ips: ['10.8.0.5/32'],
  client_allowed_ips: [],
  endpoint: null,
  persistent_keepalive: null,
  role: 'client',
  site_networks: [],
  enabled: true,
  expires_at: null,
  has_private_key: true,
  preshared_key: true,
  created_at: 1,
  updated_at: 1,
};

describe('peer form', () => {
  it('accepts the defaults with a name', () => {
    expect(validatePeer(peerDefaults('phone'), { creating: true })).toEqual({});
  });

  it('needs CIDRs for a split tunnel and a site gateway, and a key when bringing one', () => {
    const errs = validatePeer({ ...peerDefaults('gw'), tunnel: 'split', role: 'site-gateway', own_key: true, public_key: 'nope' }, { creating: true });
    expect(Object.keys(errs).sort()).toEqual(['client_allowed_ips', 'public_key', 'site_networks']);
  });

  it('refuses a past expiry and a duplicate name', () => {
    const errs = validatePeer({ ...peerDefaults('Laptop'), expires_at: '2001-01-01T00:00' }, { creating: true, siblings: [laptop] });
    expect(errs.expires_at).toContain('future');
    expect(errs.name).toContain('Another peer');
  });

  it('full tunnel sends an empty client_allowed_ips; create omits empty optionals', () => {
    expect(peerBody(peerDefaults('phone'))).toEqual({ name: 'phone', role: 'client', client_allowed_ips: [], preshared_key: true });
    const split = peerBody({ ...peerDefaults('phone'), tunnel: 'split', client_allowed_ips: '10.8.0.0/24, 192.168.1.0/24', persistent_keepalive: '25' });
    expect(split.client_allowed_ips).toEqual(['10.8.0.0/24', '192.168.1.0/24']);
    expect(split.persistent_keepalive).toBe(25);
    const own = peerBody({ ...peerDefaults('x'), own_key: true, public_key: ' yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk= ' });
    expect(own.public_key).toBe('yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=');
  });

  it('edit sends only what changed', () => {
    expect(peerBody(peerValuesOf(laptop), laptop)).toEqual({});
    expect(peerBody({ ...peerValuesOf(laptop), name: 'work laptop', enabled: false }, laptop)).toEqual({ name: 'work laptop', enabled: false });
    expect(peerBody({ ...peerValuesOf(laptop), email: 'a@b.example' }, laptop)).toEqual({ email: 'a@b.example' });
  });
});

describe('bridges', () => {
  const b: Bridge = { id: 1, network_a_id: 1, network_b_id: 2, direction: 'bidirectional', allowed_cidrs: [], enabled: true, created_at: 0, updated_at: 0 };
  it('needs two different, not yet bridged networks', () => {
    const base = { network_a_id: '1', network_b_id: '1', direction: 'bidirectional' as const, allowed_cidrs: '', enabled: true };
    expect(validateBridge(base, []).network_b_id).toContain('different');
    expect(validateBridge({ ...base, network_a_id: '2', network_b_id: '1' }, [b]).network_b_id).toContain('already');
    expect(validateBridge({ ...base, network_b_id: '2' }, [b], 1)).toEqual({});
    expect(validateBridge({ ...base, network_b_id: '3', allowed_cidrs: '10.0.0.1/8' }, []).allowed_cidrs).toBeDefined();
  });
  it('labels directions', () => {
    expect(directionLabel('a_to_b', 'A', 'B')).toBe('A → B');
    expect(directionLabel('b_to_a', 'A', 'B')).toBe('B → A');
    expect(directionLabel('bidirectional', 'A', 'B')).toBe('A ↔ B');
  });
});

describe('audit log filters', () => {
  it('round-trips through the address bar', () => {
    const f = { action: 'peer.create', from: 100, to: 200, page: 3 };
    expect(filterFromQuery(new URLSearchParams(queryFromFilter(f)))).toEqual(f);
    expect(queryFromFilter({ action: '', from: null, to: null, page: 1 })).toBe('');
    expect(filterFromQuery(new URLSearchParams('page=-2&from=abc'))).toEqual({ action: '', from: null, to: null, page: 1 });
  });
  it('summarises the page', () => {
    expect(pageSummary(1, 50, 120, 50)).toBe('Showing 1–50 of 120');
    expect(pageSummary(3, 50, 120, 20)).toBe('Showing 101–120 of 120');
    expect(pageSummary(1, 50, 0, 0)).toBe('No entries');
  });
});

describe('passwords and the wizard', () => {
  it('password change', () => {
    expect(validatePasswordChange({ current_password: 'old password', new_password: 'new password!', confirm: 'new password!' })).toEqual({});
    const e = validatePasswordChange({ current_password: '', new_password: 'short', confirm: 'x' });
    expect(Object.keys(e).sort()).toEqual(['confirm', 'current_password', 'new_password']);
    expect(validatePasswordChange({ current_password: 'same password', new_password: 'same password', confirm: 'same password' }).new_password).toContain('different');
  });
  it('admin step', () => {
    expect(validateAdmin({ install_token: 'tok', username: 'admin', password: 'long enough pw', confirm: 'long enough pw' })).toEqual({});
    expect(Object.keys(validateAdmin({ install_token: ' ', username: '', password: 'short', confirm: 'other' })).sort()).toEqual([
      'confirm',
      'install_token',
      'password',
      'username',
    ]);
  });
  it('certificate expiry colours', () => {
    const now = 1_700_000_000;
    expect(expiryTone(now + 90 * 86400, now)).toEqual({ tone: 'ok', text: 'valid for 90 d' });
    expect(expiryTone(now + 20 * 86400, now).tone).toBe('warn');
    expect(expiryTone(now + 3 * 86400, now).tone).toBe('bad');
    expect(expiryTone(now - 1, now).text).toBe('expired');
  });
});

describe('wizard import', () => {
  it('imports kernel interfaces by name and wg-quick files by path', async () => {
    const { importBody, importKey } = await import('../pages/wizard/Wizard');
    const found = [
      { name: 'wg0', peers: 2, listen_port: 51820, source: 'kernel' as const, path: null, importable: true, problems: [] },
      { name: 'wg9', peers: 1, listen_port: null, source: 'file' as const, path: '/etc/wireguard/wg9.conf', importable: true, problems: [] },
    ];
    expect(importBody(found, found.map(importKey))).toEqual({ interfaces: ['wg0'], files: ['/etc/wireguard/wg9.conf'] });
    expect(importBody(found, ['kernel:wg0'])).toEqual({ interfaces: ['wg0'] });
  });

  it('selects at first only what can be imported', async () => {
    const { importableKeys } = await import('../pages/wizard/Wizard');
    const found = [
      { name: 'wg0', peers: 2, listen_port: 51820, source: 'kernel' as const, path: null, importable: false, problems: ['wg0: left running as it is'] },
      { name: 'wg9', peers: 1, listen_port: null, source: 'file' as const, path: '/etc/wireguard/wg9.conf', importable: true, problems: [] },
    ];
    expect(importableKeys(found)).toEqual(['file:/etc/wireguard/wg9.conf']);
  });
});

describe('wizard step 3 after going back (stale DNS)', () => {
  it('a fresh form takes step 2’s DNS servers', async () => {
    const { networkStart } = await import('../pages/wizard/Wizard');
    const start = networkStart(undefined, ['9.9.9.9']);
    expect(start.values.name).toBe('home');
    expect(start.values.dns_servers).toBe('9.9.9.9');
    expect(start.dnsFrom).toBe('9.9.9.9');
  });
  it('a draft whose DNS field was not edited takes step 2’s current list, and keeps the rest', async () => {
    const { networkStart } = await import('../pages/wizard/Wizard');
    const left = networkStart(undefined, ['9.9.9.9']);
    const typed = { ...left, values: { ...left.values, name: 'typed before going back' } };
    const again = networkStart(typed, ['9.9.9.9', '149.112.112.112']);
    expect(again.values.name).toBe('typed before going back');
    expect(again.values.dns_servers).toBe('9.9.9.9, 149.112.112.112');
    expect(again.dnsFrom).toBe('9.9.9.9, 149.112.112.112');
  });
  it('a DNS field the user edited in step 3 is kept, whatever step 2 says now', async () => {
    const { networkStart } = await import('../pages/wizard/Wizard');
    const left = networkStart(undefined, ['9.9.9.9']);
    const edited = { ...left, values: { ...left.values, dns_servers: '10.0.0.53' } };
    expect(networkStart(edited, ['1.1.1.1']).values.dns_servers).toBe('10.0.0.53');
    const cleared = { ...left, values: { ...left.values, dns_servers: '' } };
    expect(networkStart(cleared, ['1.1.1.1']).values.dns_servers).toBe('');
  });
});
