// The lab's host config at the path vifd reads by default, so the systemd
// unit and the libvirt hook need no extra flags. `make install` writes no
// config there, so the lab writes its own where there is none and replaces
// only its own (marker on the first line); any other file is an operator's
// and is never overwritten, nor removed by make lab-down.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CONFIG_MARKER, CONFIG_PATH, configText } from './topology.js';
import { LabError, say } from './output.js';

const hasMarker = (text: string): boolean => text.split('\n', 1)[0]?.trimEnd() === CONFIG_MARKER;

/** Who wrote the file now at CONFIG_PATH. */
export function configOwner(): 'absent' | 'lab' | 'operator' {
  if (!existsSync(CONFIG_PATH)) return 'absent';
  return hasMarker(readFileSync(CONFIG_PATH, 'utf8')) ? 'lab' : 'operator';
}

export function writeLabConfig(): void {
  const owner = configOwner();
  if (owner === 'operator') {
    // An older make install put the example there; it is no longer told apart from an operator's copy of it.
    throw new LabError(`${CONFIG_PATH} is not the lab's (its first line is not "${CONFIG_MARKER}"): ` +
      'it looks like an operator\'s config, and the lab never overwrites one. Move it aside (and put it back ' +
      'after make lab-down), or delete it if it is the example an older make install put there, then run make lab again.');
  }
  mkdirSync(dirname(CONFIG_PATH), { recursive: true });
  // Renamed into place: a vifd or hook reading it meanwhile sees one whole file.
  const temporary = `${CONFIG_PATH}.vifd-lab.tmp`;
  writeFileSync(temporary, configText(), { mode: 0o640 });
  renameSync(temporary, CONFIG_PATH);
  const was = owner === 'absent' ? 'there was none' : 'replacing the previous lab config';
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
