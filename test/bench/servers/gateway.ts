// The gateway under test, built from dist/ exactly as `npm start` runs it, on the bench config.
// Refuses (and the bench reports why) when the config or the store does not work here.
import type { BenchConfigOptions } from '../config.js';
import { benchConfigYaml } from '../config.js';
import { announce, childInput, distModule, exitWithParent, refuse } from './child.js';

type LoadModule = typeof import('../../../gateway/config/load.js');
type LogModule = typeof import('../../../gateway/log.js');
type ServerModule = typeof import('../../../gateway/server.js');

const options = childInput<BenchConfigOptions>();
exitWithParent();
try {
  const { parseConfig } = (await import(distModule('gateway/config/load.js'))) as LoadModule;
  const { createLogger } = (await import(distModule('gateway/log.js'))) as LogModule;
  const { createGateway } = (await import(distModule('gateway/server.js'))) as ServerModule;
  const result = parseConfig(benchConfigYaml(options), {}, 'bench config');
  if (!result.ok) throw new Error(`the config is rejected: ${result.problems.join('; ')}`);
  const gateway = createGateway({
    config: result.config,
    log: createLogger(result.config.log.level),
  });
  // A store that cannot answer would make every request a store error: not a figure worth having.
  // On a loaded machine the first connection may take longer than one command timeout: retry.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await gateway.store.ping();
      break;
    } catch (error) {
      if (attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const { publicPort } = await gateway.listen();
  announce(publicPort);
} catch (error) {
  refuse(error);
}
