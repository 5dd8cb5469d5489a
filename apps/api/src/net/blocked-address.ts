import { BlockList, isIP } from 'node:net';

/**
 * Address ranges an outbound request of CCX (a buyer's webhook, a provider's base URL) must never
 * reach: the machine itself, the networks behind it and the cloud metadata service. Each range is
 * named so a refusal can tell the user why ("127.0.0.1 is a loopback address").
 *
 * IPv6 ranges that embed an IPv4 address (IPv4-mapped ::ffff:0:0/96, IPv4-translated
 * ::ffff:0:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are not listed here: the embedded address
 * is extracted and judged like any IPv4 address, so ::ffff:8.8.8.8 passes and ::ffff:127.0.0.1
 * does not.
 */
const RANGES: { kind: string; v4?: string[]; v6?: string[] }[] = [
  { kind: 'unspecified', v4: ['0.0.0.0/8'], v6: ['::/128'] },
  { kind: 'loopback', v4: ['127.0.0.0/8'], v6: ['::1/128'] },
  { kind: 'private', v4: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] },
  { kind: 'carrier-grade NAT', v4: ['100.64.0.0/10'] },
  // 169.254.169.254 (and fd00:ec2::254, below) is the cloud metadata service: instance credentials.
  { kind: 'link-local', v4: ['169.254.0.0/16'], v6: ['fe80::/10', 'fec0::/10'] },
  { kind: 'unique-local (private)', v6: ['fc00::/7'] },
  { kind: 'multicast', v4: ['224.0.0.0/4'], v6: ['ff00::/8'] },
  // 240/4 includes the limited broadcast 255.255.255.255. IPv4-compatible ::a.b.c.d (::/96,
  // deprecated by RFC 4291 §2.5.5.1): no resolver hands one out legitimately and stacks disagree
  // on what it reaches, so all of it goes, public embedded address or not. Teredo (2001::/32, in
  // 2001::/23) hides its IPv4 address behind a relay: no webhook or provider lives there.
  { kind: 'reserved', v4: ['240.0.0.0/4', '192.0.0.0/24', '192.88.99.0/24'], v6: ['::/96', '100::/64', '2001::/23', '64:ff9b:1::/48'] },
  { kind: 'benchmarking', v4: ['198.18.0.0/15'] },
  { kind: 'documentation', v4: ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'], v6: ['2001:db8::/32', '3fff::/20'] },
];

const LISTS = RANGES.map(({ kind, v4 = [], v6 = [] }) => {
  const list = new BlockList();
  for (const cidr of v4) addSubnet(list, cidr, 'ipv4');
  for (const cidr of v6) addSubnet(list, cidr, 'ipv6');
  return { kind, list };
});

/** "a loopback", "an unspecified": for messages in the user's terms. */
export function withArticle(kind: string): string {
  return /^(un(?!i)|[aeio])/i.test(kind) ? `an ${kind}` : `a ${kind}`;
}

function addSubnet(list: BlockList, cidr: string, family: 'ipv4' | 'ipv6'): void {
  const [network, prefix] = cidr.split('/');
  list.addSubnet(network, Number(prefix), family);
}

/** IPv6 prefixes whose low bits carry an IPv4 address: [prefix, prefix length, shift of the IPv4 part]. */
const EMBEDDING: [bigint, number, bigint][] = [
  [0xffffn << 32n, 96, 0n], // ::ffff:0:0/96, IPv4-mapped
  [0xffffn << 48n, 96, 0n], // ::ffff:0:0:0/96, IPv4-translated (RFC 2765)
  [0x0064ff9bn << 96n, 96, 0n], // 64:ff9b::/96, NAT64 (RFC 6052)
  [0x2002n << 112n, 16, 80n], // 2002::/16, 6to4: 2002:AABB:CCDD::/48
];

/**
 * The kind of non-public range `ip` is in ("loopback", "private", …), or null for a public
 * address. Accepts IPv4, IPv6 (with or without [brackets] and a %zone). Anything that is not an
 * IP address is "not an IP address": callers that judge resolved addresses fail closed.
 */
export function blockedAddressKind(ip: string): string | null {
  const address = ip.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const value = ipv6ToBigInt(address);
    for (const [prefix, bits, shift] of EMBEDDING) {
      const mask = ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
      if ((value & mask) === prefix) return blockedAddressKind(intToIpv4(Number((value >> shift) & 0xffffffffn)));
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return LISTS.find(({ list }) => list.check(address, type))?.kind ?? null;
}

/**
 * True when `ip` is not a public unicast address: unspecified, loopback, private, carrier-grade
 * NAT, link-local (the 169.254.169.254 metadata service), unique-local (fd00:ec2::254),
 * multicast, broadcast and reserved, benchmarking or documentation ranges, including such an
 * IPv4 address embedded in IPv6 (IPv4-mapped or -compatible, NAT64, 6to4). A string that is not an
 * IP address is blocked too (fail closed). Pure.
 */
export function isBlockedAddress(ip: string): boolean {
  return blockedAddressKind(ip) !== null;
}

/** A valid IPv6 address (isIP === 6, no zone) as a 128-bit integer. */
function ipv6ToBigInt(address: string): bigint {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // A dotted IPv4 tail (::ffff:127.0.0.1) is two more groups.
    const v4 = ipv4ToInt(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length > 1 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function ipv4ToInt(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}
