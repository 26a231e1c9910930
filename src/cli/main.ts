import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { DEV_PORT } from '../dispatcher/dev-defaults.js';
import { EXIT_GRACE_MS } from '../runtime/exit-after-stop.js';
import { knownSecrets } from '../secrets/known-secrets.js';
import { EXIT } from '../protocol/exit-codes.js';
import { UsageError } from './usage-error.js';
import { VERSION } from '../runtime/version.js';
import { errorMessage } from '../errors/describe-error.js';
import { DEFAULT_KEY_PREFIX, REDIS_URL_ENV } from '../store/redis-keys.js';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new InvalidArgumentError(
        `${name} must be a positive integer, got ${JSON.stringify(value)}`,
      );
    return n;
  };
}

function workerCount(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(
      `--workers must be a positive integer or "auto", got ${JSON.stringify(value)}`,
    );
  return n;
}

function redisUrl(value: string): string {
  if (!/^rediss?:\/\/./.test(value))
    throw new InvalidArgumentError('--redis: expected a redis:// or rediss:// URL');
  return value;
}

function nonNegativeNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a number >= 0, got ${JSON.stringify(value)}`);
    return n;
  };
}

const configOption = () =>
  new Option('-c, --config <path>', 'config file (default: ./openrtc.config.ts)');
const socketOption = () =>
  new Option(
    '--socket <path>',
    "the worker's control socket (default: the one worker whose socket is in $OPENRTC_RUNTIME_DIR)",
  );
const logFormatOption = () =>
  new Option('--log-format <format>', 'log line format')
    .choices(['json', 'pretty'])
    .default('json');
const frameworkLogLevelOption = () =>
  new Option(
    '--framework-log-level <level>',
    "level of @livekit/agents' and its plugins' lines (never below --log-level)",
  )
    .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('warn');

/** One or two lines a person can copy, shown at the end of a command's --help. */
function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`);
}

/** `--fleet` and where the fleet's Redis is: the same three flags wherever the fleet is read or acted on. */
function fleetOptions(cmd: Command, fleet: string): Command {
  return cmd
    .option('--fleet', fleet)
    .option('--redis <url>', `with --fleet: the fleet's Redis (default: $${REDIS_URL_ENV})`)
    .option('--key-prefix <prefix>', "with --fleet: the fleet's key prefix", DEFAULT_KEY_PREFIX);
}

const FLEET_ACTION =
  'act on every worker of the fleet, through Redis (no socket needed; caps reach each worker at its next lease renewal)';

const WORKER_SOCKET_NOTE =
  '\nThe worker is found through its control socket in $OPENRTC_RUNTIME_DIR (else $XDG_RUNTIME_DIR/openrtc,\nelse <tmpdir>/openrtc-<uid>); with several workers running, pick one with --socket.';

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command()
    .name('openrtc')
    .description("Host many tenants' LiveKit voice agents in one worker process.")
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program.addHelpText('after', WORKER_SOCKET_NOTE);
  examples(program, [
    'openrtc dev',
    'openrtc dispatch --agent demo --tenant acme --count 5 --duration 60',
  ]);

  /** `start` and `dev`: the same worker; `dev` adds the local dispatcher. */
  const workerCommand = (
    name: 'start' | 'dev',
    description: string,
    logFormat: 'json' | 'pretty',
  ) =>
    program
      .command(name)
      .description(description)
      .addOption(configOption())
      .addOption(logFormatOption().default(logFormat))
      .option('--log-level <level>', 'pino log level', 'info')
      .addOption(frameworkLogLevelOption())
      .option(
        '--redis <url>',
        "this run's fleet store: caps, breakers and controls shared through the Redis at URL (overrides tenants.store)",
        redisUrl,
      )
      .option(
        '--workers <n|auto>',
        'run a supervisor that keeps N workers serving (auto: one per core); N > 1 needs a shared store',
        workerCount,
      )
      .addHelpText(
        'after',
        '\nSIGTERM or SIGINT drains (a second one exits at once, with 1); SIGHUP reloads the config.\n' +
          `Once stopped, the process exits within ${EXIT_GRACE_MS / 1000} s: 0 when every session ended by itself, 1 when the\n` +
          'drain timeout closed some, 75 when a recycle condition fired (a fresh process should take over).\n' +
          "With --workers, the supervisor restarts a worker that exits, starts a recycling worker's replacement\n" +
          'before it stops accepting, and passes SIGTERM and SIGHUP to every worker.',
      )
      .action(async (opts) => {
        const dev = name === 'dev';
        if (opts.workers !== undefined) {
          const { runSupervisorCommand } = await import('./commands/supervise.js');
          setExit(await runSupervisorCommand({ ...opts, dev }));
          return;
        }
        const { runWorkerCommand } = await import('./commands/worker.js');
        setExit(await runWorkerCommand({ ...opts, dev }));
      });

  examples(
    workerCommand(
      'start',
      'run the worker against a LiveKit server (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET)',
      'json',
    ),
    [
      'LIVEKIT_URL=wss://example.livekit.cloud openrtc start   # with LIVEKIT_API_KEY and LIVEKIT_API_SECRET set',
      'openrtc start --config ./openrtc.config.ts --log-format pretty',
    ],
  );

  examples(
    workerCommand(
      'dev',
      'run the worker; without LIVEKIT_URL it also serves a local dispatcher, so everything runs on this machine',
      'pretty',
    ).option(
      '--port <port>',
      'local dispatcher port (`openrtc dispatch` finds it through the worker)',
      positiveInt('--port'),
      DEV_PORT,
    ),
    ['openrtc dev', 'openrtc dev --port 7990 --log-format json'],
  );

  examples(
    program
      .command('dispatch')
      .description(
        "dispatch jobs with tenant metadata (to LIVEKIT_URL, or to the running dev worker's local dispatcher)",
      )
      .option(
        '--agent <name>',
        "agent name to dispatch to (default: none, LiveKit's automatic dispatch to the agent registered without a name)",
        '',
      )
      .option('--tenant <tenant>', 'tenant id, sent as the "tenant" metadata key')
      .option('--count <n>', 'number of jobs', positiveInt('--count'), 1)
      .option('--metadata <json>', 'extra job metadata (a JSON object)')
      .option(
        '--duration <seconds>',
        'how long each demo session stays up',
        nonNegativeNumber('--duration'),
      )
      .option(
        '--dialed-number <number>',
        'dialed phone number, sent as the "dialed_number" metadata key',
      )
      .option(
        '--url <url>',
        "LiveKit or local dispatcher URL (default: LIVEKIT_URL, else the running dev worker's dispatcher, else http://127.0.0.1:7880)",
      )
      .addOption(
        new Option(
          '--socket <path>',
          'with several dev workers running: the one whose local dispatcher to use',
        ),
      )
      .option(
        '--wait <seconds>',
        'how long to wait for each job to be taken (default 15)',
        positiveInt('--wait'),
      )
      .option('--json', 'print results as JSON')
      .addHelpText(
        'after',
        '\nExit status: 0 when every job was accepted; 1 when any was not (rejected, failed, no worker for\n' +
          'the agent, no answer in time: pending, or never assigned by LiveKit: unassigned), or the\n' +
          'dispatcher could not be reached; 2 for bad flags.',
      )
      .action(async (opts) => {
        const { dispatchCommand } = await import('./commands/dispatch.js');
        setExit(await dispatchCommand(opts));
      }),
    [
      'openrtc dispatch --agent demo --tenant acme --count 5 --duration 60',
      'openrtc dispatch --agent demo --tenant acme --metadata \'{"caller":"+15550100"}\' --json',
    ],
  );

  examples(
    fleetOptions(program.command('top'), 'the whole fleet, read from Redis (no socket needed)')
      .description(
        'live view of a running worker: tenants, sessions, breakers, loop lag (press ? for keys)',
      )
      .addOption(socketOption())
      .option('--tenant <tenant>', 'show only this tenant')
      .option('--sort <key>', 'sort sessions by: age, cpu, tenant, status, agent')
      .option('--status <status>', 'show only sessions in this status: starting, running, closing')
      .option('--refresh-rate <hz>', 'refreshes per second (0.5 to 10)', '1')
      .option(
        '--once',
        'print one plain-text frame and exit (also what a non-terminal stdout gets)',
      )
      .option('--json', 'print the raw snapshot as JSON and exit')
      .addHelpText('after', '\nNO_COLOR=1 turns colours and styles off.')
      .addHelpText(
        'after',
        '\nWith --fleet: per-tenant active/cap across the fleet, one row per worker (stopped heartbeats\n' +
          'marked), the store state and recent operator actions, read from Redis; --json prints that view.',
      )
      .action(async (opts) => {
        const { topCommand } = await import('./commands/top.js');
        setExit(await topCommand(opts));
      }),
    ['openrtc top --tenant acme', 'openrtc top --fleet --redis redis://127.0.0.1:6379'],
  );

  const tenant = examples(
    program.command('tenant').description('inspect and control tenants on the live worker'),
    ['openrtc tenant list', 'openrtc tenant trip initech --for 10m'],
  );
  examples(
    fleetOptions(tenant.command('list'), 'the whole fleet, read from Redis (no socket needed)')
      .description('tenants with live/cap, rejections, failures and breaker state')
      .addOption(socketOption())
      .option('--json', 'print JSON')
      .action(
        async (opts: {
          fleet?: boolean;
          json?: boolean;
          socket?: string;
          redis?: string;
          keyPrefix?: string;
        }) =>
          setExit(
            opts.fleet
              ? await (await import('./commands/fleet-view.js')).fleetTenantList(opts)
              : await (await import('./commands/tenant.js')).tenantList(opts),
          ),
      ),
    ['openrtc tenant list --json', 'openrtc tenant list --fleet --json'],
  );
  examples(
    tenant
      .command('show <tenant>')
      .description('one tenant in full: counters, breaker, cap, config source and cache age')
      .addOption(socketOption())
      .option('--json', 'print JSON')
      .action(async (id, opts) =>
        setExit(await (await import('./commands/tenant.js')).tenantShow(id, opts)),
      ),
    ['openrtc tenant show acme', 'openrtc tenant show acme --json'],
  );
  examples(
    fleetOptions(tenant.command('cap <tenant> [n]'), FLEET_ACTION)
      .description("change a tenant's session cap live (--clear restores the configured cap)")
      .addOption(socketOption())
      .option('--clear', 'remove the runtime override')
      .action(async (id, n, opts) =>
        setExit(await (await import('./commands/tenant.js')).tenantCap(id, n, opts)),
      ),
    ['openrtc tenant cap acme 20', 'openrtc tenant cap acme --clear --fleet'],
  );
  examples(
    fleetOptions(tenant.command('trip <tenant>'), FLEET_ACTION)
      .description(
        "open a tenant's circuit breaker by hand (new sessions rejected with breaker_open)",
      )
      .addOption(socketOption())
      .option('--for <duration>', 'how long, e.g. 90s, 10m, 1h (default: the configured cooldown)')
      .action(async (id, opts) =>
        setExit(await (await import('./commands/tenant.js')).tenantTrip(id, opts)),
      ),
    [
      'openrtc tenant trip initech --for 10m',
      'openrtc tenant trip initech --fleet --redis redis://10.0.0.5:6379',
    ],
  );
  examples(
    fleetOptions(tenant.command('reset <tenant>'), FLEET_ACTION)
      .description("close a tenant's circuit breaker")
      .addOption(socketOption())
      .action(async (id, opts) =>
        setExit(await (await import('./commands/tenant.js')).tenantReset(id, opts)),
      ),
    ['openrtc tenant reset initech', 'openrtc tenant reset initech --fleet'],
  );
  examples(
    fleetOptions(tenant.command('reload [tenant]'), FLEET_ACTION)
      .description(
        "drop a tenant's cached config, or every tenant's with --all; the next session loads it fresh",
      )
      .addOption(socketOption())
      .option('--all', 'every tenant')
      .action(async (id, opts) =>
        setExit(await (await import('./commands/tenant.js')).tenantReload(id, opts)),
      ),
    ['openrtc tenant reload acme', 'openrtc tenant reload --all --fleet'],
  );

  examples(
    program
      .command('drain')
      .description(
        'stop accepting jobs, let live sessions finish (up to --timeout), then exit the worker',
      )
      .addOption(socketOption())
      .option(
        '--timeout <seconds>',
        'how long to wait for live sessions',
        nonNegativeNumber('--timeout'),
      )
      .option('--no-wait', 'return once draining has started')
      .addHelpText('after', '\nWithout --no-wait it returns once the worker process has exited.')
      .action(async (opts) =>
        setExit(await (await import('./commands/drain.js')).drainCommand(opts)),
      ),
    ['openrtc drain --timeout 30', 'openrtc drain --no-wait'],
  );

  const config = examples(program.command('config').description('config of the live worker'), [
    'openrtc config reload',
  ]);
  examples(
    config
      .command('reload')
      .description(
        're-read the config file on the live worker (same as SIGHUP); an invalid file is refused',
      )
      .addOption(socketOption())
      .action(async (opts) =>
        setExit(await (await import('./commands/config.js')).configReload(opts)),
      ),
    ['openrtc config reload', 'kill -HUP <worker pid>'],
  );

  return program;
}

/** Runs the CLI and returns the exit code; never throws for bad input or a missing worker. */
export async function main(argv: string[]): Promise<number> {
  // Keys in secret-named variables are known from the start, so no error this process prints can echo one.
  knownSecrets.collectEnv(process.env);
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
    process.stderr.write(`openrtc: ${errorMessage(err)}\n`);
    return EXIT.failure;
  }
}
