// Client-side checks that mirror wgpilot/domain/validate.py, so most mistakes
// are caught before a round trip. The server stays the judge: its field errors
// are shown the same way. Each checker returns an error message or null.

export const MAX_NAME = 64;
export const MIN_PASSWORD = 10;
export const BCRYPT_MAX_BYTES = 72;

// Python's \w with re.UNICODE: letters and digits of any script, and "_".
const NAME_RE = /^[\p{L}\p{N}_][\p{L}\p{N}_ .,'@()+&-]*$/u;
const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?$`);
const EMAIL_RE =
  /^[A-Za-z0-9.!#%&'*+/=?^_{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const WG_KEY_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export function checkName(value: string): string | null {
  if (!value) return 'Required.';
  if (value !== value.trim()) return 'Must not start or end with a space.';
  if ([...value].length > MAX_NAME) return `At most ${MAX_NAME} characters.`;
  if (!NAME_RE.test(value)) return "May contain letters, digits, spaces and . , ' @ ( ) + & - only.";
  return null;
}

// A Linux interface name as wgpilot/domain/validate.py interface_name takes it.
export const MAX_INTERFACE = 15;
const INTERFACE_RE = /^[A-Za-z0-9_=+.-]+$/;

export function checkInterface(value: string): string | null {
  if (!value) return 'Required.';
  if (value.length > MAX_INTERFACE) return `At most ${MAX_INTERFACE} characters.`;
  if (!INTERFACE_RE.test(value) || value === '.' || value === '..') return 'May contain letters, digits and _ = + . - only.';
  return null;
}

// ---- addresses ---------------------------------------------------------------

/** Dotted quad → 32-bit number, or null. Leading zeros are rejected (as Python does). */
export function parseIPv4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** IPv6 text → 128-bit bigint, or null. Accepts "::" and a trailing dotted quad. */
export function parseIPv6(s: string): bigint | null {
  if (!s || s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [Math.floor(v4 / 65536), v4 % 65536];
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0] ?? '');
  if (head === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const rest = parseGroups(halves[1] ?? '');
    if (rest === null) return null;
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  if (tail.length === 2) {
    groups[6] = tail[0] ?? 0;
    groups[7] = tail[1] ?? 0;
  }
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(g);
  return n;
}

export function isIP(s: string): boolean {
  return parseIPv4(s) !== null || parseIPv6(s) !== null;
}

export interface Cidr {
  version: 4 | 6;
  address: bigint;
  prefix: number;
}

function formatIPv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((sh) => String((n >> sh) & 255n)).join('.');
}

function formatIPv6(n: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // Longest run of >= 2 zero groups becomes "::" (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatCidr(c: Cidr): string {
  return `${c.version === 4 ? formatIPv4(c.address) : formatIPv6(c.address)}/${c.prefix}`;
}

/** Parse "a.b.c.d/n" or "v6/n" without judging host bits. */
export function parseCidr(s: string): Cidr | null {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(s);
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  const prefix = Number(m[2]);
  const v4 = parseIPv4(m[1]);
  if (v4 !== null) return prefix <= 32 ? { version: 4, address: BigInt(v4), prefix } : null;
  const v6 = parseIPv6(m[1]);
  if (v6 !== null) return prefix <= 128 ? { version: 6, address: v6, prefix } : null;
  return null;
}

function hostMask(c: Cidr): bigint {
  const bits = BigInt((c.version === 4 ? 32 : 128) - c.prefix);
  return (1n << bits) - 1n;
}

function within(c: Cidr, base: string): boolean {
  const b = parseCidr(base);
  if (!b || b.version !== c.version || c.prefix < b.prefix) return false;
  return (c.address & ~hostMask(b)) === b.address;
}

/** Any CIDR with host bits clear; `version` restricts the family. */
export function checkCidr(value: string, version?: 4 | 6): string | null {
  const s = value.trim();
  if (!s) return 'Required.';
  if (!s.includes('/')) return `Needs a prefix length, e.g. ${s}/24.`;
  const c = parseCidr(s);
  if (!c) return `"${s}" is not a valid CIDR.`;
  const host = c.address & hostMask(c);
  if (host !== 0n) return `Has host bits set; did you mean ${formatCidr({ ...c, address: c.address - host })}?`;
  if (version !== undefined && c.version !== version) return `Must be an IPv${version} network.`;
  return null;
}

/** A network's IPv4 subnet: /8 to /31, not a reserved range. */
export function checkSubnet(value: string): string | null {
  const basic = checkCidr(value, 4);
  if (basic) return basic;
  const c = parseCidr(value.trim()) as Cidr;
  if (c.prefix < 8 || c.prefix > 31) return 'Prefix length must be between /8 and /31.';
  if (['127.0.0.0/8', '224.0.0.0/4', '169.254.0.0/16', '0.0.0.0/32'].some((r) => within(c, r)))
    return `${formatCidr(c)} is a reserved range.`;
  return null;
}

/** A network's optional IPv6 subnet, at least as large as the IPv4 one. */
export function checkSubnet6(value: string, v4?: string): string | null {
  const basic = checkCidr(value, 6);
  if (basic) return basic;
  const c = parseCidr(value.trim()) as Cidr;
  if (['::1/128', 'ff00::/8', 'fe80::/10', '::/128'].some((r) => within(c, r))) return `${formatCidr(c)} is a reserved range.`;
  if (c.prefix < 8 || c.prefix > 127) return 'Prefix length must be between /8 and /127.';
  const four = v4 ? parseCidr(v4.trim()) : null;
  if (four && four.version === 4 && 128 - c.prefix < 32 - four.prefix)
    return `/${c.prefix} is smaller than the IPv4 subnet /${four.prefix}; use /${128 - (32 - four.prefix)} or larger.`;
  return null;
}

/** Split a free-text list on commas, spaces and newlines. */
export function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((v) => v.trim())
    .filter(Boolean);
}

export function checkCidrList(value: string, opts: { required?: boolean } = {}): string | null {
  const items = splitList(value);
  if (items.length === 0) return opts.required ? 'Enter at least one CIDR.' : null;
  if (items.length > 64) return 'At most 64 entries.';
  for (const item of items) {
    const e = checkCidr(item);
    if (e) return `${item}: ${e}`;
  }
  return null;
}

// ---- numbers -----------------------------------------------------------------

/** A whole number in [lo, hi]; `unit` is a plural noun ("seconds") or "" for a bare number. */
export function intIn(value: string, lo: number, hi: number, unit: string, optional: boolean): string | null {
  const s = value.trim();
  if (!s) return optional ? null : 'Required.';
  if (!/^\d+$/.test(s)) return unit ? `Must be a whole number of ${unit}.` : 'Must be a whole number.';
  const n = Number(s);
  if (n < lo || n > hi) return `Must be between ${lo} and ${hi}${unit ? ` ${unit}` : ''}.`;
  return null;
}

export const checkPort = (v: string, optional = false) => intIn(v, 1, 65535, '', optional);
export const checkMtu = (v: string) => intIn(v, 1280, 9000, '', true);
export const checkKeepalive = (v: string) => intIn(v, 0, 65535, 'seconds', true);

/** "" → null, "51820" → 51820 (call after the matching check passed) */
export function toInt(value: string): number | null {
  const s = value.trim();
  return s ? Number(s) : null;
}

// ---- names and addresses people type ----------------------------------------

export function checkHostname(value: string, optional = false): string | null {
  const s = value.trim();
  if (!s) return optional ? null : 'Required.';
  if (s.length > 253 || !HOSTNAME_RE.test(s)) return 'Must be a DNS name such as vpn.example.com.';
  return null;
}

export function checkPublicIp(value: string): string | null {
  const s = value.trim();
  if (!s) return 'Required.';
  const v4 = parseIPv4(s);
  const v6 = v4 === null ? parseIPv6(s) : null;
  if (v4 === null && v6 === null) return `"${s}" is not an IP address.`;
  if (v4 === 0 || v6 === 0n) return `${s} cannot be a server address.`;
  if ((v4 !== null && v4 >= 0xe0000000 && v4 < 0xf0000000) || (v6 !== null && v6 >> 120n === 0xffn))
    return `${s} cannot be a server address.`;
  return null;
}

export function checkDnsList(value: string): string | null {
  const items = splitList(value);
  if (items.length > 64) return 'At most 64 entries.';
  for (const item of items) {
    if (item.length > 253 || (!isIP(item) && !HOSTNAME_RE.test(item))) return `"${item}" is neither an IP address nor a domain name.`;
  }
  return null;
}

export function checkEmail(value: string, optional = true): string | null {
  const s = value.trim();
  if (!s) return optional ? null : 'Required.';
  if (s.length > 254 || !EMAIL_RE.test(s)) return 'Must be an e-mail address.';
  return null;
}

export function checkEndpoint(value: string): string | null {
  const s = value.trim();
  if (!s) return null;
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([^:[\]]+):(\d{1,5})$/.exec(s);
  if (!m || m[1] === undefined || m[2] === undefined) return 'Must look like host:port or [ipv6]:port.';
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return 'Port must be between 1 and 65535.';
  if (!isIP(m[1]) && (m[1].includes(':') || !HOSTNAME_RE.test(m[1]))) return `"${m[1]}" is not a host name or IP address.`;
  return null;
}

export function checkWgKey(value: string, optional = true): string | null {
  const s = value.trim();
  if (!s) return optional ? null : 'Required.';
  if (!WG_KEY_RE.test(s)) return 'Must be a WireGuard key: 44 characters of base64 ending in "=".';
  return null;
}

export function checkUrl(value: string): string | null {
  const s = value.trim();
  if (!s) return 'Required.';
  try {
    const u = new URL(s);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'Must be an http(s) URL.';
    return null;
  } catch {
    return 'Must be a URL such as https://hooks.example.com/wgpilot.';
  }
}

export function checkUsername(value: string): string | null {
  const s = value.trim();
  if (!s) return 'Required.';
  if (s.length > 64) return 'At most 64 characters.';
  if (/[\s\p{C}]/u.test(s)) return 'No spaces or control characters.';
  return null;
}

export function checkPassword(value: string): string | null {
  if (!value) return 'Required.';
  if ([...value].length < MIN_PASSWORD) return `At least ${MIN_PASSWORD} characters.`;
  return null;
}

/** bcrypt only reads the first 72 bytes: say so, without refusing. */
export function passwordWarning(value: string): string | null {
  return new TextEncoder().encode(value).length > BCRYPT_MAX_BYTES
    ? `Only the first ${BCRYPT_MAX_BYTES} bytes of a password count.`
    : null;
}

/** Run a map of checks; returns only the failing fields. */
export function collect(checks: Record<string, string | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(checks)) if (v) out[k] = v;
  return out;
}
