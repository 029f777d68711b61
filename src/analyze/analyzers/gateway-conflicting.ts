import type { Resource } from '../../api/index.js';
import { KIND, fullName, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { gatewaySelector } from './gateway-selector.js';
import { HostIndex } from './host-index.js';
import { asArray, asObject, hostMatches } from './util.js';

interface GatewayServer {
  port: string;
  hosts: string[];
}

/** A gateway's hosts under one `selector~port` key. */
interface KeyedHosts {
  gateway: string;
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
    const gateways = ctx.snapshot.list(KIND.Gateway).map((gw) => ({
      resource: gw,
      name: fullName(gw),
      selector: gatewaySelector(gw),
      servers: serversOf(gw),
    }));
    // `selector~port` -> gateway full name -> that server's hosts (a later server of a gateway replaces an
    // earlier one's hosts, keeping the gateway's place).
    const hostsByKey = new Map<string, Map<string, string[]>>();
    for (const gw of gateways) {
      for (const server of gw.servers) {
        const key = `${gw.selector.text}~${server.port}`;
        let entry = hostsByKey.get(key);
        if (!entry) hostsByKey.set(key, (entry = new Map()));
        entry.set(gw.name, server.hosts);
      }
    }
    // Each key's gateways indexed by host, so a server is compared only with those that may overlap it.
    const byKey = new Map<string, HostIndex<KeyedHosts>>();
    for (const [key, hosts] of hostsByKey) {
      const entries = [...hosts].map(([gateway, gatewayHosts]) => ({ gateway, hosts: gatewayHosts }));
      byKey.set(key, new HostIndex(entries, (e) => e.hosts));
    }
    const inSomeKey = substringOfSomeKey([...byKey.keys()]);

    for (const { resource: gw, name, selector, servers } of gateways) {
      // Istio looks for its selector text inside any key; only a Gateway without servers can miss itself.
      const known = servers.length > 0 || inSomeKey(selector.text);
      if (selector.text !== '' && !known) {
        ctx.report(MESSAGE_TYPES.ReferencedResourceNotFound, gw, ['selector', selector.text], selector.path);
        continue;
      }
      for (const server of servers) {
        const keyed = byKey.get(`${selector.text}~${server.port}`);
        const conflicts: string[] = [];
        for (const other of keyed?.candidates(server.hosts) ?? []) {
          for (const host of server.hosts) {
            if (other.gateway !== name && other.hosts.some((h) => hostMatches(host, h))) {
              conflicts.push(other.gateway);
            }
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

/** Whether a text occurs inside one of the keys, remembered per text. */
function substringOfSomeKey(keys: readonly string[]): (text: string) => boolean {
  const known = new Map<string, boolean>();
  return (text) => {
    let found = known.get(text);
    if (found === undefined) known.set(text, (found = keys.some((k) => k.includes(text))));
    return found;
  };
}

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
