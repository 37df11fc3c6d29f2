import { describe, expect, it } from 'vitest';
import { ipv6Text } from '../../../src/core/rtp/udp-batch';
import { ipv6Bytes, socketAddress } from '../../../src/core/srt/srt-address';

describe('socket addresses for libsrt', () => {
  it('lays out an IPv4 sockaddr_in: family, port in network order, the four bytes', () => {
    expect([...socketAddress('192.0.2.7', 9000)]).toEqual([2, 0, 0x23, 0x28, 192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('lays out an IPv6 sockaddr_in6 (28 bytes): family 10, port, flow 0, the sixteen bytes, the zone as scope id', () => {
    const address = socketAddress('fe80::1%3', 443);
    expect(address.length).toBe(28);
    expect(address.readUInt16LE(0)).toBe(10);
    expect(address.readUInt16BE(2)).toBe(443);
    expect(address.readUInt32LE(4)).toBe(0);
    expect(ipv6Text(address.subarray(8, 24))).toBe('fe80::1');
    expect(address.readUInt32LE(24)).toBe(3);
  });

  it('reads every IPv6 text form back to the same address', () => {
    for (const text of ['::1', '::', '2001:db8::1', '2001:db8:0:1:1:1:1:1', '1::', 'fe80::1:2', '::ffff:192.0.2.1', '2001:db8:85a3:8d3:1319:8a2e:370:7348']) {
      expect(ipv6Text(ipv6Bytes(text))).toBe(text);
    }
    expect(ipv6Text(ipv6Bytes('2001:DB8:0:0:0:0:0:1'))).toBe('2001:db8::1');
  });

  it('refuses what is not an IP address, a named zone and a bad port, saying what it got', () => {
    expect(() => socketAddress('example.org', 1)).toThrow(/IP address, got "example.org"/);
    expect(() => socketAddress('fe80::1%eth0', 1)).toThrow(/interface number here, got %eth0/);
    expect(() => socketAddress('::1', 70000)).toThrow(/bad port 70000/);
    expect(() => ipv6Bytes('1:::2')).toThrow(/not an IPv6 address/);
  });
});
