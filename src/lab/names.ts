/**
 * Kubernetes-style generated names: a ReplicaSet is `<deployment>-<pod-template-hash>` and a pod
 * `<replicaset>-<5 random characters>`, both in the API server's "safe" alphabet (no vowels, no 0/1/3),
 * so `catalog-6cf4b97d-7d6gb` reads as it does in a real cluster.
 */
import { randomInt } from 'node:crypto';

/** k8s.io/apimachinery/pkg/util/rand's alphabet. */
const SAFE_ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** rand.SafeEncodeString: every byte mapped into the safe alphabet. */
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHANUMS[s.charCodeAt(i) % SAFE_ALPHANUMS.length];
  return out;
}

/** Five random characters, as generateName appends. */
export function randomSuffix(length = 5): string {
  let out = '';
  for (let i = 0; i < length; i++) out += SAFE_ALPHANUMS[randomInt(SAFE_ALPHANUMS.length)];
  return out;
}

function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(text, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** JSON with object keys sorted, so equal templates hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The `pod-template-hash` label of a Deployment's pod template (controller.ComputeHash's shape). */
export function podTemplateHash(template: unknown, collisionCount = 0): string {
  const text = canonicalJson(template) + (collisionCount > 0 ? String(collisionCount) : '');
  return safeEncode(String(fnv32a(text)));
}
