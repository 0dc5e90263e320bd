// Reads the command line: which config file, and whether only to check it.

export interface CliOptions {
  readonly configFile: string;
  readonly checkOnly: boolean;
}

export const USAGE = 'usage: captcha-gateway [--config FILE] [--check]';

/** Returns the options, or a problem to print with the usage line. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions | string {
  let configFile = env.GATEWAY_CONFIG || 'config/default.yaml';
  let checkOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--check') checkOnly = true;
    else if (arg === '--config') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) return '--config needs a file';
      configFile = value;
    } else if (arg.startsWith('--config=')) configFile = arg.slice('--config='.length);
    else return `unknown argument ${JSON.stringify(arg)}`;
  }
  return { configFile, checkOnly };
}
