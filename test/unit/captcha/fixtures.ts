// Builds real, validated configs for the captcha tests from a YAML snippet.
import { parseConfig } from '../../../gateway/config/load.js';
import type { Config } from '../../../gateway/config/schema.js';

/** The config the YAML describes (upstream.url is filled in); throws with every problem. */
export function configFrom(yaml = ''): Config {
  const result = parseConfig(`upstream: { url: "http://127.0.0.1:9" }\n${yaml}`, {});
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}
