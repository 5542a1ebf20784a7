// The line protocol between the e2e test (host) and the agent in the SR-IOV
// test guest: one JSON object per line each way over a virtio-serial port.
// The agent says hello first; then each request gets one response, in order.

/** The virtio-serial port's name (QEMU virtserialport name=, /sys/class/virtio-ports/<port>/name). */
export const AGENT_PORT_NAME = 'vifd.agent';

export interface AgentRequest {
  readonly id: number;
  readonly op: string;
  readonly args: Record<string, unknown>;
}

/** A failure inside the guest as the host sees it: enough to assert on its type and its errno. */
export interface AgentErrorReport {
  /** The class name (VfNetlinkError, SriovSysfsError, VfReadBackError...). */
  readonly name: string;
  readonly message: string;
  /** VifdError's code (sriov-netlink...) or a Node error code (EBUSY...). */
  readonly code?: string;
  readonly errno?: number;
  /** VfNetlinkError.isUnsupported: the PF driver has no operation for the attribute. */
  readonly isUnsupported?: boolean;
  readonly location?: unknown;
}

export type AgentResponse =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: AgentErrorReport };

/** The agent's first line (id 0). */
export interface AgentHello {
  readonly node: string;
  readonly kernel: string;
  readonly uptimeSeconds: number;
}
