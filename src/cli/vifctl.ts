#!/usr/bin/env node
// vifctl: the operator's command line. Subcommands arrive with the daemon
// (status, plan, attach, detach, gc); `events` talks to libvirt directly.
import { once } from 'node:events';
import { GC_USAGE, STATUS_USAGE, parseDaemonCallArgs, runGc, runStatus } from './daemon-calls.js';
import { DEFINE_USAGE, parseDefineArgs, runDefine } from './define.js';
import { ATTACH_USAGE, DETACH_USAGE, parseAttachArgs, parseDetachArgs, runAttach, runDetach } from './hotplug.js';
import { EVENTS_USAGE, parseEventsArgs, runEvents } from './events.js';
import { PLAN_USAGE, parsePlanArgs, runPlan } from './plan.js';

const USAGE = `usage: vifctl <command> [options]
commands:
  status [--json]                            every VIF on this host with its state (asks the daemon)
  gc [--dry-run] [--json]                    remove VIFs whose VM is gone or not running
  attach DOMAIN --network NAME [--mac MAC] [--vlan TAG] [--json]
                                             hot-plug a VIF into a running VM
  detach DOMAIN (--index N | --mac MAC) [--json]
                                             hot-unplug a VIF; TAP and port go once the guest releases it
  plan DOMAIN.xml [--config FILE] [--json]   what vifd would make for a VM's VIFs (dry run)
  define DOMAIN.xml [--config FILE] [--uri URI] [--print] [--json]
                                             render the VM's VIFs into its definition and define it
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

const io = { out: (line: string) => process.stdout.write(`${line}\n`), err: (line: string) => process.stderr.write(`${line}\n`) };

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'events':
      return withArgs('events', EVENTS_USAGE, parseEventsArgs, rest, (options) =>
        runEvents(options, process.stdout, Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])));
    case 'status':
      return withArgs('status', STATUS_USAGE, (args) => parseDaemonCallArgs(args, false), rest, (options) => runStatus(options, io));
    case 'gc':
      return withArgs('gc', GC_USAGE, (args) => parseDaemonCallArgs(args, true), rest, (options) => runGc(options, io));
    case 'define':
      return withArgs('define', DEFINE_USAGE, parseDefineArgs, rest, (options) => runDefine(options, io.out, io.err));
    case 'attach':
      return withArgs('attach', ATTACH_USAGE, parseAttachArgs, rest, (options) => runAttach(options, io));
    case 'detach':
      return withArgs('detach', DETACH_USAGE, parseDetachArgs, rest, (options) => runDetach(options, io));
    case 'plan':
      return withArgs('plan', PLAN_USAGE, parsePlanArgs, rest, (options) =>
        runPlan(options, io.out, io.err));
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
