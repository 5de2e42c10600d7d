import type { Child } from 'hono/jsx';

export const CONSOLE_PATH = '/console';

export const VIEWS = [
  { id: 'decisions', title: 'Decisions' },
  { id: 'denials', title: 'Denied pulls' },
  { id: 'inventory', title: 'Signed inventory' },
  { id: 'trust', title: 'Trust health' },
  { id: 'cache', title: 'Cache & upstreams' },
] as const;

export type ViewId = (typeof VIEWS)[number]['id'];

export interface LayoutProps {
  view: ViewId;
  /** ISO time the page was made. */
  at: string;
  /** Trust-health warnings (expired and critical ones are counted on the tab). */
  urgent: number;
  children: Child;
}

/** The frame of every view: a tab per view, the time the data is from, and the view itself. */
export function Layout(p: LayoutProps) {
  const title = VIEWS.find((v) => v.id === p.view)?.title ?? '';
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Signet console`}</title>
        <link rel="stylesheet" href={`${CONSOLE_PATH}/assets/console.css`} />
        <script src={`${CONSOLE_PATH}/assets/console.js`} defer />
      </head>
      <body data-server-time={p.at}>
        <header>
          <span class="brand">
            Signet<small>console</small>
          </span>
          <nav>
            {VIEWS.map((v) => (
              <a key={v.id} href={`${CONSOLE_PATH}/${v.id}`} aria-current={v.id === p.view ? 'page' : undefined}>
                {v.title}
                {v.id === 'trust' && p.urgent > 0 ? (
                  <span class="count" title="expired or critical">
                    {p.urgent}
                  </span>
                ) : null}
              </a>
            ))}
          </nav>
          <span class="as-of">as of {p.at.slice(0, 19).replace('T', ' ')} UTC</span>
        </header>
        <main id={p.view}>{p.children}</main>
      </body>
    </html>
  );
}

/** An ISO time as the tables show it: date and time to the second, UTC. */
export function Time({ at }: { at: string | undefined }) {
  if (at === undefined) return <span class="muted">—</span>;
  return <time datetime={at}>{at.slice(0, 19).replace('T', ' ')}</time>;
}

/** A digest shortened to what people compare, the whole of it on hover. */
export function Digest({ digest }: { digest: string | undefined }) {
  if (digest === undefined) return <span class="muted">—</span>;
  return <code title={digest}>{digest.slice(0, 19)}…</code>;
}

export function Empty({ children }: { children: Child }) {
  return <div class="empty">{children}</div>;
}
