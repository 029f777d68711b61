/**
 * Go protobuf's single-line text form (`msg.String()`), which istioctl's describe prints for a route's
 * fault injection and TCP match attributes: snake_case field names in field-number order, `name:{...}` for
 * messages, quoted strings, `key:"k" value:"v"` entries for maps, Durations as `{seconds:N nanos:M}`.
 * The real printer sometimes adds a second space at random (protobuf's deliberate instability); this one
 * never does.
 */
import { isObj } from './kube.js';

/** Field order by proto field number, for the messages describe prints. */
const FIELD_ORDER: Record<string, readonly string[]> = {
  fault: ['delay', 'abort'],
  delay: ['percent', 'fixedDelay', 'exponentialDelay', 'percentage'],
  abort: ['httpStatus', 'grpcStatus', 'http2Error', 'percentage'],
  l4match: ['destinationSubnets', 'port', 'sourceSubnet', 'sourceLabels', 'gateways', 'sourceNamespace'],
};

const DURATION_FIELDS = new Set(['fixedDelay', 'exponentialDelay']);
const MAP_FIELDS = new Set(['sourceLabels']);

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function durationText(v: unknown): string {
  if (typeof v !== 'string') return '{}';
  const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(v);
  if (!m) return '{}';
  const seconds = Number(m[1]);
  const nanos = m[2] ? Number(m[2].padEnd(9, '0')) : 0;
  const parts = [seconds ? `seconds:${seconds}` : '', nanos ? `nanos:${nanos}` : ''].filter((p) => p);
  return `{${parts.join(' ')}}`;
}

function scalarText(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

function fieldText(key: string, v: unknown, orderKey: string | undefined): string[] {
  const name = snake(key);
  if (v === undefined || v === null) return [];
  if (DURATION_FIELDS.has(key)) return [`${name}:${durationText(v)}`];
  if (MAP_FIELDS.has(key) && isObj(v)) {
    return Object.keys(v)
      .sort()
      .map((k) => `${name}:{key:${JSON.stringify(k)} value:${scalarText(v[k])}}`);
  }
  if (Array.isArray(v)) return v.flatMap((item) => fieldText(key, item, orderKey));
  if (isObj(v)) return [`${name}:{${messageText(v, key in FIELD_ORDER ? key : undefined)}}`];
  const text = scalarText(v);
  return text === '' ? [] : [`${name}:${text}`];
}

/** The text form of a message given as proto3 JSON (camelCase keys). */
export function messageText(message: unknown, kind?: string): string {
  if (!isObj(message)) return '';
  const order = kind ? (FIELD_ORDER[kind] ?? []) : [];
  const keys = [
    ...order.filter((k) => k in message),
    ...Object.keys(message).filter((k) => !order.includes(k)),
  ];
  return keys.flatMap((k) => fieldText(k, message[k], undefined)).join(' ');
}
