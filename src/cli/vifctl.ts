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

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'events': {
      let options;
      try {
        options = parseEventsArgs(rest);
      } catch (error) {
        process.stderr.write(`vifctl events: ${(error as Error).message}\n${EVENTS_USAGE}\n`);
        return 2;
      }
      const stop = Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      return runEvents(options, process.stdout, stop);
    }
    case 'plan': {
      let options;
      try {
        options = parsePlanArgs(rest);
      } catch (error) {
        process.stderr.write(`vifctl plan: ${(error as Error).message}\n${PLAN_USAGE}\n`);
        return 2;
      }
      return runPlan(options, (line) => process.stdout.write(`${line}\n`), (line) => process.stderr.write(`${line}\n`));
    }
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
