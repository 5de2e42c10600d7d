import { isIPv4, isIPv6 } from 'node:net';

/**
 * What kind of IP address a socket would reach. Everything but `public` is refused for
 * redirects and token realms unless an upstream sets `allowPrivateAddresses`. Ranges:
 * RFC 1122 §3.2.1.3 (0/8, 127/8), RFC 3927 (169.254/16), RFC 1918 (10/8, 172.16/12,
 * 192.168/16), RFC 6598 (100.64/10, carrier-grade NAT), RFC 5771 (224/4), RFC 1112 (240/4),
 * RFC 4291 (::, ::1, fe80::/10, ff00::/8, IPv4-mapped ::ffff:0:0/96), RFC 4193 (fc00::/7),
 * RFC 3879 (fec0::/10, deprecated site-local). IPv6 forms that carry an IPv4 address
 * (IPv4-mapped and -compatible, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that address,
 * since that is where the packets end up.
 */
export type AddressClass = 'public' | 'loopback' | 'link-local' | 'private' | 'unspecified' | 'multicast' | 'reserved';

export function classifyAddress(address: string): AddressClass {
  const zoneless = address.replace(/%.*$/, '');
  if (isIPv4(zoneless)) return classifyIPv4(ipv4Octets(zoneless));
  if (isIPv6(zoneless)) return classifyIPv6(ipv6Words(zoneless));
  // Not an address at all: never treated as a public one.
  return 'reserved';
}

function ipv4Octets(address: string): number[] {
  return address.split('.').map(Number);
}

function classifyIPv4(o: number[]): AddressClass {
  const [a = 0, b = 0] = o;
  if (a === 0) return 'unspecified';
  if (a === 127) return 'loopback';
  if (a === 169 && b === 254) return 'link-local';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) return 'private';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved';
  return 'public';
}

/** The eight 16-bit words of a valid IPv6 address (`::` expanded, a trailing IPv4 part split). */
function ipv6Words(address: string): number[] {
  let text = address.toLowerCase();
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = ipv4Octets(v4[1]);
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, -v4[1].length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head = '', rest] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = [...(rest === undefined ? [] : parse(rest)), ...tail];
  const zeros = rest === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => 0);
  return [...left, ...zeros, ...right];
}

function classifyIPv6(w: number[]): AddressClass {
  const [w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0] = w;
  const embedded = (hi: number, lo: number): AddressClass => classifyIPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  if (w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0) {
    if (w5 === 0 && w6 === 0 && w7 === 0) return 'unspecified';
    if (w5 === 0 && w6 === 0 && w7 === 1) return 'loopback';
    // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible, deprecated)
    if (w5 === 0xffff || w5 === 0) return embedded(w6, w7);
  }
  if (w0 === 0x64 && w1 === 0xff9b && w2 === 0 && w3 === 0 && w4 === 0 && w5 === 0) return embedded(w6, w7);
  if (w0 === 0x2002) return embedded(w1, w2);
  if ((w0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((w0 & 0xfe00) === 0xfc00 || (w0 & 0xffc0) === 0xfec0) return 'private';
  if ((w0 & 0xff00) === 0xff00) return 'multicast';
  return 'public';
}
