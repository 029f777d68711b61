/** `proxy-config secret`: SDS secrets of a config_dump, as istioctl 1.17's SDS writer tabulates them. */
import { X509Certificate } from 'node:crypto';
import {
  arrField,
  dumpError,
  findSection,
  objField,
  renderProto,
  SECTION,
  strField,
} from './configdump-common.js';
import type { DumpFormat, JsonObject } from './configdump-common.js';
import { tabulate } from './tabwriter.js';

interface SecretRow {
  name: string;
  state: string;
  valid: boolean;
  type: string;
  serial: string;
  notAfter: string;
  notBefore: string;
}

function secretsSection(dump: JsonObject): JsonObject {
  const section = findSection(dump, SECTION.secrets);
  if (!section) throw dumpError(`config dump has no configuration type ${SECTION.secrets}`);
  return section;
}

/** Go's `time.Format(time.RFC3339)` of a UTC time: no fractional seconds, `Z`. */
function rfc3339(d: Date): string {
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The first PEM certificate of the chain (Go's `pem.Decode` reads only the first block). */
function describeCert(pemText: string, now: Date): Omit<SecretRow, 'name' | 'state'> | undefined {
  const block = /-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/.exec(pemText);
  if (!block) return undefined;
  try {
    const cert = new X509Certificate(block[0]);
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    return {
      type: cert.ca ? 'CA' : 'Cert Chain',
      serial: BigInt(`0x${cert.serialNumber}`).toString(10),
      notAfter: rfc3339(notAfter),
      notBefore: rfc3339(notBefore),
      valid: now > notBefore && now < notAfter,
    };
  } catch {
    return undefined;
  }
}

function inlineBytes(source: unknown): string {
  const b64 = strField(source, 'inline_bytes');
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : '';
}

function secretRow(entry: unknown, state: string, now: Date): SecretRow {
  const secret = objField(entry, 'secret');
  const chain = inlineBytes(objField(objField(secret, 'tls_certificate'), 'certificate_chain'));
  const ca = inlineBytes(objField(objField(secret, 'validation_context'), 'trusted_ca'));
  const data = chain || ca;
  const meta = data ? describeCert(data, now) : undefined;
  return {
    name: strField(entry, 'name'),
    state,
    valid: meta?.valid ?? false,
    type: meta?.type ?? '',
    serial: meta?.serial ?? '',
    notAfter: meta?.notAfter ?? '',
    notBefore: meta?.notBefore ?? '',
  };
}

export function secretSummary(dump: JsonObject, now = new Date()): string {
  const section = secretsSection(dump);
  const warming = arrField(section, 'dynamic_warming_secrets');
  const active = arrField(section, 'dynamic_active_secrets');
  if (warming.length === 0 && active.length === 0) return 'No active or warming secrets found.\n';
  const rows = [
    ...warming.map((s) => secretRow(s, 'WARMING', now)),
    ...active.map((s) => {
      const row = secretRow(s, 'ACTIVE', now);
      return strField(s, 'version_info') === 'uninitialized' ? { ...row, state: 'UNINITIALIZED' } : row;
    }),
  ];
  let text = 'RESOURCE NAME\tTYPE\tSTATUS\tVALID CERT\tSERIAL NUMBER\tNOT AFTER\tNOT BEFORE\n';
  for (const r of rows) {
    text += `${r.name}\t${r.type}\t${r.state}\t${r.valid}\t${r.serial}\t${r.notAfter}\t${r.notBefore}\n`;
  }
  // The SDS writer uses tabwidth 5 (it only matters for tab padding).
  return tabulate(text, { minwidth: 0, tabwidth: 5, padding: 5, padchar: ' ' });
}

/** The whole SecretsConfigDump, as istioctl prints it for `-o json|yaml`. */
export function secretDump(dump: JsonObject, format: DumpFormat): string {
  const section = findSection(dump, SECTION.secrets);
  if (!section) {
    throw dumpError(
      `sidecar doesn't support secrets: config dump has no configuration type ${SECTION.secrets}`,
    );
  }
  return renderProto(withoutType(section), format);
}

export function withoutType(section: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(section).filter(([k]) => k !== '@type'));
}
