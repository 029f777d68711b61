import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stringify } from 'yaml';
import type {
  AuthorizationPolicySpec,
  DestinationRuleSpec,
  GatewaySpec,
  PeerAuthenticationSpec,
  Resource,
  SpecOf,
  StringMatch,
  TypedObject,
  VirtualServiceSpec,
} from '../src/api/index.js';
import { KIND, parseManifests, typedObject, typedSpec, validateResource } from '../src/api/index.js';

// The lab's objects (examples/lab), written as typed literals.

const catalogService: TypedObject<typeof KIND.Service> = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'catalog', namespace: 'istioinaction', labels: { app: 'catalog' } },
  spec: {
    selector: { app: 'catalog' },
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 3000 }],
  },
};

const catalogDeployment: TypedObject<typeof KIND.Deployment> = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'catalog', namespace: 'istioinaction', labels: { app: 'catalog', version: 'v1' } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'catalog', version: 'v1' } },
    template: {
      metadata: { labels: { app: 'catalog', version: 'v1' } },
      spec: {
        serviceAccountName: 'catalog',
        containers: [
          {
            name: 'catalog',
            image: 'skiff/catalog:latest',
            env: [
              { name: 'KUBERNETES_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            ],
            ports: [{ containerPort: 3000, name: 'http', protocol: 'TCP' }],
            readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5 },
          },
        ],
      },
    },
  },
};

const catalogGateway: TypedObject<typeof KIND.Gateway> = {
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'Gateway',
  metadata: { name: 'catalog-gateway', namespace: 'istioinaction' },
  spec: {
    selector: { istio: 'ingressgateway' },
    servers: [
      { hosts: ['catalog.istioinaction.io'], port: { number: 80, name: 'http', protocol: 'HTTP' } },
      {
        hosts: ['catalog.istioinaction.io'],
        port: { number: 443, name: 'https', protocol: 'HTTPS' },
        tls: { mode: 'SIMPLE', credentialName: 'catalog-cert' },
      },
    ],
  },
};

const catalogHost = 'catalog.istioinaction.svc.cluster.local';

const catalogVirtualService: TypedObject<typeof KIND.VirtualService> = {
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'VirtualService',
  metadata: { name: 'catalog-v1-v2', namespace: 'istioinaction' },
  spec: {
    hosts: ['catalog.istioinaction.io'],
    gateways: ['catalog-gateway'],
    http: [
      {
        name: 'dark-launch',
        match: [{ headers: { 'x-dark-launch': { exact: 'v2' } }, uri: { prefix: '/items' } }],
        route: [{ destination: { host: catalogHost, subset: 'version-v2', port: { number: 80 } } }],
        timeout: '0.5s',
        retries: { attempts: 2, perTryTimeout: '250ms', retryOn: 'connect-failure,503' },
      },
      {
        route: [
          { destination: { host: catalogHost, subset: 'version-v1', port: { number: 80 } }, weight: 20 },
          { destination: { host: catalogHost, subset: 'version-v2', port: { number: 80 } }, weight: 80 },
        ],
      },
    ],
  },
};

const catalogDestinationRule: TypedObject<typeof KIND.DestinationRule> = {
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'DestinationRule',
  metadata: { name: 'catalog', namespace: 'istioinaction' },
  spec: {
    host: catalogHost,
    trafficPolicy: {
      tls: { mode: 'ISTIO_MUTUAL' },
      loadBalancer: { consistentHash: { httpCookie: { name: 'user', ttl: '60s' } } },
      outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' },
    },
    subsets: [
      { name: 'version-v1', labels: { version: 'v1' } },
      {
        name: 'version-v2',
        labels: { version: 'v2' },
        trafficPolicy: { connectionPool: { http: { http1MaxPendingRequests: 10, idleTimeout: '30s' } } },
      },
    ],
  },
};

const catalogAuthorizationPolicy: TypedObject<typeof KIND.AuthorizationPolicy> = {
  apiVersion: 'security.istio.io/v1beta1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'catalog-from-gateway', namespace: 'istioinaction' },
  spec: {
    selector: { matchLabels: { app: 'catalog' } },
    action: 'ALLOW',
    rules: [
      {
        from: [
          {
            source: { principals: ['cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account'] },
          },
        ],
        to: [{ operation: { methods: ['GET'], paths: ['/items*'], ports: ['3000'] } }],
        when: [{ key: 'request.headers[x-dark-launch]', notValues: ['blocked'] }],
      },
    ],
  },
};

const strictPeerAuthentication: TypedObject<typeof KIND.PeerAuthentication> = {
  apiVersion: 'security.istio.io/v1beta1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'istioinaction' },
  spec: { mtls: { mode: 'STRICT' } },
};

/** Serializes an object to YAML and loads it back the way manifests are loaded. */
function roundTrip(object: object): Resource {
  const { resources, errors } = parseManifests(stringify(object), 'typed.yaml');
  assert.deepEqual(errors, []);
  assert.equal(resources.length, 1);
  return resources[0]!;
}

const labObjects = [
  [KIND.Service, catalogService],
  [KIND.Deployment, catalogDeployment],
  [KIND.Gateway, catalogGateway],
  [KIND.VirtualService, catalogVirtualService],
  [KIND.DestinationRule, catalogDestinationRule],
  [KIND.AuthorizationPolicy, catalogAuthorizationPolicy],
  [KIND.PeerAuthentication, strictPeerAuthentication],
] as const;

for (const [key, object] of labObjects) {
  test(`typed ${object.kind} survives YAML, validates cleanly and reads back through typedSpec`, () => {
    const r = roundTrip(object);
    assert.equal(r.kind, object.kind);
    assert.deepEqual(validateResource(r), []);
    assert.deepEqual(typedSpec(r, key), object.spec);
  });
}

test('typedSpec hands out fields under their types', () => {
  const vs = typedSpec(roundTrip(catalogVirtualService), KIND.VirtualService);
  const weights = vs.http?.[1]?.route?.map((d) => `${d.destination.subset}=${d.weight}`);
  assert.deepEqual(weights, ['version-v1=20', 'version-v2=80']);
  const uri: StringMatch | undefined = vs.http?.[0]?.match?.[0]?.uri;
  assert.equal(uri?.prefix, '/items');
  assert.equal(uri?.exact, undefined);

  const dr = typedSpec(roundTrip(catalogDestinationRule), KIND.DestinationRule);
  assert.deepEqual(
    dr.subsets?.map((s) => s.name),
    ['version-v1', 'version-v2'],
  );
  assert.equal(dr.trafficPolicy?.tls?.mode, 'ISTIO_MUTUAL');

  const deployment = typedObject(roundTrip(catalogDeployment), KIND.Deployment);
  assert.equal(deployment.apiVersion, 'apps/v1');
  assert.equal(deployment.spec?.template.spec?.containers[0]?.ports?.[0]?.containerPort, 3000);
});

test('typedObject types the kinds without a spec', () => {
  const r = roundTrip({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'istio', namespace: 'istio-system' },
    data: { mesh: 'accessLogFile: /dev/stdout\n' },
  } satisfies TypedObject<typeof KIND.ConfigMap>);
  assert.equal(typedObject(r, KIND.ConfigMap).data?.['mesh'], 'accessLogFile: /dev/stdout\n');
});

test('typedSpec and typedObject refuse a resource of another kind, naming both', () => {
  const dr = roundTrip(catalogDestinationRule);
  assert.throws(
    () => typedSpec(dr, KIND.VirtualService),
    /^Error: typedSpec: expected a networking\.istio\.io\/VirtualService, got DestinationRule istioinaction\/catalog \(networking\.istio\.io\/v1beta1\)$/,
  );
  // Istio's Gateway and the Gateway API's share a kind name; the group tells them apart.
  const gateway = roundTrip(catalogGateway);
  assert.throws(
    () => typedSpec(gateway, KIND.KubeGateway),
    /expected a gateway\.networking\.k8s\.io\/Gateway/,
  );
  assert.throws(() => typedObject(gateway, KIND.ConfigMap), /^Error: typedObject: expected a \/ConfigMap/);
  assert.equal(typedSpec(gateway, KIND.Gateway).servers.length, 2);
});

test('an absent spec reads as an empty one', () => {
  const r = roundTrip({
    apiVersion: 'security.istio.io/v1beta1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: 'istioinaction' },
  });
  const spec: PeerAuthenticationSpec = typedSpec(r, KIND.PeerAuthentication);
  assert.deepEqual(spec, {});
  assert.equal(spec.mtls?.mode, undefined);
});

// Wrong shapes that must not compile. The types are a cast over validated data: at run time it is the
// validators that catch such input, which the last test checks for some of them.

const numericTimeout: VirtualServiceSpec = {
  hosts: ['catalog'],
  http: [
    {
      route: [{ destination: { host: 'catalog' } }],
      // @ts-expect-error a duration is a string such as "5s"
      timeout: 5,
    },
  ],
};

const unknownClientTLSMode: DestinationRuleSpec = {
  host: 'catalog',
  // @ts-expect-error STRICT is a PeerAuthentication mode, not a client TLS mode
  trafficPolicy: { tls: { mode: 'STRICT' } },
};

const unknownServerTLSMode: GatewaySpec = {
  servers: [
    {
      hosts: ['*'],
      port: { number: 443, name: 'https', protocol: 'HTTPS' },
      // @ts-expect-error ISTIO is not a server TLS mode
      tls: { mode: 'ISTIO' },
    },
  ],
};

const unknownAction: AuthorizationPolicySpec = {
  // @ts-expect-error actions are ALLOW, DENY, AUDIT and CUSTOM
  action: 'REJECT',
  rules: [{}],
};

const numericPorts: AuthorizationPolicySpec = {
  // @ts-expect-error operation ports are strings
  rules: [{ to: [{ operation: { ports: [8080] } }] }],
};

const destinationWithoutHost: VirtualServiceSpec = {
  hosts: ['catalog'],
  // @ts-expect-error a destination needs a host
  http: [{ route: [{ destination: { subset: 'v1' } }] }],
};

const stringWeight: VirtualServiceSpec = {
  hosts: ['catalog'],
  // @ts-expect-error weights are numbers
  http: [{ route: [{ destination: { host: 'catalog' }, weight: '20' }] }],
};

// @ts-expect-error a StringMatch has exactly one of exact, prefix and regex
const twoMatchTypes: StringMatch = { exact: '/a', prefix: '/b' };

// @ts-expect-error a gateway server's port needs a name
const serverPortWithoutName: GatewaySpec['servers'][number]['port'] = { number: 80, protocol: 'HTTP' };

// @ts-expect-error ConfigMap has no spec: read it with typedObject
const configMapSpec = (r: Resource) => typedSpec(r, KIND.ConfigMap);

// @ts-expect-error core kinds have apiVersion v1
const wrongCoreVersion: TypedObject<typeof KIND.Service>['apiVersion'] = 'core/v1';

const specOfIsTheSpecType: SpecOf<typeof KIND.VirtualService> = numericTimeout;

test('wrong shapes that do not compile are caught by validation at run time', () => {
  const errorsOf = (apiVersion: string, kind: string, spec: object): string[] =>
    validateResource(roundTrip({ apiVersion, kind, metadata: { name: 'bad', namespace: 'default' }, spec }))
      .filter((i) => i.level === 'error')
      .map((i) => `${i.path}: ${i.message}`);

  assert.deepEqual(errorsOf('networking.istio.io/v1beta1', 'VirtualService', numericTimeout), [
    'spec.http[0].timeout: json: cannot unmarshal number into Go value of type string',
  ]);
  assert.deepEqual(errorsOf('networking.istio.io/v1beta1', 'VirtualService', destinationWithoutHost), [
    'spec.http[0].route[0].destination.host: empty domain name not allowed',
  ]);
  const gateway = { servers: [{ hosts: ['*'], port: serverPortWithoutName }] };
  assert.deepEqual(errorsOf('networking.istio.io/v1beta1', 'Gateway', gateway), [
    'spec.servers[0].port.name: port name must be set: number:80 protocol:"HTTP"',
  ]);
  // The same objects with the shape fixed are valid, so the errors above come from the wrong fields.
  const fixedRoute = { route: [{ destination: { host: 'catalog', subset: 'v1' } }], timeout: '5s' };
  assert.deepEqual(
    errorsOf('networking.istio.io/v1beta1', 'VirtualService', { hosts: ['catalog'], http: [fixedRoute] }),
    [],
  );
  const fixedGateway = { servers: [{ hosts: ['*'], port: { ...serverPortWithoutName, name: 'http' } }] };
  assert.deepEqual(errorsOf('networking.istio.io/v1beta1', 'Gateway', fixedGateway), []);

  // Kept for the compiler: these exist to hold @ts-expect-error lines.
  assert.ok([unknownClientTLSMode, unknownServerTLSMode, unknownAction, numericPorts, stringWeight]);
  assert.ok([twoMatchTypes, configMapSpec, wrongCoreVersion]);
  assert.equal(specOfIsTheSpecType, numericTimeout);
});
