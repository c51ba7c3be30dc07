import { describe, expect, it } from 'vitest';
import {
  checkCidr,
  checkCidrList,
  checkDnsList,
  checkEmail,
  checkEndpoint,
  checkHostname,
  checkKeepalive,
  checkMtu,
  checkName,
  checkPassword,
  checkPort,
  checkPublicIp,
  checkSubnet,
  checkSubnet6,
  checkUrl,
  checkUsername,
  checkWgKey,
  formatCidr,
  parseCidr,
  parseIPv4,
  parseIPv6,
  passwordWarning,
  splitList,
} from './validate';

describe('names', () => {
  it.each(['home', 'Anna’s phone'.replace('’', "'"), 'ops@lab-2', 'laptop (work)', 'Zürich office', '東京', 'a_b.c,d+e&f'])('accepts %s', (n) => {
    expect(checkName(n)).toBeNull();
  });
  it.each([
    ['', 'Required.'],
    [' lead', 'space'],
    ['trail ', 'space'],
    ['a'.repeat(65), '64'],
    ['bad/name', 'letters'],
    ['[Peer]', 'letters'],
    ['x = y', 'letters'],
    ['-dash-first', 'letters'],
    ['semi;colon', 'letters'],
    ['new\nline', 'letters'],
  ])('rejects %j', (n, frag) => {
    expect(checkName(n)).toContain(frag);
  });
  it('counts characters, not UTF-16 units', () => {
    expect(checkName('😀'.repeat(64))).not.toContain('64');
  });
});

describe('IPv4 / IPv6 parsing', () => {
  it('parses dotted quads strictly', () => {
    expect(parseIPv4('10.8.0.1')).toBe(0x0a080001);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIPv4('256.1.1.1')).toBeNull();
    expect(parseIPv4('01.2.3.4')).toBeNull();
    expect(parseIPv4('1.2.3')).toBeNull();
    expect(parseIPv4('1.2.3.4.5')).toBeNull();
    expect(parseIPv4('a.b.c.d')).toBeNull();
  });
  it('parses IPv6 with compression and embedded IPv4', () => {
    expect(parseIPv6('::')).toBe(0n);
    expect(parseIPv6('::1')).toBe(1n);
    expect(parseIPv6('fd00::1')).toBe((0xfd00n << 112n) | 1n);
    expect(parseIPv6('2001:db8:0:0:0:0:0:1')).toBe(parseIPv6('2001:db8::1'));
    expect(parseIPv6('::ffff:1.2.3.4')).toBe((0xffffn << 32n) | 0x01020304n);
    expect(parseIPv6('1::2::3')).toBeNull();
    expect(parseIPv6('12345::')).toBeNull();
    expect(parseIPv6('1:2:3:4:5:6:7:8:9')).toBeNull();
    expect(parseIPv6('1:2:3:4:5:6:7')).toBeNull();
    expect(parseIPv6('g::1')).toBeNull();
  });
  it('formats CIDRs canonically', () => {
    expect(formatCidr(parseCidr('10.8.0.0/24')!)).toBe('10.8.0.0/24');
    expect(formatCidr(parseCidr('fd00:0:0:0::/64')!)).toBe('fd00::/64');
    expect(formatCidr(parseCidr('2001:db8:0:1:0:0:0:0/64')!)).toBe('2001:db8:0:1::/64');
  });
});

describe('CIDR', () => {
  it('accepts networks with clear host bits', () => {
    expect(checkCidr('10.8.0.0/24')).toBeNull();
    expect(checkCidr('0.0.0.0/0')).toBeNull();
    expect(checkCidr('::/0')).toBeNull();
    expect(checkCidr('192.168.1.7/32')).toBeNull();
    expect(checkCidr('fd00::/64')).toBeNull();
  });
  it('explains what is wrong', () => {
    expect(checkCidr('10.8.0.0')).toContain('prefix length');
    expect(checkCidr('10.8.0.1/24')).toBe('Has host bits set; did you mean 10.8.0.0/24?');
    expect(checkCidr('fd00::1/64')).toContain('fd00::/64');
    expect(checkCidr('10.8.0.0/33')).toContain('not a valid CIDR');
    expect(checkCidr('banana/8')).toContain('not a valid CIDR');
    expect(checkCidr('')).toBe('Required.');
    expect(checkCidr('fd00::/64', 4)).toContain('IPv4');
  });
});

describe('network subnets', () => {
  it('accepts private ranges between /8 and /31', () => {
    expect(checkSubnet('10.8.0.0/24')).toBeNull();
    expect(checkSubnet('10.0.0.0/8')).toBeNull();
    expect(checkSubnet('192.168.77.0/30')).toBeNull();
  });
  it('rejects bad subnets the way the server does', () => {
    expect(checkSubnet('10.0.0.0/7')).toContain('/8 and /31');
    expect(checkSubnet('10.8.0.0/32')).toContain('/8 and /31');
    expect(checkSubnet('127.0.0.0/8')).toContain('reserved');
    expect(checkSubnet('169.254.1.0/24')).toContain('reserved');
    expect(checkSubnet('224.0.0.0/24')).toContain('reserved');
    expect(checkSubnet('10.8.0.0/33')).not.toBeNull();
    expect(checkSubnet('10.8.0.5/24')).toContain('host bits');
    expect(checkSubnet('fd00::/64')).toContain('IPv4');
    expect(checkSubnet('not-a-subnet')).not.toBeNull();
  });
  it('IPv6 subnet must hold the IPv4 one', () => {
    expect(checkSubnet6('fd00:8::/64', '10.8.0.0/24')).toBeNull();
    expect(checkSubnet6('fd00:8::/120', '10.8.0.0/16')).toContain('/112');
    expect(checkSubnet6('fe80::/64')).toContain('reserved');
    expect(checkSubnet6('10.0.0.0/8')).toContain('IPv6');
  });
});

describe('lists', () => {
  it('splits on commas, spaces and newlines', () => {
    expect(splitList(' 1.1.1.1, 8.8.8.8\n9.9.9.9  ,,')).toEqual(['1.1.1.1', '8.8.8.8', '9.9.9.9']);
  });
  it('checks every CIDR', () => {
    expect(checkCidrList('10.0.0.0/8, 192.168.1.0/24')).toBeNull();
    expect(checkCidrList('')).toBeNull();
    expect(checkCidrList('', { required: true })).not.toBeNull();
    expect(checkCidrList('10.0.0.0/8, 192.168.1.1/24')).toContain('192.168.1.1/24');
  });
  it('DNS: addresses or search domains', () => {
    expect(checkDnsList('1.1.1.1, 2606:4700:4700::1111, lan.example')).toBeNull();
    expect(checkDnsList('')).toBeNull();
    expect(checkDnsList('1.1.1.1, bad_host!')).toContain('bad_host!');
  });
});

describe('numbers', () => {
  it('ports', () => {
    expect(checkPort('51820')).toBeNull();
    expect(checkPort('1')).toBeNull();
    expect(checkPort('65535')).toBeNull();
    expect(checkPort('0')).toContain('between 1 and 65535');
    expect(checkPort('65536')).toContain('between 1 and 65535');
    expect(checkPort('5182x')).toContain('whole number');
    expect(checkPort('-1')).toContain('whole number');
    expect(checkPort('1.5')).toContain('whole number');
    expect(checkPort('')).toBe('Required.');
    expect(checkPort('', true)).toBeNull();
  });
  it('MTU and keepalive are optional with ranges', () => {
    expect(checkMtu('')).toBeNull();
    expect(checkMtu('1420')).toBeNull();
    expect(checkMtu('1279')).not.toBeNull();
    expect(checkMtu('9001')).not.toBeNull();
    expect(checkKeepalive('0')).toBeNull();
    expect(checkKeepalive('25')).toBeNull();
    expect(checkKeepalive('65536')).not.toBeNull();
  });
  it('range messages read as sentences, with or without a unit', () => {
    expect(checkKeepalive('65536')).toBe('Must be between 0 and 65535 seconds.');
    expect(checkKeepalive('soon')).toBe('Must be a whole number of seconds.');
    expect(checkPort('0')).toBe('Must be between 1 and 65535.');
    expect(checkMtu('x')).toBe('Must be a whole number.');
  });
});

describe('other inputs', () => {
  it('public IP', () => {
    expect(checkPublicIp('203.0.113.7')).toBeNull();
    expect(checkPublicIp('2001:db8::7')).toBeNull();
    expect(checkPublicIp('0.0.0.0')).toContain('cannot');
    expect(checkPublicIp('::')).toContain('cannot');
    expect(checkPublicIp('239.1.1.1')).toContain('cannot');
    expect(checkPublicIp('vpn.example.com')).toContain('not an IP');
  });
  it('hostname', () => {
    expect(checkHostname('vpn.example.com')).toBeNull();
    expect(checkHostname('', true)).toBeNull();
    expect(checkHostname('-bad.example')).not.toBeNull();
    expect(checkHostname('has space.example')).not.toBeNull();
  });
  it('endpoint', () => {
    expect(checkEndpoint('')).toBeNull();
    expect(checkEndpoint('203.0.113.5:51820')).toBeNull();
    expect(checkEndpoint('gw.example.com:51820')).toBeNull();
    expect(checkEndpoint('[2001:db8::1]:51820')).toBeNull();
    expect(checkEndpoint('2001:db8::1:51820')).not.toBeNull();
    expect(checkEndpoint('host:0')).toContain('Port');
    expect(checkEndpoint('host')).not.toBeNull();
  });
  it('e-mail, URL, key, username, password', () => {
    expect(checkEmail('ops@example.com')).toBeNull();
    expect(checkEmail('')).toBeNull();
    expect(checkEmail('', false)).toBe('Required.');
    expect(checkEmail('nope@')).not.toBeNull();
    expect(checkUrl('https://hooks.example.com/x')).toBeNull();
    expect(checkUrl('ftp://x')).not.toBeNull();
    expect(checkUrl('not a url')).not.toBeNull();
    expect(checkWgKey('yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=')).toBeNull();
    expect(checkWgKey('too-short=')).not.toBeNull();
    expect(checkWgKey('', false)).toBe('Required.');
    expect(checkUsername('admin')).toBeNull();
    expect(checkUsername('two words')).not.toBeNull();
    expect(checkPassword('short')).toContain('10');
    expect(checkPassword('long enough pass')).toBeNull();
    expect(passwordWarning('x'.repeat(72))).toBeNull();
    expect(passwordWarning('ü'.repeat(40))).toContain('72 bytes');
  });
});
