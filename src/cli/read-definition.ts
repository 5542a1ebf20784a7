// Reads a domain definition file for vifctl plan/define, bounded: a file over
// MAX_DOMAIN_XML_BYTES is refused from its size alone, and a pipe is read only
// up to one byte past the bound, so a hostile 100 MB input costs nothing.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InvalidInputError } from '../model/errors.js';
import { MAX_DOMAIN_XML_BYTES, tooLargeMessage } from '../model/limits.js';

const CHUNK_BYTES = 64 * 1024;

export function readDefinitionFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > MAX_DOMAIN_XML_BYTES) {
      throw new InvalidInputError(`${path}: ${tooLargeMessage(stat.size)}`, { field: 'domain XML' });
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(CHUNK_BYTES);
      const read = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (read === 0) break;
      total += read;
      if (total > MAX_DOMAIN_XML_BYTES) throw new InvalidInputError(`${path}: ${tooLargeMessage(`over ${MAX_DOMAIN_XML_BYTES}`)}`, { field: 'domain XML' });
      chunks.push(chunk.subarray(0, read));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
