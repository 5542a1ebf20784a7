import { VifdError } from '../model/errors.js';

/** A kernel or switch operation failed; `detail` names the call and errno. */
export class HostOperationError extends VifdError {
  readonly code = 'host-operation';
}

/** The name is taken by something vifd must not change (another kind of device, other flags). */
export class DeviceConflictError extends VifdError {
  readonly code = 'device-conflict';
}
