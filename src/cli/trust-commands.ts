import { join } from 'node:path';
import { pino } from 'pino';
import type { Config } from '../config/load.js';
import { SignetError, errorMessage } from '../errors.js';
import type { AuditLog } from '../policy/audit-log.js';
import { PolicyEnforcer, reasonOf } from '../policy/enforcer.js';
import { NotaryTrustSource } from '../trust/notary/notary-source.js';
import { DiskTrustStateStore } from '../trust/notary/state-store.js';
import type { VerifiedTrust } from '../trust/trust-source.js';
import { parseImageRef, type ImageRef } from './image-ref.js';

/** Exit codes of `signet check`, for CI pipelines. */
export const EXIT = { allowed: 0, denied: 1, error: 2 } as const;

const NO_AUDIT: AuditLog = { record: () => undefined, flush: async () => undefined };

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Parses IMAGE, reporting a bad reference on stderr (undefined then). */
function imageRef(config: Config, image: string, io: Output): ImageRef | undefined {
  try {
    return parseImageRef(image, config.upstreams.get('docker.io')?.officialNamespace ?? 'library');
  } catch (err) {
    io.err(`signet: ${errorMessage(err)}\n`);
    return undefined;
  }
}

function tools(config: Config): { enforcer: PolicyEnforcer; source: NotaryTrustSource } {
  const logger = pino({ level: 'silent' });
  // The same persisted trust state as the server: pinned roots and rollback versions are shared.
  const source = new NotaryTrustSource({
    store: new DiskTrustStateStore(join(config.storage.path, 'state', 'trust')),
    logger,
    freshnessSeconds: 0,
    missingCacheSeconds: 0,
  });
  return { enforcer: new PolicyEnforcer({ config, notary: source, audit: NO_AUDIT, logger }), source };
}

/** `signet check IMAGE`: the verdict Signet would give a pull of IMAGE, with reasons and signers. */
export async function checkImage(config: Config, image: string, json: boolean, io: Output): Promise<number> {
  const ref = imageRef(config, image, io);
  if (!ref) return EXIT.error;
  const tag = ref.tag ?? 'latest';
  const { enforcer, source } = tools(config);
  const resolved = enforcer.resolve(ref.registry, ref.repository);
  const report: Record<string, unknown> = { image: `${resolved.subject}:${tag}`, mode: resolved.mode, rule: resolved.rule ? `policy.rules.${resolved.rule.index} (${resolved.rule.match})` : 'policy.default' };
  try {
    if (resolved.mode === 'off') {
      Object.assign(report, { verdict: 'allowed', reason: 'policy_off' });
    } else {
      try {
        const v = await enforcer.evaluateTag(resolved, ref.registry, ref.repository, tag);
        Object.assign(report, { verdict: 'allowed', digest: v.target.digest, size: v.target.size, role: v.target.role, signers: v.signers, trust: { name: v.trust.name, versions: v.trust.versions } });
      } catch (err) {
        if (!(err instanceof SignetError && err.code === 'DENIED')) throw err;
        Object.assign(report, { verdict: resolved.mode === 'audit' ? 'audited' : 'denied', reason: reasonOf(err), message: err.message });
      }
    }
  } catch (err) {
    io.err(`signet: ${errorMessage(err)}\n`);
    return EXIT.error;
  } finally {
    await source.close();
  }
  if (json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [`${report['image']}: ${String(report['verdict']).toUpperCase()} (mode ${resolved.mode}, ${report['rule']})`];
    if (report['digest']) lines.push(`  digest:  ${report['digest']} (${report['size']} bytes, signed in ${report['role']})`);
    if (Array.isArray(report['signers']) && report['signers'].length) lines.push(`  signers: ${(report['signers'] as string[]).join(', ')}`);
    if (report['reason']) lines.push(`  reason:  ${report['reason']}`);
    if (report['message']) lines.push(`  ${report['message']}`);
    if (report['verdict'] === 'audited') lines.push('  (audit mode: the pull is let through and logged)');
    io.out(`${lines.join('\n')}\n`);
  }
  return report['verdict'] === 'denied' ? EXIT.denied : EXIT.allowed;
}

/** `signet trust inspect IMAGE`: signed tags, digests, signers, keys and expiries. */
export async function inspectTrust(config: Config, image: string, json: boolean, io: Output): Promise<number> {
  const ref = imageRef(config, image, io);
  if (!ref) return EXIT.error;
  const { enforcer, source } = tools(config);
  const resolved = enforcer.resolve(ref.registry, ref.repository);
  let trust: VerifiedTrust;
  try {
    trust = await enforcer.loadTrust(resolved, ref.registry, ref.repository);
  } catch (err) {
    io.err(`signet: ${errorMessage(err)}\n`);
    return err instanceof SignetError && err.code === 'DENIED' ? EXIT.denied : EXIT.error;
  } finally {
    await source.close();
  }
  const targets = trust.listTargets().map((t) => ({
    ...t,
    signers: [...trust.signersOf(t.tag).entries()].filter(([, s]) => s.digest === t.digest).map(([name]) => name),
  }));
  const report = {
    repository: resolved.subject,
    trust: trust.name,
    targets,
    keys: trust.keys,
    versions: trust.versions,
    expires: Object.fromEntries(Object.entries(trust.expires).map(([role, d]) => [role, d.toISOString()])),
  };
  if (json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT.allowed;
  }
  const lines = [`Signed tags of ${report.repository} (trust data ${report.trust}):`];
  if (targets.length === 0) lines.push('  (none)');
  for (const t of targets) lines.push(`  ${t.tag.padEnd(20)} ${t.digest}  ${String(t.size).padStart(8)} B  ${t.role}${t.signers.length ? `  signers: ${t.signers.join(', ')}` : ''}`);
  lines.push('', 'Keys:');
  for (const [role, keys] of Object.entries(report.keys)) for (const k of keys) lines.push(`  ${role.padEnd(20)} ${k.id}  ${k.type}`);
  lines.push('', 'Metadata:');
  for (const [role, version] of Object.entries(report.versions)) lines.push(`  ${role.padEnd(20)} version ${String(version).padEnd(5)} expires ${report.expires[role] ?? '?'}`);
  io.out(`${lines.join('\n')}\n`);
  return EXIT.allowed;
}
