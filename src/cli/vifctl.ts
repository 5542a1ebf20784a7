#!/usr/bin/env node
// vifctl: the operator's command line. Subcommands arrive with the daemon
// (status, plan, attach, detach, gc); `events` talks to libvirt directly.
import { once } from 'node:events';
import { EVENTS_USAGE, parseEventsArgs, runEvents } from './events.js';
import { PLAN_USAGE, parsePlanArgs, runPlan } from './plan.js';

const USAGE = `usage: vifctl <command> [options]
commands:
  plan DOMAIN.xml [--config FILE] [--json]   what vifd would make for a VM's VIFs (dry run)
  events [--uri URI] [--json]                print every domain event until interrupted`;

/** Parses a subcommand's arguments; a usage error prints the usage and exits 2. */
async function withArgs<O>(name: string, usage: string, parse: (argv: readonly string[]) => O, argv: readonly string[],
  execute: (options: O) => Promise<number> | number): Promise<number> {
  let options: O;
  try {
    options = parse(argv);
  } catch (error) {
    process.stderr.write(`vifctl ${name}: ${error instanceof Error ? error.message : String(error)}\n${usage}\n`);
    return 2;
  }
  return execute(options);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'events':
      return withArgs('events', EVENTS_USAGE, parseEventsArgs, rest, (options) =>
        runEvents(options, process.stdout, Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])));
    case 'plan':
      return withArgs('plan', PLAN_USAGE, parsePlanArgs, rest, (options) =>
        runPlan(options, (line) => process.stdout.write(`${line}\n`), (line) => process.stderr.write(`${line}\n`)));
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`vifctl: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`vifctl: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
