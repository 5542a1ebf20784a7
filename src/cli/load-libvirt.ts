// The libvirt binding loads libvirt.so.0 when its module is imported, so the
// commands that need libvirt (define, events) import it here, when they run:
// every other command, and --help, works on a host without libvirt.
import { VifdError } from '../model/errors.js';

/** libvirt.so.0 (or the binding) could not be loaded on this host. */
export class LibvirtUnavailableError extends VifdError {
  readonly code = 'libvirt-unavailable';
}

export async function loadLibvirt(): Promise<typeof import('../libvirt/connection.js')> {
  try {
    return await import('../libvirt/connection.js');
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error);
    throw new LibvirtUnavailableError(`cannot load libvirt's library (libvirt.so.0, Debian package libvirt0): ${detail}`, {}, { cause: error });
  }
}
