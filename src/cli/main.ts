import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { DEV_PORT } from '../dispatcher/dev-defaults.js';
import { EXIT } from './exit-codes.js';
import { UsageError } from './usage-error.js';
import { VERSION } from './version.js';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

function nonNegativeNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0, got ${JSON.stringify(value)}`);
    return n;
  };
}

const configOption = () => new Option('-c, --config <path>', 'config file (default: ./openrtc.config.ts)');
const socketOption = () => new Option('--socket <path>', "the worker's control socket (default: found automatically)");
const logFormatOption = () =>
  new Option('--log-format <format>', 'log line format').choices(['json', 'pretty']).default('json');

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command()
    .name('openrtc')
    .description('Host many tenants\' LiveKit voice agents in one worker process.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('start')
    .description('run the worker against a LiveKit server (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET)')
    .addOption(configOption())
    .addOption(logFormatOption())
    .option('--log-level <level>', 'pino log level', 'info')
    .action(async (opts) => {
      const { runWorkerCommand } = await import('./commands/worker.js');
      setExit(await runWorkerCommand({ ...opts, dev: false }));
    });

  program
    .command('dev')
    .description('run the worker; without LIVEKIT_URL it also serves a local dispatcher, so everything runs on this machine')
    .addOption(configOption())
    .addOption(logFormatOption().default('pretty'))
    .option('--log-level <level>', 'pino log level', 'info')
    .option('--port <port>', 'local dispatcher port', positiveInt('--port'), DEV_PORT)
    .action(async (opts) => {
      const { runWorkerCommand } = await import('./commands/worker.js');
      setExit(await runWorkerCommand({ ...opts, dev: true }));
    });

  program
    .command('dispatch')
    .description('dispatch jobs with tenant metadata (to the local dispatcher, or to LIVEKIT_URL)')
    .requiredOption('--agent <name>', 'agent name to dispatch to')
    .option('--tenant <tenant>', 'tenant id, sent as the "tenant" metadata key')
    .option('--count <n>', 'number of jobs', positiveInt('--count'), 1)
    .option('--metadata <json>', 'extra job metadata (a JSON object)')
    .option('--duration <seconds>', 'how long each demo session stays up', nonNegativeNumber('--duration'))
    .option('--dialed-number <number>', 'dialed phone number, sent as the "dialed_number" metadata key')
    .option('--url <url>', 'LiveKit or local dispatcher URL (default: LIVEKIT_URL, else http://127.0.0.1:7880)')
    .option('--json', 'print results as JSON')
    .action(async (opts) => {
      const { dispatchCommand } = await import('./commands/dispatch.js');
      setExit(await dispatchCommand(opts));
    });

  program
    .command('top')
    .description('live view of a running worker: tenants, sessions, breakers, loop lag')
    .addOption(socketOption())
    .option('--tenant <tenant>', 'show only this tenant')
    .option('--sort <key>', 'sort sessions by: age, cpu, tenant, state, agent')
    .option('--status <state>', 'show only sessions in this state: starting, active, closing')
    .option('--refresh-rate <hz>', 'refreshes per second (0.5 to 10)', '1')
    .option('--once', 'print one plain-text frame and exit')
    .option('--json', 'print the raw snapshot as JSON and exit')
    .action(async (opts) => {
      const { topCommand } = await import('./commands/top.js');
      setExit(await topCommand(opts));
    });

  const tenant = program.command('tenant').description('inspect and control tenants on the live worker');
  tenant
    .command('list')
    .description('tenants with active/cap, rejections, failures and breaker state')
    .addOption(socketOption())
    .option('--json', 'print JSON')
    .action(async (opts) => setExit(await (await import('./commands/tenant.js')).tenantList(opts)));
  tenant
    .command('show <tenant>')
    .description('one tenant in full: counters, breaker, cap, config source and cache age')
    .addOption(socketOption())
    .option('--json', 'print JSON')
    .action(async (id, opts) => setExit(await (await import('./commands/tenant.js')).tenantShow(id, opts)));
  tenant
    .command('cap <tenant> [n]')
    .description("change a tenant's session cap live (--clear restores the configured cap)")
    .addOption(socketOption())
    .option('--clear', 'remove the runtime override')
    .action(async (id, n, opts) => setExit(await (await import('./commands/tenant.js')).tenantCap(id, n, opts)));
  tenant
    .command('trip <tenant>')
    .description("open a tenant's circuit breaker by hand (new sessions rejected with breaker_open)")
    .addOption(socketOption())
    .option('--for <duration>', 'how long, e.g. 90s, 10m, 1h (default: the configured cooldown)')
    .action(async (id, opts) => setExit(await (await import('./commands/tenant.js')).tenantTrip(id, opts)));
  tenant
    .command('reset <tenant>')
    .description("close a tenant's circuit breaker")
    .addOption(socketOption())
    .action(async (id, opts) => setExit(await (await import('./commands/tenant.js')).tenantReset(id, opts)));
  tenant
    .command('reload [tenant]')
    .description("drop a tenant's cached config (or --all); the next session loads it fresh")
    .addOption(socketOption())
    .option('--all', 'every tenant')
    .action(async (id, opts) => setExit(await (await import('./commands/tenant.js')).tenantReload(id, opts)));

  program
    .command('drain')
    .description('stop accepting jobs, let live sessions finish (up to --timeout), then exit the worker')
    .addOption(socketOption())
    .option('--timeout <seconds>', 'how long to wait for live sessions', nonNegativeNumber('--timeout'))
    .option('--no-wait', 'return once draining has started')
    .action(async (opts) => setExit(await (await import('./commands/drain.js')).drainCommand(opts)));

  program
    .command('config')
    .description('config of the live worker')
    .command('reload')
    .description('re-read the config file on the live worker (same as SIGHUP); an invalid file is refused')
    .addOption(socketOption())
    .action(async (opts) => setExit(await (await import('./commands/config.js')).configReload(opts)));

  return program;
}

/** Runs the CLI and returns the exit code; never throws for bad input or a missing worker. */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its message.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`openrtc: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`openrtc: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failure;
  }
}
