/** A validated configuration for tests: the defaults, with some keys set as if by flags. */
import { parseConfig, type ConfigKey, type TetherConfig } from '../../src/config/index.js';

export function testConfig(values: Partial<Record<ConfigKey, unknown>> = {}): TetherConfig {
  const overrides = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, [v, 'test']]));
  return parseConfig({ env: {}, overrides });
}
