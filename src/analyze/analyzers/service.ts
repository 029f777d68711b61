import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { isIstioControlPlane } from './applicationuid.js';
import { SYSTEM_NAMESPACES } from './injection-common.js';
import { asArray, asObject, asString } from './util.js';

const KNOWN_PROTOCOLS = new Set([
  'tcp',
  'udp',
  'grpc',
  'grpc-web',
  'http',
  'http_proxy',
  'http2',
  'https',
  'tls',
  'mongo',
  'redis',
  'mysql',
]);

/** Ports Istio treats as TCP when their name gives no protocol (SMTP, DNS, MySQL, MongoDB). */
const WELL_KNOWN_TCP_PORTS = new Set([25, 53, 3306, 27017]);

/**
 * Istio's ConvertProtocol reduced to "is the protocol known": UDP services, `appProtocol` (else the port
 * name) starting with `grpc-web` or whose part before the first `-` names a protocol, or a well-known port.
 */
export function portProtocolKnown(
  port: number,
  name: string,
  protocol: string,
  appProtocol: unknown,
): boolean {
  if (protocol === 'UDP') return true;
  let text = typeof appProtocol === 'string' ? appProtocol : name;
  if (text.toLowerCase().startsWith('grpc-web')) return true;
  const dash = text.indexOf('-');
  if (dash >= 0) text = text.slice(0, dash);
  return KNOWN_PROTOCOLS.has(text.toLowerCase()) || WELL_KNOWN_TCP_PORTS.has(port);
}

/** Kubernetes' IntOrString text for targetPort; "0" when unset, as a decoded but undefaulted object has it. */
function targetPortText(v: unknown): string {
  return typeof v === 'number' || typeof v === 'string' ? String(v) : '0';
}

/** Service ports whose name (or appProtocol) does not tell Istio the protocol. */
export const servicePortNameAnalyzer: Analyzer = {
  name: 'service.PortNameAnalyzer',
  description: 'Checks the port names associated with each service',
  inputs: [KIND.Service],
  analyze(ctx) {
    for (const svc of ctx.snapshot.list(KIND.Service)) {
      if (SYSTEM_NAMESPACES.has(svc.metadata.namespace ?? '')) continue;
      if (isIstioControlPlane(svc)) continue;
      const spec = specOf(svc);
      const externalName = spec['type'] === 'ExternalName';
      asArray(spec['ports']).forEach((raw, i) => {
        const p = asObject(raw) ?? {};
        const number = typeof p['port'] === 'number' ? p['port'] : 0;
        const name = asString(p['name']);
        const known = portProtocolKnown(number, name, asString(p['protocol']), p['appProtocol']);
        if (known && !(name === 'tcp' && externalName)) return;
        const path = `{.spec.ports[${i}].port}`;
        if (externalName) {
          ctx.report(MESSAGE_TYPES.ExternalNameServiceTypeInvalidPortName, svc, [], path);
        } else {
          ctx.report(
            MESSAGE_TYPES.PortNameIsNotUnderNamingConvention,
            svc,
            [name, number, targetPortText(p['targetPort'])],
            path,
          );
        }
      });
    }
  },
};
