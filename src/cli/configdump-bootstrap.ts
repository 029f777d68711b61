/** `proxy-config bootstrap`: the BootstrapConfigDump, or `-o short` version lines (istioctl 1.17). */
import {
  field,
  isObject,
  numField,
  objField,
  renderProto,
  requireSection,
  SECTION,
} from './configdump-common.js';
import type { DumpFormat, JsonObject } from './configdump-common.js';
import { withoutType } from './configdump-secrets.js';
import { tabulate } from './tabwriter.js';

/** A string value of a google.protobuf.Struct (node metadata keeps its keys verbatim). */
function structString(struct: unknown, key: string): string | undefined {
  if (!isObject(struct)) return undefined;
  const v = struct[key];
  return typeof v === 'string' ? v : v === undefined ? undefined : '';
}

export function bootstrapSummary(dump: JsonObject): string {
  const node = objField(objField(requireSection(dump, SECTION.bootstrap), 'bootstrap'), 'node');
  const metadata = field(node, 'metadata');
  const istioVersion = structString(metadata, 'ISTIO_VERSION') ?? '';
  let proxySha = structString(metadata, 'ISTIO_PROXY_SHA') ?? '';
  const shaParts = proxySha.split(':');
  if (shaParts.length > 1) proxySha = shaParts[1] ?? '';

  const build = objField(node, 'user_agent_build_version');
  const version = objField(build, 'version');
  const buildMeta = field(build, 'metadata');
  let envoy = `${numField(version, 'major_number')}.${numField(version, 'minor_number')}.${numField(version, 'patch')}`;
  const label = structString(buildMeta, 'build.label');
  if (label !== undefined) envoy += `-${label}`;
  for (const key of ['revision.status', 'build.type', 'ssl.version']) {
    const v = structString(buildMeta, key);
    if (v !== undefined) envoy += `/${v}`;
  }

  let text = '';
  if (istioVersion) text += `Istio Version:\t${istioVersion}\n`;
  if (proxySha) text += `Istio Proxy Version:\t${proxySha}\n`;
  text += `Envoy Version:\t${envoy}\n`;
  return tabulate(text, { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ' });
}

export function bootstrapDump(dump: JsonObject, format: DumpFormat): string {
  return renderProto(withoutType(requireSection(dump, SECTION.bootstrap)), format);
}
