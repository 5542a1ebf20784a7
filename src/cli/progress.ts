// A one-line progress indicator for people at a terminal while vifctl waits
// (hot-plug waits on libvirt and the guest). Redrawn in place with \r; erased
// before the result is printed, so what stays on screen is only the result.
// Callers enable it only when stdout is a TTY and never with --json.

/** "attaching: waiting for vifd (3 s)". */
export function progressText(label: string, elapsedMs: number): string {
  return `${label}: waiting for vifd (${Math.floor(elapsedMs / 1000)} s)`;
}

export const CLEAR_LINE = '\r\x1b[K';

export interface ProgressOptions {
  readonly write: (text: string) => void;
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/** Starts drawing; the returned function erases the line and stops. */
export function startProgress(label: string, options: ProgressOptions): () => void {
  const now = options.now ?? Date.now;
  const started = now();
  const draw = (): void => { options.write(`${CLEAR_LINE}${progressText(label, now() - started)}`); };
  draw();
  const timer = setInterval(draw, options.intervalMs ?? 1000);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    options.write(CLEAR_LINE);
  };
}
