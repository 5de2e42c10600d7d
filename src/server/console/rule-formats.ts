import type { Config } from '../../config/load.js';

/** The trust formats a rule requires, by the rule's path in decisions ("policy.rules.<n>" or "policy.default"). */
export function ruleFormats(config: Pick<Config, 'policy'>, rule: string): string[] {
  const found = config.policy.rules.find((r) => `policy.rules.${r.index}` === rule);
  const require = found ? found.require : config.policy.defaultRequire;
  return [...new Set(require.entries.map((e) => e.format))];
}
