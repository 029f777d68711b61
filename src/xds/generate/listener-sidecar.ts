/**
 * Every LDS listener of a sidecar, in the order Istio 1.17's ListenerBuilder returns them
 * (listener_builder.go getListeners): the per-port outbound listeners, `virtualOutbound`, then
 * `virtualInbound`. A mesh `proxyListenPort` of 0 turns sidecar listeners off. The HTTP proxy listener
 * (`proxyHttpPort`) is not built.
 */
import type { Json } from './clusters.js';
import { buildVirtualInboundListener } from './listener-sidecar-inbound.js';
import {
  buildSidecarOutboundListeners,
  buildVirtualOutboundListener,
  proxyListenPort,
} from './listener-sidecar-outbound.js';
import type { Proxy } from './proxy.js';
import type { PushContext } from './push-context.js';

export function buildSidecarListeners(push: PushContext, proxy: Proxy): Json[] {
  if (proxyListenPort(push) <= 0) return [];
  const listeners = buildSidecarOutboundListeners(push, proxy);
  const virtualOutbound = buildVirtualOutboundListener(push, proxy);
  if (virtualOutbound) listeners.push(virtualOutbound);
  const virtualInbound = buildVirtualInboundListener(push, proxy);
  if (virtualInbound) listeners.push(virtualInbound);
  return listeners;
}
