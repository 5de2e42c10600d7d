import { DEFAULTS } from '../../../config/defaults.js';
import type { DecisionFilter, DenialGroup, InventoryRepository, RecentDecision } from '../recent-decisions.js';
import { CONSOLE_PATH, Digest, Empty, Time } from './layout.js';

const FORMATS = ['notary', 'cosign', 'notation'];
const KINDS = ['manifest', 'blob', 'referrers', 'tags', 'access'];

export interface DecisionsProps {
  filter: DecisionFilter;
  decisions: RecentDecision[];
  /** Reasons seen in the kept decisions, for the filter's choices. */
  reasons: string[];
}

/** Recent decisions, newest first, with a filter form that works as a plain GET form. */
export function DecisionsView(p: DecisionsProps) {
  const f = p.filter;
  return (
    <>
      <h1>Recent decisions</h1>
      <p class="lead">
        Every pull Signet decided, newest first. The audit log keeps the full record.
        <span class="live">Live: refreshes every {DEFAULTS.consoleLiveSeconds} s with JavaScript.</span>
      </p>
      <form class="filters" method="get" action={`${CONSOLE_PATH}/decisions`}>
        <Choice label="Verdict" name="verdict" options={['allowed', 'denied', 'audited']} chosen={f.verdict} />
        <Choice label="Reason" name="reason" options={[...new Set([...p.reasons, ...(f.reason ? [f.reason] : [])])]} chosen={f.reason} />
        <label>
          Repository
          <input name="repository" value={f.repository ?? ''} placeholder="library/app" />
        </label>
        <label>
          Client or user
          <input name="client" value={f.client ?? ''} placeholder="10.0.0.7 or alice" />
        </label>
        <Choice label="Format" name="format" options={FORMATS} chosen={f.format} />
        <Choice label="Kind" name="kind" options={KINDS} chosen={f.kind} />
        <button type="submit">Filter</button>
        <a class="button secondary" href={`${CONSOLE_PATH}/decisions`}>
          Reset
        </a>
      </form>
      <div data-live={DEFAULTS.consoleLiveSeconds}>
        {p.decisions.length === 0 ? (
          <Empty>No decisions match{hasFilter(f) ? ' this filter' : ' yet: pull an image through Signet'}.</Empty>
        ) : (
          <table id="decisions-table">
            <thead>
              <tr>
                <th>Time (UTC)</th>
                <th>Verdict</th>
                <th>Image</th>
                <th>Reason</th>
                <th>Formats</th>
                <th>Signers</th>
                <th>Client</th>
                <th>Message</th>
              </tr>
            </thead>
            <tbody>
              {p.decisions.map((d, i) => (
                <tr key={i} class={`decision ${d.verdict}`}>
                  <td>
                    <Time at={d.at} />
                  </td>
                  <td>
                    <span class={`badge ${d.verdict}`}>{d.verdict}</span>
                    {d.mode === 'audit' ? <span class="muted"> (audit)</span> : null}
                  </td>
                  <td>
                    <code>
                      {d.upstream}/{d.repository}
                      {d.reference.includes(':') ? '@' : ':'}
                      {d.reference.includes(':') ? `${d.reference.slice(0, 19)}…` : d.reference}
                    </code>
                    <div class="muted">{d.kind}</div>
                  </td>
                  <td>
                    <code>{d.reason}</code>
                  </td>
                  <td>
                    {d.formats.map((x) => (
                      <span key={x} class="badge fmt">
                        {x}
                      </span>
                    ))}
                  </td>
                  <td>{signersOf(d).join(', ') || <span class="muted">—</span>}</td>
                  <td>{d.user ? `${d.user} (${d.client ?? ''})` : (d.client ?? '')}</td>
                  <td class="message">{d.message ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p class="muted">
          {p.decisions.length} shown (at most {f.limit}). The same data: <code>GET /api/v1/decisions</code>
        </p>
      </div>
    </>
  );
}

/** A filter's drop-down: "any" (no filter) and the options, the chosen one selected. */
function Choice(p: { label: string; name: string; options: readonly string[]; chosen: string | undefined }) {
  return (
    <label>
      {p.label}
      <select name={p.name}>
        {['', ...p.options].map((v) => (
          <option key={v} value={v} selected={(p.chosen ?? '') === v}>
            {v === '' ? 'any' : v}
          </option>
        ))}
      </select>
    </label>
  );
}

function hasFilter(f: DecisionFilter): boolean {
  return [f.verdict, f.reason, f.repository, f.client, f.format, f.upstream, f.kind].some((v) => v !== undefined);
}

function signersOf(d: RecentDecision): string[] {
  if (d.signers && d.signers.length > 0) return d.signers;
  return [...new Set((d.evidence ?? []).map((e) => e.signer))];
}

/** Denials grouped by reason: how often, the message the client saw, and what to do. */
export function DenialsView({ groups }: { groups: DenialGroup[] }) {
  return (
    <>
      <h1>Denied pulls</h1>
      <p class="lead">Refusals of the kept decisions (and what audit mode would have refused), grouped by reason, most frequent first.</p>
      <div data-live={DEFAULTS.consoleLiveSeconds}>
        {groups.length === 0 ? <Empty>Nothing was denied among the kept decisions.</Empty> : null}
        {groups.map((g) => (
          <section key={g.reason} class="card denial" id={`reason-${g.reason}`}>
            <h2>
              <code>{g.reason}</code>
              <span class="badge denied">{g.count}×</span>
              <span class="muted">
                last <Time at={g.lastAt} />, {g.clients} client{g.clients === 1 ? '' : 's'}
              </span>
            </h2>
            <div class="muted">The client saw:</div>
            <blockquote>{g.message ?? '(no message)'}</blockquote>
            <p class="advice">
              <b>What to do:</b> {g.advice}
            </p>
            <div class="muted">
              Repositories:{' '}
              {g.repositories.map((r, i) => (
                <span key={r}>
                  {i > 0 ? ', ' : ''}
                  <code>{r}</code>
                </span>
              ))}
              {' · '}
              <a href={`${CONSOLE_PATH}/decisions?verdict=&reason=${encodeURIComponent(g.reason)}`}>see the decisions</a>
            </div>
          </section>
        ))}
      </div>
    </>
  );
}

/** The signed inventory: per repository, the tags Signet admitted on a signature, with who signed. */
export function InventoryView({ repositories }: { repositories: InventoryRepository[] }) {
  return (
    <>
      <h1>Signed inventory</h1>
      <p class="lead">Tags admitted on a signature among the kept decisions, per repository, as their newest admission shows them.</p>
      <div data-live={DEFAULTS.consoleLiveSeconds}>
        {repositories.length === 0 ? <Empty>No signed tag has been pulled yet.</Empty> : null}
        {repositories.map((r) => (
          <section key={`${r.upstream}/${r.repository}`} class="repository">
            <h2>
              <code>
                {r.upstream}/{r.repository}
              </code>
            </h2>
            <table>
              <thead>
                <tr>
                  <th>Tag</th>
                  <th>Digest</th>
                  <th>Formats</th>
                  <th>Signers / identities</th>
                  <th>Signed (UTC)</th>
                  <th>Last admitted (UTC)</th>
                </tr>
              </thead>
              <tbody>
                {r.tags.map((t) => (
                  <tr key={t.tag} class="inventory-tag">
                    <td>
                      <code>{t.tag}</code>
                    </td>
                    <td>
                      <Digest digest={t.digest} />
                    </td>
                    <td>
                      {t.formats.map((x) => (
                        <span key={x} class="badge fmt">
                          {x}
                        </span>
                      ))}
                    </td>
                    <td class="signers">{t.signers.join(', ')}</td>
                    <td>{t.signedAt ? <Time at={t.signedAt} /> : <span class="muted">not dated by the format</span>}</td>
                    <td>
                      <Time at={t.admittedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ))}
      </div>
    </>
  );
}
