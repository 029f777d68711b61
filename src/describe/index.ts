export { describePod, describeService, inferNameAndNamespace, podRevision } from './describe.js';
export type { DescribeOptions, DescribeResult } from './describe.js';
export { composePeerAuthentication, matchedPeerAuthentications } from './peer-authentication.js';
export type { EffectivePeerAuthentication } from './peer-authentication.js';
export { destinationRuleSubsets, renderMatch } from './routing.js';
export { proxyDumpFor, destinationRuleForService, virtualServiceForService } from './proxy-dump.js';
export type { ProxyDump, ConfigRef } from './proxy-dump.js';
