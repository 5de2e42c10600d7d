import type { Logger } from 'pino';
import type { Config, NotaryRequirements, NotaryServerConfig, PolicyRuleConfig } from '../config/load.js';
import type { PolicyMode } from '../config/schema.js';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError } from '../errors.js';
import type { DenyReason, SignedTarget, TrustSource, VerifiedTrust } from '../trust/trust-source.js';
import type { AuditLog, Verdict } from './audit-log.js';
import type { Authorizer, DigestDecision, DigestRequest, TagDecision, TagRequest } from './authorizer.js';
import { compileRules, mostSpecific, type CompiledRule } from './rules.js';

/** What the Notary source needs besides the GUN: where to fetch and which roots to trust. */
export interface NotaryLoadOptions {
  server: NotaryServerConfig;
  roots: NotaryRequirements['roots'];
  /** Config path of the rule that pins the roots, for messages ("policy.rules.2"). */
  rulePath: string;
}

export interface DecisionObserver {
  decision(verdict: Verdict, reason: string): void;
}

export interface PolicyEnforcerOptions {
  config: Pick<Config, 'policy' | 'upstreams'>;
  notary: TrustSource<NotaryLoadOptions>;
  audit: AuditLog;
  observer?: DecisionObserver;
  logger: Logger;
}

const NO_REQUIREMENTS: NotaryRequirements = { roots: { keyIds: [], caPems: [], tofu: false }, signers: [], threshold: 0 };

interface Resolved {
  subject: string;
  mode: PolicyMode;
  rule: PolicyRuleConfig | undefined;
}

interface TagVerdict {
  target: SignedTarget;
  signers: string[];
  trust: VerifiedTrust;
}

/**
 * The policy: finds the rule for `<registry>/<repository>`, asks the rule's trust source, and
 * turns the answer into allow (with the signed digest pinned), deny, or — in audit mode —
 * allow-and-log. Every decision goes to the audit log.
 */
export class PolicyEnforcer implements Authorizer {
  readonly #o: PolicyEnforcerOptions;
  readonly #rules: Array<CompiledRule<PolicyRuleConfig>>;
  /**
   * Verdicts per verified trust state: a state object is immutable, so while the source hands out
   * the same one (within its freshness interval) a tag's verdict cannot change.
   */
  readonly #verdicts = new WeakMap<VerifiedTrust, Map<string, TagVerdict | SignetError>>();

  constructor(options: PolicyEnforcerOptions) {
    this.#o = options;
    this.#rules = compileRules(options.config.policy.rules);
  }

  resolve(upstream: string, repository: string): Resolved {
    const subject = `${upstream}/${repository}`;
    const match = mostSpecific(this.#rules, subject);
    return { subject, mode: match?.rule.mode ?? this.#o.config.policy.default, rule: match?.rule };
  }

  async authorizeTag(request: TagRequest): Promise<TagDecision> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = { client: request.client, upstream: request.upstream, repository: request.repository, reference: request.tag, mode: resolved.mode };
    if (resolved.mode === 'off') {
      this.#record({ ...base, digest: undefined, verdict: 'allowed', reason: 'policy_off', message: undefined, signers: undefined, trust: undefined });
      return { mode: 'off' };
    }
    try {
      const verdict = await this.evaluateTag(resolved, request.upstream, request.repository, request.tag);
      this.#record({
        ...base,
        digest: verdict.target.digest,
        verdict: 'allowed',
        reason: 'signed',
        message: `signed in ${verdict.target.role}`,
        signers: verdict.signers,
        trust: { name: verdict.trust.name, versions: verdict.trust.versions },
      });
      return { mode: resolved.mode, pinned: { digest: verdict.target.digest, size: verdict.target.size } };
    } catch (err) {
      return this.#refuse(err, resolved.mode, { ...base, digest: undefined }, { mode: resolved.mode });
    }
  }

  async authorizeDigest(request: DigestRequest): Promise<DigestDecision> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = { client: request.client, upstream: request.upstream, repository: request.repository, reference: request.digest, digest: request.digest, mode: resolved.mode };
    if (resolved.mode === 'off') return { mode: 'off', verified: false };
    if (request.lineage === 'verified') {
      this.#record({ ...base, verdict: 'allowed', reason: 'lineage', message: `${request.kind} descends from a verified manifest`, signers: undefined, trust: undefined });
      return { mode: resolved.mode, verified: true };
    }
    try {
      const trust = await this.#load(resolved, request.upstream, request.repository);
      if (request.kind === 'manifest') {
        // A signed digest passes only under a tag whose verdict (signers included) allows it.
        for (const signed of trust.listTargets().filter((t) => t.digest === request.digest)) {
          const verdict = await this.evaluateTag(resolved, request.upstream, request.repository, signed.tag).catch(() => undefined);
          if (verdict?.target.digest === request.digest) {
            this.#record({ ...base, verdict: 'allowed', reason: 'signed', message: `digest is the signed target of tag ${signed.tag}`, signers: verdict.signers, trust: { name: trust.name, versions: trust.versions } });
            return { mode: resolved.mode, verified: true };
          }
        }
      }
      throw deny(
        'digest_not_authorised',
        `${request.kind} ${request.digest} is not part of any verified image of ${resolved.subject}: pull it through a signed tag (or a signed digest) first`,
      );
    } catch (err) {
      return this.#refuse(err, resolved.mode, base, { mode: resolved.mode, verified: false });
    }
  }

  /** The verdict for a tag, without logging: used by requests and by `signet check`. */
  async evaluateTag(resolved: Resolved, upstream: string, repository: string, tag: string): Promise<TagVerdict> {
    const trust = await this.#load(resolved, upstream, repository);
    let memo = this.#verdicts.get(trust);
    if (!memo) {
      memo = new Map();
      this.#verdicts.set(trust, memo);
    }
    const key = `${resolved.rule?.index ?? -1} ${tag}`;
    let verdict = memo.get(key);
    if (!verdict) {
      try {
        verdict = this.#judge(resolved, trust, tag);
      } catch (err) {
        if (!(err instanceof SignetError)) throw err;
        verdict = err;
      }
      // Bounded: requests for arbitrary tag names must not grow it without limit.
      if (memo.size >= DEFAULTS.verdictMemoEntries) memo.clear();
      memo.set(key, verdict);
    }
    if (verdict instanceof SignetError) throw verdict;
    return verdict;
  }

  #judge(resolved: Resolved, trust: VerifiedTrust, tag: string): TagVerdict {
    const requirements = resolved.rule?.require.notary ?? NO_REQUIREMENTS;
    const target = trust.chooseTarget(tag);
    if (!target) {
      throw deny('tag_not_signed', `tag "${tag}" of ${resolved.subject} is not signed: the trust data of ${trust.name} has no target "${tag}" in targets/releases or targets`);
    }
    const signedBy = trust.signersOf(tag);
    const agreeing = requirements.signers.filter((s) => signedBy.get(s)?.digest === target.digest);
    if (agreeing.length < requirements.threshold) {
      const missing = requirements.signers.filter((s) => !agreeing.includes(s));
      const disagreeing = missing.filter((s) => signedBy.has(s));
      throw deny(
        'required_signers',
        `tag "${tag}" of ${resolved.subject} needs ${requirements.threshold} of the signers [${requirements.signers.join(', ')}] on ${target.digest}; ` +
          `signed by [${agreeing.join(', ')}]` +
          (missing.length ? `, missing [${missing.join(', ')}]` : '') +
          (disagreeing.length ? ` ([${disagreeing.join(', ')}] signed another digest)` : ''),
      );
    }
    return { target, signers: [...signedBy.entries()].filter(([, t]) => t.digest === target.digest).map(([name]) => name), trust };
  }

  /** The verified trust data a rule points at (for `signet trust inspect`). */
  loadTrust(resolved: Resolved, upstream: string, repository: string): Promise<VerifiedTrust> {
    return this.#load(resolved, upstream, repository);
  }

  async #load(resolved: Resolved, upstream: string, repository: string): Promise<VerifiedTrust> {
    const server = resolved.rule?.trust.notary ?? this.#o.config.upstreams.get(upstream)?.trust.notary;
    if (!server) {
      throw deny(
        'no_trust_config',
        `no trust configuration for ${resolved.subject}: set upstreams.${upstream}.trust.notary.url (or trust.notary.url in a policy rule matching it) ` +
          `and pin its roots in policy.rules[].require.notary.roots; or add a rule {match: "${resolved.subject}", mode: off} to let it through unverified`,
      );
    }
    const rulePath = resolved.rule ? `policy.rules.${resolved.rule.index}` : 'policy';
    const name = server.gun.replaceAll('{registry}', upstream).replaceAll('{repository}', repository);
    return this.#o.notary.load({ name }, { server, roots: (resolved.rule?.require.notary ?? NO_REQUIREMENTS).roots, rulePath });
  }

  #refuse<D>(err: unknown, mode: PolicyMode, base: Omit<Parameters<AuditLog['record']>[0], 'verdict' | 'reason' | 'message' | 'signers' | 'trust'>, auditDecision: D): D {
    const denial = err instanceof SignetError && err.code === 'DENIED' ? err : undefined;
    if (!denial) throw err; // infrastructure failures (trust server down with nothing cached, ...) are not verdicts
    const reason = reasonOf(denial);
    if (mode === 'audit') {
      this.#record({ ...base, verdict: 'audited', reason, message: denial.message, signers: undefined, trust: undefined });
      return auditDecision;
    }
    this.#record({ ...base, verdict: 'denied', reason, message: denial.message, signers: undefined, trust: undefined });
    throw denial;
  }

  #record(entry: Parameters<AuditLog['record']>[0]): void {
    this.#o.audit.record(entry);
    this.#o.observer?.decision(entry.verdict, entry.reason ?? 'unknown');
  }
}

export function deny(reason: DenyReason, message: string): SignetError {
  return new SignetError('DENIED', message, { detail: { reason } });
}

export function reasonOf(err: SignetError): string {
  const detail = err.detail as { reason?: unknown } | undefined;
  return typeof detail?.reason === 'string' ? detail.reason : 'denied';
}
