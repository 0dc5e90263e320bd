// Reads the command line: which config file, whether only to check it, or the help text.

export type Cli =
  | { readonly kind: 'run'; readonly configFile: string; readonly checkOnly: boolean }
  | { readonly kind: 'help' }
  | { readonly kind: 'mistake'; readonly problem: string };

export const USAGE = 'usage: captcha-gateway [--config FILE] [--check] [--help]';

/** What `--help` prints: the options, the environment and the exit codes. */
export const HELP = `${USAGE}

Reverse-proxy gateway that throttles clients per IP and lifts the throttle once they pass a captcha.

options:
  --config FILE  the YAML config (default: $GATEWAY_CONFIG, else config/default.yaml)
  --check        validate the config and exit: prints "config OK" and a "warning: ..." line
                 per warning, or every problem on stderr
  -h, --help     print this help and exit

environment:
  GATEWAY_CONFIG  the config file when --config is not given
  \${NAME} and \${NAME:-default} in the config are read from the environment
  (config/default.yaml reads UPSTREAM_URL, CAPTCHA_SITE_KEY, CAPTCHA_SECRET, CSRF_SECRET,
  ADMIN_TOKEN)

signals:
  SIGHUP           reload the config (a change of the file's content does too)
  SIGTERM, SIGINT  drain in-flight requests (listen.drain_timeout), then exit

exit codes:
  0  --check: the config is valid (warnings included); otherwise stopped cleanly after a signal
  1  the config has problems, or the gateway could not start or stop cleanly
  2  a mistake on the command line
`;

export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): Cli {
  let configFile = env.GATEWAY_CONFIG || 'config/default.yaml';
  let checkOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--check') checkOnly = true;
    else if (arg === '--config') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('-'))
        return { kind: 'mistake', problem: '--config needs a file' };
      configFile = value;
    } else if (arg.startsWith('--config=')) {
      configFile = arg.slice('--config='.length);
      if (configFile === '') return { kind: 'mistake', problem: '--config needs a file' };
    } else return { kind: 'mistake', problem: `unknown argument ${JSON.stringify(arg)}` };
  }
  return { kind: 'run', configFile, checkOnly };
}
