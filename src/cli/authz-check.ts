/**
 * `skiff x authz check [<type>/]<name>[.<namespace>]` and `-f <config_dump.json>`: the AuthorizationPolicies
 * a proxy enforces, read back from the RBAC filters in its dynamic listeners, as istioctl 1.17 prints them
 * (istioctl/cmd/authz.go, istioctl/pkg/authz/{analyzer,listener}.go):
 *
 * - every HTTP RBAC filter inside an HCM and every network RBAC filter of every filter chain is read;
 * - policy names `ns[<ns>]-policy[<name>]-rule[<i>]` become `<name>.<ns>`; RULES counts the distinct rule
 *   indexes seen for that name; an RBAC filter with no policies counts as `_anonymous_match_nothing_`;
 *   the action is the enforced rules' (ALLOW when a filter has no `rules`, as Go's getters give);
 * - rows grouped DENY, ALLOW, LOG. Within a group istioctl iterates a Go map (random order); skiff prints
 *   first-seen order, as elsewhere for Go map iteration.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import {
  arrField,
  field,
  findSection,
  isObject,
  objField,
  parseCapture,
  SECTION,
  strField,
} from './configdump-common.js';
import type { JsonObject } from './configdump-common.js';
import { adminFetch } from './proxy-config-admin.js';
import { labAdminAddress } from './proxy-config-lab.js';
import { tabulate } from './tabwriter.js';

const ANONYMOUS_NAME = '_anonymous_match_nothing_';
const POLICY_NAME = /ns\[(.+)\]-policy\[(.+)\]-rule\[(.+)\]/;
const HCM_NAMES = new Set(['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager']);
const HTTP_RBAC = 'envoy.filters.http.rbac';
const NETWORK_RBAC = 'envoy.filters.network.rbac';
const ACTION_ORDER = ['DENY', 'ALLOW', 'LOG'] as const;

interface AuthzCheckFlags {
  file?: string;
  namespace?: string;
}

/** The typed config of a filter (`typed_config` / `typedConfig`), or undefined. */
function typedConfigOf(filter: unknown): JsonObject | undefined {
  return objField(filter, 'typed_config');
}

/** The RBAC configs of one filter chain: HTTP ones (inside HCMs) and network ones, in filter order. */
function rbacConfigsOfChain(chain: unknown): JsonObject[] {
  const out: JsonObject[] = [];
  for (const filter of arrField(chain, 'filters')) {
    const name = strField(filter, 'name');
    const config = typedConfigOf(filter);
    if (!config) continue;
    if (HCM_NAMES.has(name)) {
      for (const httpFilter of arrField(config, 'http_filters')) {
        if (strField(httpFilter, 'name') !== HTTP_RBAC) continue;
        const rbac = typedConfigOf(httpFilter);
        if (rbac) out.push(rbac);
      }
    } else if (name === NETWORK_RBAC) {
      out.push(config);
    }
  }
  return out;
}

/** The dynamic listeners' active state (GetDynamicListenerDump). */
function dynamicListeners(dump: JsonObject): JsonObject[] {
  const section = findSection(dump, SECTION.listeners);
  if (!section) {
    throw new CliError(
      `failed to get dynamic listener dump: config dump has no configuration type ${SECTION.listeners}`,
      EXIT.unknown,
    );
  }
  const out: JsonObject[] = [];
  for (const d of arrField(section, 'dynamic_listeners')) {
    const l = objField(objField(d, 'active_state'), 'listener');
    if (l) out.push(l);
  }
  return out;
}

function actionOf(rbac: JsonObject): string {
  const rules = objField(rbac, 'rules');
  const action = rules ? field(rules, 'action') : undefined;
  if (action === 'DENY' || action === 1) return 'DENY';
  if (action === 'LOG' || action === 2) return 'LOG';
  return 'ALLOW';
}

/** extractName: `<name>.<ns>` and the rule index, or empty strings when the name does not parse. */
function extractName(name: string): [string, string] {
  const m = POLICY_NAME.exec(name);
  if (!m) return ['', ''];
  return [`${m[2]}.${m[1]}`, m[3] ?? ''];
}

/** The istioctl table for the listeners of a config dump. */
export function authzCheckTable(dump: JsonObject): string {
  const byAction = new Map<string, string[]>();
  const rulesByName = new Map<string, Set<string>>();
  const add = (action: string, name: string, rule: string): void => {
    const names = byAction.get(action) ?? [];
    if (!names.includes(name)) names.push(name);
    byAction.set(action, names);
    const rules = rulesByName.get(name) ?? new Set<string>();
    rules.add(rule);
    rulesByName.set(name, rules);
  };
  for (const listener of dynamicListeners(dump)) {
    for (const chain of arrField(listener, 'filter_chains')) {
      for (const rbac of rbacConfigsOfChain(chain)) {
        const action = actionOf(rbac);
        const policies = objField(objField(rbac, 'rules'), 'policies');
        const names = policies ? Object.keys(policies) : [];
        for (const name of names) add(action, ...extractName(name));
        if (names.length === 0) add(action, ANONYMOUS_NAME, '0');
      }
    }
  }
  let text = 'ACTION\tAuthorizationPolicy\tRULES\n';
  for (const action of ACTION_ORDER) {
    for (const name of byAction.get(action) ?? []) {
      text += `${action}\t${name}\t${rulesByName.get(name)?.size ?? 0}\n`;
    }
  }
  return tabulate(text, { minwidth: 0, tabwidth: 8, padding: 3, padchar: ' ' });
}

async function readDumpFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
    throw new CliError(`failed to get config dump from file ${file}: open ${file}: ${reason}`, EXIT.unknown);
  }
}

function parseDump(text: string, what: string): JsonObject {
  try {
    return parseCapture(text);
  } catch (err) {
    throw new CliError(`${what}: ${(err as Error).message}`, EXIT.unknown);
  }
}

async function authzCheck(args: string[], flags: AuthzCheckFlags, io: CommandIO): Promise<number> {
  if (args.length > 1) {
    throw new CliError('check requires only <pod-name>[.<pod-namespace>]', EXIT.unknown);
  }
  let dump: JsonObject;
  if (flags.file) {
    dump = parseDump(await readDumpFile(flags.file), `failed to get config dump from file ${flags.file}`);
  } else if (args.length === 1) {
    const target = args[0] ?? '';
    const namespace = flags.namespace ?? 'default';
    const address = await labAdminAddress(target, namespace, io);
    if (!address) {
      throw new CliError(
        `no running lab to read pod ${target} from: start one with \`skiff up\`, or pass -f <config_dump.json>`,
        EXIT.unknown,
      );
    }
    const body = await adminFetch(address, 'GET', 'config_dump');
    dump = parseDump(body, `failed to get proxy config for ${target}`);
  } else {
    throw new CliError(`expecting pod name or config dump, found: ${args.length}`, EXIT.unknown);
  }
  if (!isObject(dump)) throw new CliError('failed to unmarshal proxy config', EXIT.unknown);
  io.stdout(authzCheckTable(dump));
  return EXIT.ok;
}

/** `authz check` under the `experimental` group. */
export function registerAuthz(experimental: Command, io: CommandIO, setExit: (code: number) => void): void {
  const authz = experimental
    .command('authz')
    .description(
      'Inspect Istio AuthorizationPolicy\n\nTHIS COMMAND IS UNDER ACTIVE DEVELOPMENT AND NOT READY FOR PRODUCTION USE.',
    );
  authz
    .command('check')
    .description('Check AuthorizationPolicy applied in the pod.')
    .argument('[pod...]', '[<type>/]<name>[.<namespace>]')
    .option('-f, --file <file>', 'The json file with Envoy config dump to be checked')
    .option('-n, --namespace <namespace>', 'the namespace of the pod (default: default)')
    .action(async (args: string[], flags: AuthzCheckFlags) => setExit(await authzCheck(args, flags, io)));
}
