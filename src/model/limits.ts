// Bounds on untrusted input, in a module of their own so the hook program can
// check them without loading the XML parser (its start-up cost is paid on
// every VM start and stop).
import { InvalidInputError } from './errors.js';

/**
 * The largest domain definition vifd reads. A real one is a few kilobytes
 * (tens with many devices); parsing XML costs memory many times the text, so
 * anything larger is refused before it is parsed, wherever it comes from
 * (the hook, the control socket, vifctl plan and define).
 */
export const MAX_DOMAIN_XML_BYTES = 1024 * 1024;

export function tooLargeMessage(bytes: number | string): string {
  return `the domain definition is ${bytes} bytes; vifd reads at most ${MAX_DOMAIN_XML_BYTES} (1 MiB)`;
}

/** Refuses a definition over MAX_DOMAIN_XML_BYTES (checked before any parsing). */
export function assertDomainXmlSize(xml: string): void {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most inputs are decided without counting.
  if (xml.length * 3 <= MAX_DOMAIN_XML_BYTES) return;
  const bytes = Buffer.byteLength(xml, 'utf8');
  if (bytes > MAX_DOMAIN_XML_BYTES) throw new InvalidInputError(tooLargeMessage(bytes), { field: 'domain XML' });
}
