// Live reload: re-reads the config file on SIGHUP or when it changes on disk, and
// hands a valid one to the running gateway; an invalid one is refused and the old one stays.
import { watch, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from './config/load.js';
import type { Logger } from './log.js';
import type { Gateway } from './server.js';

/** Loads `file` and applies it; returns whether the gateway now runs the file's config. */
export function reloadFromFile(file: string, gateway: Gateway, log: Logger): boolean {
  const loaded = loadConfigFile(file);
  if (!loaded.ok) {
    gateway.metrics.configReloads.inc({ result: 'failure' });
    log.error(
      { event: 'config_reload_failed', file, problems: loaded.problems },
      'the new config was refused; the running one stays',
    );
    return false;
  }
  const { restartNeeded } = gateway.reload(loaded.config);
  gateway.metrics.configReloads.inc({ result: 'success' });
  log.info({ event: 'config_reloaded', file }, 'config reloaded');
  // The same warnings as at start: a reload is how most configs reach a running gateway.
  for (const { event, key, message } of loaded.warnings)
    log.warn({ event, key }, `${key}: ${message}`);
  if (restartNeeded.length > 0) {
    log.warn(
      { event: 'config_restart_needed', keys: restartNeeded },
      'some changed keys only take effect after a restart',
    );
  }
  // Last, so the lines above are written whatever the new level is.
  log.level = loaded.config.log.level;
  return true;
}

/**
 * Calls `onChange` when the content of `file` changes. It watches the file's directory, not the
 * file: a Kubernetes ConfigMap update swaps a `..data` symlink there and never writes the file,
 * and editors often replace a file by renaming another over it.
 */
export function watchConfigFile(file: string, onChange: () => void, log: Logger): () => void {
  const read = (): string | undefined => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined; // mid-swap, or removed: wait for the next event
    }
  };
  let seen = read();
  let pending: NodeJS.Timeout | undefined;
  const check = () => {
    pending = undefined;
    const content = read();
    if (content === undefined || content === seen) return;
    seen = content;
    onChange();
  };
  const watcher = watch(path.dirname(path.resolve(file)), () => {
    // A swap is several events in a row; settle them into one look at the file.
    clearTimeout(pending);
    pending = setTimeout(check, 50);
  });
  watcher.on('error', (error) => {
    log.error(
      { event: 'config_watch_failed', err: error },
      'config file changes are no longer seen',
    );
  });
  return () => {
    clearTimeout(pending);
    watcher.close();
  };
}
