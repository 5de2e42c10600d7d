import type { Config } from '../../config/load.js';

/** The trust formats a rule requires, by the rule's path in decisions ("policy.rules.<n>" or "policy.default"). */
export function ruleFormats(config: Pick<Config, 'policy'>, rule: string): string[] {
  // Decisions of the access control (auth.access.<n>) or of other parts require no trust format.
  if (rule !== 'policy.default' && !rule.startsWith('policy.rules.')) return [];
  const found = config.policy.rules.find((r) => `policy.rules.${r.index}` === rule);
  const require = found ? found.require : config.policy.defaultRequire;
  return [...new Set(require.entries.map((e) => e.format))];
}
