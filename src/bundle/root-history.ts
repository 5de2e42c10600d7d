import type { Logger } from 'pino';
import type { Config, NotaryServerConfig } from '../config/load.js';
import { DEFAULTS } from '../config/defaults.js';
import { NotaryRemote } from '../trust/notary/remote.js';
import { signedVersion } from './tuf-version.js';

/**
 * The earlier versions of a repository's root (`<N>.root.json`, as Notary serves them by
 * version) that a site holding an older root needs to walk the rotations up to the current
 * one: the Notary client validates each root with the one before it (tufclient.go updateRoot),
 * so a gap of two or more rotations cannot be crossed with the newest root alone. At most
 * DEFAULTS.notary.maxRootRotations versions, the most the updater walks in one update. None of
 * them is trusted here: the importing site's updater validates every step.
 *
 * `recorded` is what the export's verification kept: GUN → its trust-state scope (the server's
 * origin) and the verified root.json.
 */
export async function rootHistory(
  config: Config,
  recorded: ReadonlyMap<string, { scope: string; root: Buffer | undefined }>,
  logger: Logger,
): Promise<Map<string, Map<string, Buffer>>> {
  const servers = notaryServers(config);
  const out = new Map<string, Map<string, Buffer>>();
  const remotes = new Map<string, NotaryRemote>();
  for (const [gun, { scope, root }] of recorded) {
    const version = root ? signedVersion(root) : undefined;
    const server = servers.find((s) => s.url.origin === scope);
    if (version === undefined || version < 2 || !server) continue;
    let remote = remotes.get(scope);
    if (!remote) remotes.set(scope, (remote = new NotaryRemote(server, { logger })));
    const files = new Map<string, Buffer>();
    for (let v = Math.max(1, version - DEFAULTS.notary.maxRootRotations); v < version; v++) {
      const outcome = await remote.fetch(gun, `${v}.root.json`, DEFAULTS.notary.rootMaxBytes);
      if (outcome.kind === 'ok') files.set(`${v}.root.json`, outcome.bytes);
      else if (outcome.kind === 'unavailable')
        logger.warn(
          { gun, version: v, reason: outcome.message },
          'an earlier root version could not be fetched: sites more than one rotation behind cannot use this bundle',
        );
    }
    if (files.size > 0) out.set(gun, files);
  }
  return out;
}

/** Every trust server of the config: the upstreams' and the rules' own. */
function notaryServers(config: Config): NotaryServerConfig[] {
  const servers: NotaryServerConfig[] = [];
  for (const u of config.upstreams.values()) if (u.trust.notary) servers.push(u.trust.notary);
  for (const rule of config.policy.rules)
    for (const entry of rule.require.entries) if (entry.format === 'notary' && entry.requirement.server) servers.push(entry.requirement.server);
  return servers;
}
