import type { Message } from './analyzer.js';

type HintFn = (args: readonly unknown[], m: Message) => string;

const str = (v: unknown) => String(v);

/** One actionable sentence per message code: what to change so the message goes away. */
const HINTS: Record<string, HintFn> = {
  IST0001: () => 'this is a bug in skiff: please report it with the input that triggered it',
  IST0002: (a) => `replace the deprecated setting (${str(a[0])}) with its successor`,
  IST0101: (a) => {
    const what = str(a[0]);
    const ref = str(a[1]);
    if (what.includes('+subset')) {
      const [host, subset] = ref.split('+');
      return `add subset "${subset}" to a DestinationRule whose host is ${host} (or route without the subset)`;
    }
    if (what === 'host')
      return `create a Service or ServiceEntry for ${ref}, or correct the destination host`;
    if (what === 'gateway') return `create Gateway ${ref} or correct spec.gateways`;
    if (what === 'selector') return `deploy a workload labelled ${ref} or correct the selector`;
    return `create the missing ${what} ${ref} or correct the reference`;
  },
  IST0102: (a) => `kubectl label namespace ${str(a[0])} istio-injection=enabled`,
  IST0103: () => 'restart the workload so the injector adds the istio-proxy container',
  IST0106: (_, m) =>
    `fix ${m.fieldPath ?? 'the field named in the message'}; Istio's webhook rejects the object as it is`,
  IST0130: (_, m) =>
    `reorder or remove the rule (${m.fieldPath ?? 'see message'}); an earlier rule matches everything it would`,
  IST0107: (a) => `move annotation ${str(a[0])} to a ${str(a[1])}`,
  IST0108: (a) => `remove annotation ${str(a[0])} or correct its spelling`,
  IST0109: () => 'merge the VirtualServices for this host into one resource',
  IST0110: () => 'give the Sidecars workload selectors that do not overlap',
  IST0111: () => 'keep a single Sidecar without workloadSelector per namespace',
  IST0112: () => 'set destination.port.number to one of the listed ports',
  IST0118: (a) =>
    `rename port ${str(a[0])} to <protocol>[-<suffix>] (e.g. http-${str(a[0])}) or set appProtocol`,
  IST0125: (a) => `correct the value of annotation ${str(a[0])}`,
  IST0127: () => 'correct the selector labels or deploy a matching workload',
  IST0128: () => 'set tls.caCertificates so the server certificate is verified',
  IST0129: () => 'set tls.caCertificates in the port-level setting',
  IST0131: () => 'remove the duplicate match',
  IST0132: () => 'add the host to the Gateway servers or remove it from the VirtualService',
  IST0133: (_, m) => `review ${m.fieldPath ?? 'the field named in the warning'}`,
  IST0134: () => 'add spec.addresses to the ServiceEntry',
  IST0135: (a) => `remove the deprecated annotation ${str(a[0])}`,
  IST0138: () => 'use distinct certificates per Gateway host or merge the Gateways',
  IST0143: () => 'bind the application to 0.0.0.0 instead of localhost',
  IST0144: () => 'run the application container with a UID other than 1337',
  IST0145: () => 'give the Gateways distinct hosts, ports or selectors',
  IST0146: () => 'label the namespace or pod for injection, or set a real image',
  IST0147: () => 'label the namespace or pod for injection, or set a real image',
  IST0149: () => 'apply a RequestAuthentication to the gateway workload',
  IST0150: () => 'name the port tcp-<name>, http-<name> or similar',
  IST0151: () => 'set spec.priority or use INSERT_FIRST/ADD',
  IST0152: () => 'use REPLACE only with HTTP_FILTER or NETWORK_FILTER',
  IST0153: () => 'use MERGE instead of ADD for ROUTE_CONFIGURATION / HTTP_ROUTE',
  IST0154: () => 'remove the patch; REMOVE has no effect for ROUTE_CONFIGURATION / HTTP_ROUTE',
  IST0155: () => 'set spec.priority or avoid relative operations with proxyVersion',
  IST0157: () => 'list at least one provider, or delete the Telemetry',
  IST0173: (a) => `change subset ${str(a[0])} labels to ones the pods carry`,
};

export function fixHint(m: Message): string {
  const hint = HINTS[m.type.code];
  return hint
    ? hint(m.args, m)
    : `see https://istio.io/v1.17/docs/reference/config/analysis/${m.type.code.toLowerCase()}/`;
}
