/**
 * The ADS debug type `istio.io/debug/syncz` (pilot/pkg/xds/statusgen.go at 1.17): one CSDS
 * `envoy.service.status.v3.ClientConfig` per connected proxy (those sending PROXY_CONFIG metadata), with
 * node `{id: <pod>.<ns>, metadata: {CLUSTER_ID}}` and a status for LDS, RDS, EDS, CDS and ECDS, as
 * `istioctl proxy-status` reads it and a proxy agent relays it on port 15004. Encoded by hand: the
 * CSDS protos are not part of the shared Root.
 */
import protobuf from 'protobufjs';
import { encodeAnyMessage } from './codec.js';
import type { EncodedResource } from './codec.js';
import type { Connection, ConfigStatus } from './connection.js';
import { watchStatus } from './connection.js';
import { XDS_TYPE } from './types.js';

export const DEBUG_SYNCZ_TYPE = 'istio.io/debug/syncz';
export const CLIENT_CONFIG_TYPE = 'type.googleapis.com/envoy.service.status.v3.ClientConfig';

const STATUS_ORDER = [
  XDS_TYPE.listener,
  XDS_TYPE.route,
  XDS_TYPE.endpoint,
  XDS_TYPE.cluster,
  XDS_TYPE.extensionConfig,
];

const CONFIG_STATUS_ENUM: Record<ConfigStatus, number> = { SYNCED: 1, NOT_SENT: 2, STALE: 3, ERROR: 4 };

/** Debug clients (istioctl) connect as `debug~...`; they get answers, never config. */
export function isDebugType(typeUrl: string): boolean {
  return typeUrl.startsWith('istio.io/debug');
}

function clientConfigBytes(con: Connection): Uint8Array {
  const w = protobuf.Writer.create();
  // node = 1 { id = 1, metadata = 3 Struct { fields = 1 map entry { key = 1, value = 2 Value { string_value = 3 } } } }
  w.uint32(10).fork();
  w.uint32(10).string(con.proxy.name);
  w.uint32(26).fork();
  w.uint32(10)
    .fork()
    .uint32(10)
    .string('CLUSTER_ID')
    .uint32(18)
    .fork()
    .uint32(26)
    .string(con.proxy.clusterId)
    .ldelim()
    .ldelim();
  w.ldelim();
  w.ldelim();
  for (const typeUrl of STATUS_ORDER) {
    const watch = con.watches.get(typeUrl);
    const status = watch ? watchStatus(watch) : 'NOT_SENT';
    // generic_xds_configs = 3 { type_url = 1, config_status = 6 }
    w.uint32(26).fork().uint32(10).string(typeUrl).uint32(48).uint32(CONFIG_STATUS_ENUM[status]).ldelim();
  }
  return w.finish();
}

/** The syncz resources for every proxy connection. */
export function debugSynczResources(connections: readonly Connection[]): EncodedResource[] {
  return connections
    .filter((c) => !c.debug && c.proxy.metadata['PROXY_CONFIG'] !== undefined)
    .map((c) => {
      const value = clientConfigBytes(c);
      return {
        name: c.proxy.name,
        typeUrl: CLIENT_CONFIG_TYPE,
        hash: '',
        anyBytes: encodeAnyMessage(CLIENT_CONFIG_TYPE, value),
        size: value.length,
      };
    });
}
