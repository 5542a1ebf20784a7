#!/usr/bin/env node
// vifctl: the operator's command line. Every subcommand takes --help (stdout,
// exit 0), --config FILE and --json; usage errors exit 2. Only define and
// events load the libvirt binding, and only when they run.
import { once } from 'node:events';
import { parseGcArgs, runGc } from './daemon-calls.js';
import type { Output } from './daemon-calls.js';
import { parseDefineArgs, runDefine } from './define.js';
import { parseEventsArgs, runEvents } from './events.js';
import { VIFCTL_HELP, VIFCTL_USAGE, wantsHelp } from './help.js';
import { parseAttachArgs, parseDetachArgs, runAttach, runDetach } from './hotplug.js';
import { parseInfoArgs, runInfo } from './info.js';
import { parsePlanArgs, runPlan } from './plan.js';
import { startProgress } from './progress.js';
import { parseStatusArgs, runStatus } from './status.js';
import { packageVersion } from '../daemon/version.js';

const io: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  // Only people at a terminal see it; a pipe or a file gets the result alone.
  ...(process.stdout.isTTY ? { progress: (label: string) => startProgress(label, { write: (text) => process.stdout.write(text) }) } : {}),
};

type Command = (argv: readonly string[]) => Promise<number> | number;

/** Parses a subcommand's arguments; a usage error prints the help to stderr and exits 2. */
function command<O>(parse: (argv: readonly string[]) => O, execute: (options: O) => Promise<number> | number): (name: string) => Command {
  return (name) => (argv) => {
    let options: O;
    try {
      options = parse(argv);
    } catch (error) {
      process.stderr.write(`vifctl ${name}: ${error instanceof Error ? error.message : String(error)}\n${VIFCTL_HELP[name] ?? ''}\n`);
      return 2;
    }
    return execute(options);
  };
}

const COMMANDS: Readonly<Record<string, (name: string) => Command>> = {
  status: command(parseStatusArgs, (options) => runStatus(options, io)),
  info: command(parseInfoArgs, (options) => runInfo(options, io, packageVersion())),
  gc: command(parseGcArgs, (options) => runGc(options, io)),
  attach: command(parseAttachArgs, (options) => runAttach(options, io)),
  detach: command(parseDetachArgs, (options) => runDetach(options, io)),
  plan: command(parsePlanArgs, (options) => runPlan(options, io.out, io.err)),
  define: command(parseDefineArgs, (options) => runDefine(options, io.out, io.err)),
  events: command(parseEventsArgs, (options) =>
    runEvents(options, process.stdout, Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]))),
};

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '-V' || name === '--version') {
    process.stdout.write(`vifctl ${packageVersion()}\n`);
    return 0;
  }
  if (name === '-h' || name === '--help') {
    process.stdout.write(`${VIFCTL_USAGE}\n`);
    return 0;
  }
  if (name === undefined) {
    process.stderr.write(`${VIFCTL_USAGE}\n`);
    return 2;
  }
  const make = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (make === undefined) {
    process.stderr.write(`vifctl: unknown command ${JSON.stringify(name)}\n${VIFCTL_USAGE}\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(`${VIFCTL_HELP[name] ?? VIFCTL_USAGE}\n`);
    return 0;
  }
  return make(name)(rest);
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
  process.stderr.write(`vifctl: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
