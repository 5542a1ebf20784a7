// One p-queue per domain: a domain's work runs one job at a time, different
// domains in parallel (design invariant 3). A queue exists only while it has work.
import PQueue from 'p-queue';

export class DomainQueues {
  private readonly queues = new Map<string, PQueue>();

  /** Runs `work` after the domain's earlier work, before its later work. */
  async run<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    let queue = this.queues.get(uuid);
    if (queue === undefined) {
      queue = new PQueue({ concurrency: 1 });
      this.queues.set(uuid, queue);
    }
    try {
      return await queue.add(work);
    } finally {
      if (queue.size === 0 && queue.pending === 0) this.queues.delete(uuid);
    }
  }

  /** Whether the domain has work queued or running. */
  busy(uuid: string): boolean {
    return this.queues.has(uuid);
  }

  /** Resolves when no domain has work queued or running. */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()].map((queue) => queue.onIdle()));
  }
}
