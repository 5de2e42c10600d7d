// Import boundaries of src/, checked by `npm run lint` (depcruise src).
//
// Layers, top to bottom; a module imports only its own layer or lower ones:
//   cli → server → bundle → proxy → policy → (trust, cache) → registry → config
// src/errors.ts sits below them all and is importable from everywhere.
// Besides: no cycles; cache does not see trust or policy; the trust formats under
// src/trust/<format>/ do not import each other, except the shared src/trust/x509/; src/ never
// imports test/ or bench/; and src/ imports no dev dependency (the image has none of them).

/** Each layer, with the layers above it that it must not import. */
const LAYERS = [
  { name: 'config', above: ['registry', 'trust', 'cache', 'policy', 'proxy', 'bundle', 'server', 'cli'] },
  { name: 'registry', above: ['trust', 'cache', 'policy', 'proxy', 'bundle', 'server', 'cli'] },
  { name: 'trust', above: ['policy', 'proxy', 'bundle', 'server', 'cli'] },
  { name: 'cache', above: ['policy', 'proxy', 'bundle', 'server', 'cli'] },
  { name: 'policy', above: ['proxy', 'bundle', 'server', 'cli'] },
  { name: 'proxy', above: ['bundle', 'server', 'cli'] },
  { name: 'bundle', above: ['server', 'cli'] },
  { name: 'server', above: ['cli'] },
];
const KNOWN = [...LAYERS.map((l) => l.name), 'cli'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles in src: ES modules evaluate a cycle in an order that leaves bindings uninitialised.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...LAYERS.map((layer) => ({
      name: `layer-${layer.name}`,
      severity: 'error',
      comment: `src/${layer.name} is below src/{${layer.above.join(',')}} and must not import them.`,
      from: { path: `^src/${layer.name}/` },
      to: { path: `^src/(${layer.above.join('|')})/` },
    })),
    {
      name: 'cache-not-to-trust',
      severity: 'error',
      comment: 'src/cache stores bytes and metadata; it does not know about trust data (same layer, but kept apart).',
      from: { path: '^src/cache/' },
      to: { path: '^src/trust/' },
    },
    {
      name: 'errors-at-the-bottom',
      severity: 'error',
      comment: 'src/errors.ts is imported from everywhere, so it imports nothing of src.',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'trust-formats-apart',
      severity: 'error',
      comment: 'A trust format (src/trust/<format>/) does not import another one; src/trust/x509/ is shared by all.',
      from: { path: '^src/trust/([^/]+)/' },
      to: { path: '^src/trust/[^/]+/', pathNot: ['^src/trust/$1/', '^src/trust/x509/'] },
    },
    {
      name: 'src-not-to-test-or-bench',
      severity: 'error',
      comment: 'The product does not depend on its tests or benchmarks.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'src-not-to-dev-dep',
      severity: 'error',
      comment: 'The image installs production dependencies only: src/ may import a devDependency for its types only.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment: 'Every package imported is declared in package.json, not only present in node_modules by chance.',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing on disk.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'known-layers-only',
      severity: 'error',
      comment: `A folder of src outside the layers (${KNOWN.join(', ')}): add it to .dependency-cruiser.cjs with its place.`,
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: [`^src/(${KNOWN.join('|')})/`, '^src/errors\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count too: a layer that needs another's types depends on it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
