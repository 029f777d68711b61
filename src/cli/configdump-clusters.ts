/** `proxy-config cluster`: the clusters of a config_dump as istioctl 1.17 lists them. */
import {
  arrField,
  describeManagement,
  dumpError,
  enumField,
  field,
  goSortSlice,
  isObject,
  parseSubsetKey,
  renderProtoList,
  requireSection,
  SECTION,
  strField,
  subsetKeyLess,
} from './configdump-common.js';
import type { DumpFormat, JsonObject } from './configdump-common.js';
import { ISTIOCTL_TABLE, tabulate } from './tabwriter.js';

export interface ClusterFilter {
  fqdn: string;
  port: number;
  subset: string;
  direction: string;
}

/** istioctl's filter: plain substring checks on the cluster name, and `|<port>|` for the port. */
export function clusterMatches(filter: ClusterFilter, cluster: JsonObject): boolean {
  const name = strField(cluster, 'name');
  if (filter.fqdn && !name.includes(filter.fqdn)) return false;
  if (filter.direction && !name.includes(filter.direction)) return false;
  if (filter.subset && !name.includes(filter.subset)) return false;
  if (filter.port !== 0 && !name.includes(`|${filter.port}|`)) return false;
  return true;
}

/** Dynamic active clusters then static ones, sorted by fqdn, subset, port, direction. */
export function sortedClusters(dump: JsonObject): JsonObject[] {
  const section = requireSection(dump, SECTION.clusters);
  const clusters: JsonObject[] = [];
  for (const key of ['dynamic_active_clusters', 'static_clusters']) {
    for (const entry of arrField(section, key)) {
      const c = field(entry, 'cluster');
      if (isObject(c)) clusters.push(c);
    }
  }
  if (clusters.length === 0) throw dumpError('no clusters found');
  return goSortSlice(clusters, (a, b) => subsetKeyLess(strField(a, 'name'), strField(b, 'name')));
}

export function clusterSummary(dump: JsonObject, filter: ClusterFilter): string {
  const clusters = sortedClusters(dump);
  let text = 'SERVICE FQDN\tPORT\tSUBSET\tDIRECTION\tTYPE\tDESTINATION RULE\n';
  for (const c of clusters) {
    if (!clusterMatches(filter, c)) continue;
    const name = strField(c, 'name');
    const type = enumField(c, 'type', 'STATIC');
    const dr = describeManagement(field(c, 'metadata'));
    if (name.split('|').length > 3) {
      const key = parseSubsetKey(name);
      text += `${key.fqdn}\t${key.port}\t${key.subset || '-'}\t${key.direction}\t${type}\t${dr}\n`;
    } else {
      text += `${name}\t-\t-\t-\t${type}\t${dr}\n`;
    }
  }
  return tabulate(text, ISTIOCTL_TABLE);
}

/** envoy.config.cluster.v3.Cluster fields in declaration order (JSON names), as protojson prints them. */
const CLUSTER_FIELD_ORDER = [
  'transportSocketMatches',
  'name',
  'altStatName',
  'type',
  'clusterType',
  'edsClusterConfig',
  'connectTimeout',
  'perConnectionBufferLimitBytes',
  'lbPolicy',
  'loadAssignment',
  'healthChecks',
  'maxRequestsPerConnection',
  'circuitBreakers',
  'upstreamHttpProtocolOptions',
  'commonHttpProtocolOptions',
  'httpProtocolOptions',
  'http2ProtocolOptions',
  'typedExtensionProtocolOptions',
  'dnsRefreshRate',
  'dnsFailureRefreshRate',
  'respectDnsTtl',
  'dnsLookupFamily',
  'dnsResolvers',
  'useTcpForDnsLookups',
  'dnsResolverOptions',
  'typedDnsResolverConfig',
  'waitForWarmOnInit',
  'outlierDetection',
  'cleanupInterval',
  'upstreamBindConfig',
  'lbSubsetConfig',
  'ringHashLbConfig',
  'maglevLbConfig',
  'originalDstLbConfig',
  'leastRequestLbConfig',
  'roundRobinLbConfig',
  'commonLbConfig',
  'transportSocket',
  'metadata',
  'protocolSelection',
  'upstreamConnectionOptions',
  'closeConnectionsOnHostHealthFailure',
  'ignoreHealthOnHostRemoval',
  'filters',
  'loadBalancingPolicy',
  'lrsServer',
  'trackTimeoutBudgets',
  'upstreamConfig',
  'trackClusterStats',
  'preconnectPolicy',
  'connectionPoolPerDownstreamConnection',
];

export function clusterDump(dump: JsonObject, filter: ClusterFilter, format: DumpFormat): string {
  return renderProtoList(
    sortedClusters(dump).filter((c) => clusterMatches(filter, c)),
    format,
    CLUSTER_FIELD_ORDER,
  );
}
