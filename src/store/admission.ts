// Admission: what the API server and Istio's validating webhook would refuse, checked before anything is
// written. Istio kinds go through the webhook rules (src/api validateResource, which decodes the spec as
// Istio's proto decoder would first); other kinds get the API server's own checks and its 422 Invalid.
import type { Resource, ValidationIssue } from '../api/index.js';
import { goMultiErrorText, validateResource } from '../api/index.js';
import type { GroupResource } from './status.js';
import { admissionDenied, invalid } from './status.js';

/** The name of Istio's default validating webhook (base chart `istiod-default-validator`). */
export const ISTIO_WEBHOOK = 'validation.istio.io';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MESSAGE =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

export function groupResourceOf(r: Pick<Resource, 'info'>): GroupResource {
  return { group: r.info.group, plural: r.info.plural, kind: r.info.kind };
}

/** The API server's object-name rules (ValidateObjectMeta with the kind's name function). */
export function nameProblems(kindKey: string, name: string): string[] {
  const problems: string[] = [];
  const quoted = JSON.stringify(name);
  if (kindKey === '/Namespace' || kindKey === '/Service') {
    const [re, message] =
      kindKey === '/Service' ? [DNS1035_LABEL, DNS1035_MESSAGE] : [DNS1123_LABEL, LABEL_MESSAGE];
    if (name.length > 63) problems.push(`Invalid value: ${quoted}: must be no more than 63 characters`);
    if (!re.test(name)) problems.push(`Invalid value: ${quoted}: ${message}`);
    return problems;
  }
  if (name.length > 253) problems.push(`Invalid value: ${quoted}: must be no more than 253 characters`);
  if (!DNS1123_SUBDOMAIN.test(name)) problems.push(`Invalid value: ${quoted}: ${SUBDOMAIN_MESSAGE}`);
  return problems;
}

/** How Istio's webhook words a failed ValidateConfig: one error bare, several as a go-multierror list. */
function configurationInvalid(errors: readonly ValidationIssue[]): string {
  const texts = errors.map((e) => e.message);
  return `configuration is invalid: ${texts.length === 1 ? texts[0] : goMultiErrorText(texts)}`;
}

const isTopLevelField = (i: ValidationIssue) =>
  !i.path.startsWith('spec') && i.message.startsWith('unknown field');
// The decode pass's messages (src/api validate-decode): jsonpb errors, bad Durations, encoding/json type errors.
const isDecodeProblem = (i: ValidationIssue) =>
  ['cannot decode ', 'bad Duration: ', 'json: '].some((p) => i.message.startsWith(p));

/**
 * Checks an object as the API server plus Istio's webhook would on CREATE or UPDATE. Throws a StoreError
 * (422 Invalid from the API server, 400 denial from the webhook) and returns the webhook's warnings otherwise.
 */
export function admit(r: Resource): string[] {
  const gr = groupResourceOf(r);
  const kindKey = `${r.info.group}/${r.info.kind}`;
  const name = r.metadata.name;
  const names = nameProblems(kindKey, name);
  if (names.length > 0)
    throw invalid(
      gr,
      name,
      names.map((message) => ({ field: 'metadata.name', message })),
    );
  if (r.metadata.namespace !== undefined) {
    const ns = nameProblems('/Namespace', r.metadata.namespace);
    if (ns.length > 0)
      throw invalid(
        gr,
        name,
        ns.map((message) => ({ field: 'metadata.namespace', message })),
      );
  }
  const issues = validateResource(r);
  const errors = issues.filter((i) => i.level === 'error');
  if (!r.info.istio) {
    if (errors.length > 0)
      throw invalid(
        gr,
        name,
        errors.map((e) => ({ field: e.path, message: e.message })),
      );
    return [];
  }
  // The webhook's order: decode the object, decode the spec, run ValidateConfig, then checkFields.
  const decode = errors.find(isDecodeProblem);
  if (decode) {
    const text = decode.message.startsWith('cannot decode configuration')
      ? decode.message
      : `error decoding configuration: ${decode.message}`;
    throw admissionDenied(ISTIO_WEBHOOK, text);
  }
  const ruleErrors = errors.filter((e) => !isTopLevelField(e));
  if (ruleErrors.length > 0) throw admissionDenied(ISTIO_WEBHOOK, configurationInvalid(ruleErrors));
  const topLevel = errors.find(isTopLevelField);
  if (topLevel) throw admissionDenied(ISTIO_WEBHOOK, topLevel.message);
  return issues.filter((i) => i.level === 'warning').map((i) => i.message);
}
