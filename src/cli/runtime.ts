/**
 * The Node.js runtime Signet runs on, and the refusal to start on an older one.
 *
 * Signet targets the Node 24 LTS line and newer: `engines.node` in package.json is `>=24.15.0`,
 * the 24 release that sigstore-js (`^22.22.2 || ^24.15.0 || >=26`) accepts. The project brings that
 * runtime itself: the `node` devDependency puts it in node_modules/.bin, which npm puts first on PATH
 * for `npm start`, `npx signet` and every npm script.
 *
 * This module is the first import of src/cli/main.ts. ES modules evaluate their imports in the order
 * they are listed, so the check at the bottom runs before any other module of Signet is evaluated.
 * It must therefore stay free of imports and of syntax or APIs newer than the runtimes it refuses.
 */

/** The oldest Node.js release Signet runs on; package.json `engines.node` is `>=` this. */
export const MIN_NODE_VERSION = '24.15.0';

interface Version {
  major: number;
  minor: number;
  patch: number;
}

/** `24.15.0`, `v24.15.0` or a pre-release such as `26.0.0-pre` (the suffix is ignored). */
function parseVersion(version: string): Version | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

function isOlder(a: Version, b: Version): boolean {
  if (a.major !== b.major) return a.major < b.major;
  if (a.minor !== b.minor) return a.minor < b.minor;
  return a.patch < b.patch;
}

/**
 * Why Signet cannot run on Node.js `version` (as in `process.versions.node`), or undefined when it can.
 * A version that cannot be read is refused: there is no telling which APIs it has.
 */
export function nodeVersionProblem(version: string): string | undefined {
  const min = parseVersion(MIN_NODE_VERSION);
  const current = parseVersion(version);
  if (min && current && !isOlder(current, min)) return undefined;
  const shown = current ? `${current.major}.${current.minor}.${current.patch}` : JSON.stringify(version);
  return (
    `Signet needs Node.js ${MIN_NODE_VERSION} or newer (this is ${shown}): ` +
    'run it with `npm start` or `npx signet`, which use the Node.js that `npm ci` puts in node_modules/.bin, or install Node.js 24 LTS'
  );
}

// Runs when src/cli/main.ts is loaded, before its other imports evaluate. Exit code 1, as for any
// other invalid start of the CLI; process.exit stops the evaluation of the modules that follow.
const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
