/**
 * Small PEM and number helpers shared by the CA and the agent side: splitting PEM bundles, serial numbers
 * like Go's `rand.Int(2^128)`, and Go's `time.Duration` text (Istio's error messages embed it).
 */
import { randomBytes } from 'node:crypto';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** Every PEM block of the given type in a bundle, each normalized to end with one newline. */
export function splitPem(text: string, type = 'CERTIFICATE'): string[] {
  if (typeof text !== 'string') return [];
  const out: string[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (m[1] === type) out.push(m[0].replace(/\r\n/g, '\n') + '\n');
  }
  return out;
}

/** PEM of a DER body. */
export function pemEncode(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

/** A random positive serial below 2^128 as hex (Istio's genSerialNum). */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive as a DER INTEGER without a padding byte
  if (bytes[0] === 0) bytes[0] = 1; // keep it 16 bytes long, never zero
  return bytes.toString('hex');
}

/** Go's Duration.String() for a whole number of seconds: `24h0m0s`, `1m30s`, `5s`, `0s`. */
export function goDuration(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds)) return String(totalSeconds);
  const sign = totalSeconds < 0 ? '-' : '';
  let s = Math.abs(Math.trunc(totalSeconds));
  if (s === 0) return '0s';
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}
