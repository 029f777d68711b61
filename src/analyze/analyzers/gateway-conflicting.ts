import type { Resource } from '../../api/index.js';
import { KIND, fullName, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { gatewaySelector } from './gateway-selector.js';
import { asArray, asObject, hostMatches } from './util.js';

interface GatewayServer {
  port: string;
  hosts: string[];
}

/**
 * Gateways with the same selector and server port whose hosts overlap conflict: which one serves a request
 * is undefined. Servers without a port are skipped (schema validation reports them).
 */
export const gatewayConflictingAnalyzer: Analyzer = {
  name: 'gateway.ConflictingGatewayAnalyzer',
  description: "Checks a gateway's selector, port number and hosts",
  inputs: [KIND.Gateway],
  analyze(ctx) {
    const gateways = ctx.snapshot.list(KIND.Gateway);
    // `selector~port` -> gateway full name -> that server's hosts (a later server of a gateway replaces an earlier one).
    const byKey = new Map<string, Map<string, string[]>>();
    for (const gw of gateways) {
      const selector = gatewaySelector(gw).text;
      for (const server of serversOf(gw)) {
        const key = `${selector}~${server.port}`;
        let entry = byKey.get(key);
        if (!entry) byKey.set(key, (entry = new Map()));
        entry.set(fullName(gw), server.hosts);
      }
    }

    for (const gw of gateways) {
      const name = fullName(gw);
      const selector = gatewaySelector(gw);
      // Istio looks for its selector text inside any key; only a Gateway without servers can miss itself.
      const known = [...byKey.keys()].some((k) => k.includes(selector.text));
      if (selector.text !== '' && !known) {
        ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, gw, ['selector', selector.text], selector.path);
        continue;
      }
      for (const server of serversOf(gw)) {
        const conflicts: string[] = [];
        for (const [otherName, otherHosts] of byKey.get(`${selector.text}~${server.port}`) ?? []) {
          for (const host of server.hosts) {
            if (otherName !== name && otherHosts.some((h) => hostMatches(host, h))) conflicts.push(otherName);
          }
        }
        if (conflicts.length > 0) {
          ctx.report(MESSAGE_TYPES.ConflictingGateways, gw, [
            conflicts.join(','),
            selector.text,
            server.port,
            server.hosts.join(','),
          ]);
        }
      }
    }
  },
};

function serversOf(gw: Resource): GatewayServer[] {
  const out: GatewayServer[] = [];
  for (const s of asArray(specOf(gw)['servers'])) {
    const server = asObject(s);
    const port = asObject(server?.['port']);
    if (!port) continue;
    const number = typeof port['number'] === 'number' ? Math.trunc(port['number']) : 0;
    const hosts = asArray(server?.['hosts']).filter((h): h is string => typeof h === 'string');
    out.push({ port: String(number), hosts });
  }
  return out;
}
