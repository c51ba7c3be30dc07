import { describe, expect, it } from 'vitest';
import { cidrsOverlap, overlappingNetwork, peerCapacity, portOwner, suggestPort, suggestSubnet } from './networks';
import type { Network } from './types';

const net = (id: number, subnet: string, listen_port: number, subnet6: string | null = null) => ({ id, name: `n${id}`, subnet, subnet6, listen_port }) as Network;

describe('network helpers', () => {
  it('detects overlapping CIDRs', () => {
    expect(cidrsOverlap('10.8.0.0/24', '10.8.0.128/25')).toBe(true);
    expect(cidrsOverlap('10.0.0.0/8', '10.200.0.0/16')).toBe(true);
    expect(cidrsOverlap('10.8.0.0/24', '10.9.0.0/24')).toBe(false);
    expect(cidrsOverlap('fd00::/64', '10.8.0.0/24')).toBe(false);
    expect(cidrsOverlap('fd00::/48', 'fd00:0:0:1::/64')).toBe(true);
    expect(cidrsOverlap('garbage', '10.0.0.0/8')).toBe(false);
  });

  it('names the network a subnet or port collides with, except itself', () => {
    const all = [net(1, '10.8.0.0/24', 51820), net(2, '10.9.0.0/24', 51821, 'fd00:9::/64')];
    expect(overlappingNetwork('10.8.0.0/16', all)?.id).toBe(1);
    expect(overlappingNetwork('10.8.0.0/24', all, 1)).toBeNull();
    expect(overlappingNetwork('fd00:9::/64', all)?.id).toBe(2);
    expect(portOwner(51821, all)?.id).toBe(2);
    expect(portOwner(51821, all, 2)).toBeNull();
  });

  it('suggests a free subnet and port', () => {
    expect(suggestSubnet([])).toBe('10.8.0.0/24');
    expect(suggestSubnet([net(1, '10.8.0.0/24', 1), net(2, '10.9.0.0/16', 2)])).toBe('10.10.0.0/24');
    expect(suggestPort([])).toBe(51820);
    expect(suggestPort([net(1, '', 51820), net(2, '', 51821)])).toBe(51822);
  });

  it('counts peer addresses', () => {
    expect(peerCapacity('10.8.0.0/24')).toBe(253);
    expect(peerCapacity('10.8.0.0/30')).toBe(1);
    expect(peerCapacity('nope')).toBeNull();
  });
});
