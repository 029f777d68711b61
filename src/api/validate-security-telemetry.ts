// Telemetry (telemetry.istio.io) and WasmPlugin (extensions.istio.io) validation, as Istio 1.17's
// ValidateTelemetry and ValidateWasmPlugin do it.
import type { parse as CelParse } from '@bufbuild/cel';
import { createRequire } from 'node:module';
import { byteLength, checkWorkloadSelector, mapKeyPath } from './fields.js';
import { goParseUrl } from './goparse.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  asObj,
  entries,
  enumName,
  field,
  has,
  list,
  msg,
  num,
  str,
  wrapperNumber,
} from './validate-networking-common.js';

/** validateTelemetryProviders: the first provider without a name is reported. */
function checkProviders(v: Sink, path: string, owner: Obj): void {
  for (const [i, raw] of list(owner, 'providers').entries()) {
    if (str(asObj(raw) ?? {}, 'name') === '') {
      v.error(`${path}.providers[${i}]`, 'providers.name may not be empty');
      return;
    }
  }
}

function checkMetrics(v: Sink, metrics: unknown[]): void {
  for (const [i, raw] of metrics.entries()) {
    const metric = asObj(raw) ?? {};
    const path = `spec.metrics[${i}]`;
    checkProviders(v, path, metric);
    for (const [k, rawOverride] of list(metric, 'overrides').entries()) {
      const override = asObj(rawOverride) ?? {};
      const overridePath = `${path}.overrides[${k}]`;
      for (const [tag, rawTag] of entries(override, 'tagOverrides')) {
        const tagPath = mapKeyPath(`${overridePath}.tagOverrides`, tag);
        if (tag === '') v.warn(tagPath, 'tagOverrides.name may not be empty');
        const tagOverride = asObj(rawTag) ?? {};
        const operation = enumName(
          tagOverride,
          'operation',
          'istio.telemetry.v1alpha1.MetricsOverrides.TagOverride.Operation',
        );
        const value = str(tagOverride, 'value');
        if (operation === 'UPSERT' && value === '') {
          v.error(tagPath, 'tagOverrides.value must be set set when operation is UPSERT');
        } else if (operation === 'REMOVE' && value !== '') {
          v.error(tagPath, 'tagOverrides.value may only be set when operation is UPSERT');
        }
      }
      const match = msg(override, 'match');
      if (match && has(match, 'customMetric') && str(match, 'customMetric') === '') {
        v.error(`${overridePath}.match.customMetric`, 'customMetric may not be empty');
      }
    }
  }
}

function checkCustomTag(v: Sink, tagsPath: string, name: string, tag: Obj): void {
  const path = mapKeyPath(tagsPath, name);
  // A key that cannot be a path segment keeps the map's path, and so do the tag's own fields.
  const sub = (child: string) => (path === tagsPath ? path : `${path}.${child}`);
  if (name === '') v.error(path, 'tag name may not be empty');
  // customTags is a oneof: the first kind present decides.
  const literal = msg(tag, 'literal');
  if (literal) {
    if (str(literal, 'value') === '') v.error(sub('literal'), 'literal tag value may not be empty');
    return;
  }
  const environment = msg(tag, 'environment');
  if (environment) {
    if (str(environment, 'name') === '') v.error(sub('environment'), 'environment tag name may not be empty');
    return;
  }
  const header = msg(tag, 'header');
  if (header && str(header, 'name') === '') v.error(sub('header'), 'header tag name may not be empty');
}

function checkTracing(v: Sink, tracing: unknown[]): void {
  if (tracing.length > 1) v.warn('spec.tracing', 'multiple tracing is not currently supported');
  for (const [i, raw] of tracing.entries()) {
    const entry = asObj(raw) ?? {};
    const path = `spec.tracing[${i}]`;
    if (list(entry, 'providers').length > 1) {
      v.warn(`${path}.providers`, 'multiple providers is not currently supported');
    }
    checkProviders(v, path, entry);
    const percentage = wrapperNumber(entry, 'randomSamplingPercentage') ?? 0;
    if (percentage < 0 || percentage > 100) {
      v.error(`${path}.randomSamplingPercentage`, 'randomSamplingPercentage must be in range [0.0, 100.0]');
    }
    for (const [name, rawTag] of entries(entry, 'customTags')) {
      checkCustomTag(v, `${path}.customTags`, name, asObj(rawTag) ?? {});
    }
  }
}

// @bufbuild/cel is loaded on first use: loading it (with its protobuf runtime) takes a few hundred
// milliseconds, which every `skiff analyze` run would pay, although few configs hold an access-log filter.
let celParse: typeof CelParse | undefined;

function loadCelParse(): typeof CelParse {
  celParse ??= (createRequire(import.meta.url)('@bufbuild/cel') as { parse: typeof CelParse }).parse;
  return celParse;
}

/** cel-go's limit on an expression's size, which Istio 1.17's parse enforces before parsing. */
const CEL_MAX_CODE_POINTS = 100_000;

/**
 * Why an access-log filter expression is not valid CEL, or undefined when it parses. Istio 1.17 only parses
 * it (cel-go `Env.Parse`, no type checking); the parse here is @bufbuild/cel's, so its error texts are that
 * library's, not cel-go's. The size limit is checked first, with cel-go's text: it also keeps a pathological
 * expression from stalling the parser, whose time grows faster than the input.
 */
function celParseError(expression: string): string | undefined {
  const size = expression.length > CEL_MAX_CODE_POINTS ? [...expression].length : 0;
  if (size > CEL_MAX_CODE_POINTS) {
    return `ERROR: <input>:-1:0: expression code point size exceeds limit: size: ${size}, limit ${CEL_MAX_CODE_POINTS}`;
  }
  // Loaded outside the try: a missing library is a broken install, not a bad expression.
  const parse = loadCelParse();
  try {
    parse(expression);
    return undefined;
  } catch (err) {
    // Besides its syntax errors the parser can throw others (a RangeError for a bad `\x` escape or for
    // nesting deeper than the stack allows); any of them means the expression is not accepted.
    return err instanceof Error ? err.message : String(err);
  }
}

function checkAccessLogging(v: Sink, logging: unknown[]): void {
  for (const [i, raw] of logging.entries()) {
    const entry = asObj(raw) ?? {};
    const path = `spec.accessLogging[${i}]`;
    const filter = msg(entry, 'filter');
    if (filter) {
      const err = celParseError(str(filter, 'expression'));
      if (err) {
        const at = field(filter, 'expression') === undefined ? `${path}.filter` : `${path}.filter.expression`;
        v.error(at, `must be a valid CEL expression, ${err}`);
      }
    }
    checkProviders(v, path, entry);
  }
}

/** Istio 1.17 ValidateTelemetry. */
export function validateTelemetry(spec: Obj, v: Sink): void {
  checkWorkloadSelector(v, 'spec.selector', field(spec, 'selector'));
  checkMetrics(v, list(spec, 'metrics'));
  checkTracing(v, list(spec, 'tracing'));
  checkAccessLogging(v, list(spec, 'accessLogging'));
}

const WASM_URL_SCHEMES = new Set(['', 'file', 'http', 'https', 'oci']);

function wasmUrlError(url: string): string | undefined {
  if (url === '') return 'url field needs to be set';
  const parsed = goParseUrl(url);
  if (parsed.error !== undefined) return `failed to parse url: ${parsed.error}`;
  if (!WASM_URL_SCHEMES.has(parsed.scheme)) return `url contains unsupported scheme: ${parsed.scheme}`;
  return undefined;
}

function wasmShaError(sha: string): string | undefined {
  if (sha === '') return undefined;
  if (byteLength(sha) !== 64) return 'sha256 field must be 64 characters long';
  if (!/^[a-f0-9]*$/.test(sha)) return 'sha256 field must match [a-f0-9]{64} pattern';
  return undefined;
}

/** Istio 1.17 ValidateWasmPlugin; each part reports only its first problem. */
export function validateWasmPlugin(spec: Obj, v: Sink): void {
  checkWorkloadSelector(v, 'spec.selector', field(spec, 'selector'));
  const urlErr = wasmUrlError(str(spec, 'url'));
  if (urlErr) v.error('spec.url', urlErr);
  const shaErr = wasmShaError(str(spec, 'sha256'));
  if (shaErr) v.error('spec.sha256', shaErr);

  const seen = new Set<string>();
  for (const [i, raw] of list(msg(spec, 'vmConfig'), 'env').entries()) {
    const name = str(asObj(raw) ?? {}, 'name');
    const at = `spec.vmConfig.env[${i}]`;
    if (name === '') {
      v.error(at, 'spec.vmConfig.env invalid');
      break;
    }
    if (seen.has(name)) {
      v.error(at, 'duplicate env');
      break;
    }
    seen.add(name);
  }

  matches: for (const [i, rawSelector] of list(spec, 'match').entries()) {
    for (const [j, rawPort] of list(asObj(rawSelector) ?? {}, 'ports').entries()) {
      const port = num(asObj(rawPort) ?? {}, 'number');
      if (port <= 0 || port > 65535) {
        v.error(`spec.match[${i}].ports[${j}]`, `spec.Match[${i}].Ports[${j}] is out of range: ${port}`);
        break matches;
      }
    }
  }
}
