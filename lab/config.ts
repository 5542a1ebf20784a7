// The lab's host config at the path vifd reads by default, so the systemd
// unit and the libvirt hook need no extra flags. An operator's config is never
// overwritten: the lab replaces only its own file (marker on the first line)
// or the untouched example `make install` left there.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CONFIG_MARKER, CONFIG_PATH, EXAMPLE_CONFIG, configText } from './topology.js';
import { LabError, say } from './output.js';

const hasMarker = (text: string): boolean => text.split('\n', 1)[0]?.trimEnd() === CONFIG_MARKER;

/** Who wrote the file now at CONFIG_PATH. */
export function configOwner(): 'absent' | 'lab' | 'example' | 'operator' {
  if (!existsSync(CONFIG_PATH)) return 'absent';
  const text = readFileSync(CONFIG_PATH, 'utf8');
  if (hasMarker(text)) return 'lab';
  // Byte for byte: an example the operator edited even slightly is theirs.
  return text === readFileSync(EXAMPLE_CONFIG, 'utf8') ? 'example' : 'operator';
}

export function writeLabConfig(): void {
  const owner = configOwner();
  if (owner === 'operator') {
    throw new LabError(`${CONFIG_PATH} is not the lab's (its first line is not "${CONFIG_MARKER}") and differs from ` +
      `the example make install puts there: it looks like an operator's config, and the lab never overwrites one. ` +
      'Move it aside (and put it back after make lab-down), then run make lab again.');
  }
  mkdirSync(dirname(CONFIG_PATH), { recursive: true });
  // Renamed into place: a vifd or hook reading it meanwhile sees one whole file.
  const temporary = `${CONFIG_PATH}.vifd-lab.tmp`;
  writeFileSync(temporary, configText(), { mode: 0o640 });
  renameSync(temporary, CONFIG_PATH);
  const was = { absent: 'there was none', lab: 'replacing the previous lab config', example: 'replacing the example make install put there' }[owner];
  say(`wrote ${CONFIG_PATH} (${was}): networks v100 and v200 on the bridge, metrics on 127.0.0.1:9477`);
}

/** Removes the config only when the lab wrote it; returns what happened. */
export function removeLabConfig(): string {
  const owner = configOwner();
  if (owner === 'lab') {
    rmSync(CONFIG_PATH, { force: true });
    return `removed ${CONFIG_PATH}`;
  }
  return owner === 'absent' ? `${CONFIG_PATH} already gone` : `kept ${CONFIG_PATH} (not written by the lab)`;
}
