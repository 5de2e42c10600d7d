import { pino, type Logger } from 'pino';
import type { Config, CosignRequirements, NotaryRequirements, NotationRequirements } from '../config/load.js';
import { SignetError, errorMessage } from '../errors.js';
import { siteTrustState } from '../cache/disk/trust-state.js';
import { UpstreamClient } from '../registry/upstream-client.js';
import { DiskImportedStore } from '../bundle/imported-store.js';
import { siteUpstreams } from '../bundle/offline-site.js';
import { decisionTools, type DecisionTools } from '../bundle/decision-tools.js';
import { parseReference } from '../registry/names.js';
import type { AuditRecord } from '../policy/audit-log.js';
import type { VerifiedNotaryRepo } from '../trust/notary/verified-repo.js';
import type { Evidence } from '../trust/source.js';
import type { ServedManifest } from '../proxy/manifests.js';
import { parseImageRef, type ImageRef } from '../registry/image-ref.js';
import { EXIT } from './exit-codes.js';

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

/**
 * The server's pull path, on in-memory content: the same policy, trust sources and proxy
 * services decide, and the one decision is read back from an in-memory audit log. The persisted
 * trust state is the server's: pinned roots and rollback floors are shared.
 */
function tools(config: Config): DecisionTools {
  const logger: Logger = pino({ level: 'silent' });
  // Offline upstreams are answered from the imported bundles, as the server answers them.
  const { upstreams, notary } = siteUpstreams(
    config,
    new DiskImportedStore({ root: config.bundles.path, logger }),
    (u) => new UpstreamClient(u, { logger }),
    logger,
  );
  const t = decisionTools({
    config,
    upstreams,
    trustState: siteTrustState(config.storage.path),
    logger,
    offlineNotary: notary,
  });
  return {
    ...t,
    close: async () => {
      await t.close();
      await Promise.all([...upstreams.values()].map((u) => u.close()));
    },
  };
}

/** `signet check IMAGE`: the verdict Signet gives a pull of IMAGE, with reasons and signers. */
export async function checkImage(config: Config, image: string, json: boolean, io: Output): Promise<number> {
  const ref = imageRef(config, image, io);
  if (!ref) return EXIT.error;
  const tag = ref.tag ?? 'latest';
  const t = tools(config);
  let served: ServedManifest | undefined;
  let record: AuditRecord | undefined;
  try {
    const target = t.router.resolve(ref.repository, ref.registry);
    try {
      served = await t.manifests.get(target, parseReference(tag));
    } catch (err) {
      if (!(err instanceof SignetError && err.code === 'DENIED')) throw err;
    }
    record = t.decisions.records.at(-1);
    if (!record) throw new SignetError('INTERNAL', 'no decision was recorded');
  } catch (err) {
    io.err(`signet: ${errorMessage(err)}\n`);
    return EXIT.error;
  } finally {
    await t.close();
  }
  const role = record.evidence?.find((e) => e.role)?.role;
  const report: Record<string, unknown> = {
    image: `${ref.registry}/${ref.repository}:${tag}`,
    mode: record.mode,
    rule: record.rule,
    verdict: record.verdict,
    reason: record.reason,
    ...(record.verdict === 'allowed' ? {} : { message: record.message }),
    digest: served?.digest ?? record.digest,
    size: served?.size,
    role,
    signers: record.signers,
    evidence: record.evidence,
    trust: record.trust,
  };
  if (json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [`${String(report['image'])}: ${record.verdict.toUpperCase()} (mode ${record.mode}, ${record.rule})`];
    if (served && record.verdict === 'allowed') lines.push(`  digest:  ${served.digest} (${served.size} bytes${role ? `, signed in ${role}` : ''})`);
    if (record.signers?.length) lines.push(`  signers: ${record.signers.join(', ')}`);
    for (const e of record.evidence ?? []) {
      if (e.format === 'notary') continue;
      const details = [
        e.key ? `${e.format === 'notation' ? 'trusted identity' : 'key'} ${e.key}` : undefined,
        e.issuer ? `issuer ${e.issuer}` : undefined,
        e.logIndex === undefined ? undefined : `log index ${e.logIndex}`,
        e.signedAt ? `signed ${e.signedAt.toISOString()}` : undefined,
        e.timestampAuthority ? `timestamped by ${e.timestampAuthority}` : undefined,
        e.level ? `level ${e.level}` : undefined,
      ].filter((d) => d !== undefined);
      lines.push(`  ${e.format}: ${e.signer}${details.length ? ` (${details.join(', ')})` : ''}`);
      for (const l of e.logged ?? []) lines.push(`    logged, not enforced: ${l}`);
    }
    lines.push(`  reason:  ${record.reason}`);
    if (record.verdict !== 'allowed' && record.message) lines.push(`  ${record.message}`);
    if (record.verdict === 'audited') lines.push('  (audit mode: the pull is let through and logged)');
    io.out(`${lines.join('\n')}\n`);
  }
  return record.verdict === 'denied' ? EXIT.denied : EXIT.allowed;
}

/**
 * `signet trust inspect IMAGE`: for Notary, signed tags, digests, signers, keys and expiries of
 * the repository; for cosign, every signature of the digest IMAGE's tag resolves to, and whether
 * each counts under the rule (and why not).
 */
export async function inspectTrust(config: Config, image: string, json: boolean, io: Output): Promise<number> {
  const ref = imageRef(config, image, io);
  if (!ref) return EXIT.error;
  const t = tools(config);
  const resolved = t.policy.resolve(ref.registry, ref.repository);
  const cosign = resolved.require.entries.flatMap((e) => (e.format === 'cosign' ? [e.requirement] : []));
  const notation = resolved.require.entries.flatMap((e) => (e.format === 'notation' ? [e.requirement] : []));
  if (cosign.length + notation.length > 0 && !resolved.require.entries.some((e) => e.format === 'notary')) {
    try {
      return await inspectDigestSignatures(t, ref, resolved.subject, { cosign, notation }, json, io);
    } catch (err) {
      io.err(`signet: ${errorMessage(err)}\n`);
      return err instanceof SignetError && err.code === 'DENIED' ? EXIT.denied : EXIT.error;
    } finally {
      await t.close();
    }
  }
  const requirement: NotaryRequirements = resolved.require.entries.flatMap((e) => (e.format === 'notary' ? [e.requirement] : []))[0] ?? {
    server: undefined,
    roots: { keyIds: [], caPems: [], tofu: false },
    signers: [],
    threshold: 0,
    path: `${resolved.path}.require.notary`,
  };
  let trust: VerifiedNotaryRepo;
  try {
    trust = await t.notary.repository({ registry: ref.registry, repository: ref.repository }, requirement);
  } catch (err) {
    io.err(`signet: ${errorMessage(err)}\n`);
    return err instanceof SignetError && err.code === 'DENIED' ? EXIT.denied : EXIT.error;
  } finally {
    await t.close();
  }
  const targets = trust.listTargets().map((target) => ({
    ...target,
    signers: [...trust.signersOf(target.tag).entries()].filter(([, s]) => s.digest === target.digest).map(([name]) => name),
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
  for (const s of targets)
    lines.push(`  ${s.tag.padEnd(20)} ${s.digest}  ${String(s.size).padStart(8)} B  ${s.role}${s.signers.length ? `  signers: ${s.signers.join(', ')}` : ''}`);
  lines.push('', 'Keys:');
  for (const [role, keys] of Object.entries(report.keys)) for (const k of keys) lines.push(`  ${role.padEnd(20)} ${k.id}  ${k.type}`);
  lines.push('', 'Metadata:');
  for (const [role, version] of Object.entries(report.versions))
    lines.push(`  ${role.padEnd(20)} version ${String(version).padEnd(5)} expires ${report.expires[role] ?? '?'}`);
  io.out(`${lines.join('\n')}\n`);
  return EXIT.allowed;
}

async function inspectDigestSignatures(
  t: DecisionTools,
  ref: ImageRef,
  subject: string,
  requirements: { cosign: readonly CosignRequirements[]; notation: readonly NotationRequirements[] },
  json: boolean,
  io: Output,
): Promise<number> {
  const tag = ref.tag ?? 'latest';
  const target = t.router.resolve(ref.repository, ref.registry);
  const manifest = await t.manifests.resolveTag(target, tag);
  const signed = { registry: ref.registry, repository: ref.repository, digest: manifest.digest };
  const rules: InspectedRule[] = [];
  for (const requirement of requirements.cosign) {
    const signatures = await t.cosign.inspect(signed, requirement);
    rules.push({
      format: 'cosign',
      requirement: requirement.path,
      threshold: requirement.threshold,
      signatures: signatures.map((s) => ({
        kind: s.kind,
        artifact: s.artifact.digest,
        foundIn: foundIn(s.artifact),
        ...(s.outcome.ok
          ? { verified: true as const, signer: s.outcome.signature.signer, evidence: s.outcome.signature.evidence }
          : { verified: false as const, reason: s.outcome.reason, message: s.outcome.message }),
      })),
    });
  }
  for (const requirement of requirements.notation) {
    const { statement, signatures } = await t.notation.inspect(signed, requirement);
    rules.push({
      format: 'notation',
      requirement: requirement.path,
      threshold: requirement.threshold,
      statement: { name: statement.name, level: statement.level },
      signatures: signatures.map((s) => ({
        kind: 'notation',
        artifact: s.artifact.digest,
        foundIn: foundIn(s.artifact),
        ...(s.outcome.ok
          ? {
              verified: true as const,
              signer: s.outcome.signature.subject,
              evidence: {
                format: 'notation',
                signer: s.outcome.signature.subject,
                issuer: s.outcome.signature.issuer,
                signedAt: s.outcome.signature.timestamp?.genTime ?? s.outcome.signature.signingTime,
                ...(s.outcome.signature.timestamp ? { timestampAuthority: s.outcome.signature.timestamp.tsa } : {}),
                level: s.outcome.signature.level,
                ...(s.outcome.signature.logged.length > 0 ? { logged: s.outcome.signature.logged.map((l) => `${l.check}: ${l.message}`) } : {}),
              },
              envelope: s.outcome.signature.format,
              scheme: s.outcome.signature.scheme,
              identity: s.outcome.signature.identity,
            }
          : { verified: false as const, reason: s.outcome.reason, message: s.outcome.message }),
      })),
    });
  }
  const report = { image: `${subject}:${tag}`, digest: manifest.digest, rules };
  if (json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT.allowed;
  }
  const lines = [`Signatures of ${report.image} (${report.digest}):`];
  for (const rule of rules) {
    const counted = new Set(rule.signatures.flatMap((s) => (s.verified ? [s.signer] : []))).size;
    const statement = rule.statement ? `, trust policy statement "${rule.statement.name}" level ${rule.statement.level}` : '';
    lines.push(`  ${rule.requirement}: ${counted} distinct signer(s) verified, ${rule.threshold} required${statement}`);
    if (rule.signatures.length === 0) lines.push('    (no signatures found)');
    for (const s of rule.signatures) {
      const head = `    ${s.kind.padEnd(8)} ${s.artifact} (${s.foundIn})`;
      if (!s.verified) {
        lines.push(`${head}  NOT COUNTED ${s.reason}: ${s.message}`);
        continue;
      }
      const e = s.evidence;
      const details = [
        e.issuer ? `issuer ${e.issuer}` : undefined,
        e.logIndex === undefined ? undefined : `log index ${e.logIndex}`,
        e.signedAt ? `signed ${e.signedAt.toISOString()}` : undefined,
        e.timestampAuthority ? `timestamped by ${e.timestampAuthority}` : undefined,
      ].filter((d) => d !== undefined);
      lines.push(`${head}  OK ${s.signer}${details.length ? ` (${details.join(', ')})` : ''}`);
      for (const l of e.logged ?? []) lines.push(`      logged, not enforced: ${l}`);
    }
  }
  io.out(`${lines.join('\n')}\n`);
  return EXIT.allowed;
}

interface InspectedRule {
  format: 'cosign' | 'notation';
  requirement: string;
  threshold: number;
  statement?: { name: string; level: string };
  signatures: Array<
    { kind: string; artifact: string; foundIn: string } & (
      { verified: true; signer: string; evidence: Evidence } | { verified: false; reason: string; message: string }
    )
  >;
}

function foundIn(artifact: { source: string; tag: string | undefined }): string {
  return artifact.tag ? `${artifact.source} ${artifact.tag}` : artifact.source;
}
