// The help vifd and vifctl print for --help (to stdout, exit 0) and, for a
// usage error, to stderr with exit 2. One place, so every subcommand has one.

const COMMON = `      --config FILE   the host config (default /etc/vifd/vifd.yaml; if that file
                      does not exist, the built-in defaults)
      --json          one JSON document (events: one per line) instead of text
  -h, --help          this help`;
const SOCKET = '      --socket PATH   the control socket (default: control_socket from the config)';

export const VIFCTL_HELP: Readonly<Record<string, string>> = {
  status: `usage: vifctl status [DOMAIN] [--state STATE[,STATE...]] [--config FILE] [--socket PATH] [--json]
Every VIF on this host with its state, as the daemon sees it.
  DOMAIN              only this VM's VIFs (name or UUID)
      --state STATES  only VIFs in these states: ok, drift, missing, orphan, detaching
                      (comma-separated or repeated)
${SOCKET}
${COMMON}`,
  info: `usage: vifctl info [--config FILE] [--socket PATH] [--json]
The daemon's version and uptime, its libvirt and OVSDB connections, and each
configured network with whether its bridge exists.
${SOCKET}
${COMMON}`,
  gc: `usage: vifctl gc [--dry-run] [--config FILE] [--socket PATH] [--json]
Removes VIFs whose VM is gone or not running (orphans).
      --dry-run       list them, remove nothing
${SOCKET}
${COMMON}`,
  attach: `usage: vifctl attach DOMAIN --network NAME [--mac MAC] [--vlan TAG] [--config FILE] [--socket PATH] [--json]
Hot-plugs a VIF into a running VM: next free index, deterministic MAC, the VIF
limit; TAP and port first, then libvirt; a refusal rolls everything back.
      --network NAME  a network of the host config
      --mac MAC       instead of the derived MAC
      --vlan TAG      an access VLAN instead of the network's
${SOCKET}
${COMMON}`,
  detach: `usage: vifctl detach DOMAIN (--index N | --mac MAC) [--config FILE] [--socket PATH] [--json]
Hot-unplugs a VIF; its TAP and port go once the guest has released it.
      --index N       the VIF's index
      --mac MAC       the VIF's MAC
${SOCKET}
${COMMON}`,
  plan: `usage: vifctl plan DOMAIN.xml [--config FILE] [--json]
What vifd would make for a VM's VIFs (dry run: touches nothing, needs no daemon
and no libvirt). Exit 0 planned, 1 refused.
${COMMON}`,
  define: `usage: vifctl define DOMAIN.xml [--config FILE] [--uri URI] [--socket PATH] [--print] [--json]
Renders the VM's VIFs into its definition (the VIF limit applies) and defines it
with libvirt. A VIF on an SR-IOV network without a recorded VF gets one chosen
by the running vifd (recorded as vf=, held for nobody until the VM starts);
without a daemon answering that is exit 3.
      --uri URI       the libvirt connection (default: libvirt.uri from the config)
      --print         print the rendered XML, define nothing (needs no libvirt)
${SOCKET}
${COMMON}`,
  events: `usage: vifctl events [--config FILE] [--uri URI] [--json]
Prints every domain event libvirt reports, until interrupted.
      --uri URI       the libvirt connection (default: libvirt.uri from the config)
${COMMON}`,
};

export const VIFCTL_USAGE = `usage: vifctl <command> [options]     (vifctl <command> --help for its options)
commands:
  status [DOMAIN] [--state STATE]   every VIF on this host with its state (asks the daemon)
  info                              daemon version, uptime, connections, networks and bridges
  gc [--dry-run]                    remove VIFs whose VM is gone or not running
  attach DOMAIN --network NAME      hot-plug a VIF into a running VM
  detach DOMAIN (--index N | --mac MAC)
                                    hot-unplug a VIF; TAP and port go once the guest releases it
  plan DOMAIN.xml                   what vifd would make for a VM's VIFs (dry run)
  define DOMAIN.xml [--print]       render the VM's VIFs into its definition and define it
  events                            print every domain event until interrupted
options for every command: --config FILE, --json, --help
  -V, --version                     print vifctl's version
exit status: 0 done, 1 refused or failed, 2 usage, 3 the daemon is not running`;

export const VIFD_HELP = `usage: vifd [--config FILE]
       vifd --check-config [FILE]
The VIF daemon: owns the TAPs and Open vSwitch ports of libvirt guests' VIFs.
      --config FILE         the host config (default /etc/vifd/vifd.yaml); vifd
                            refuses to start without one (exit 78)
      --check-config [FILE] check the config (FILE, else --config's, else the
                            default), print every error, start nothing;
                            exit 0 valid, 78 invalid
  -V, --version             print vifd's version
  -h, --help                this help
signals: SIGTERM/SIGINT stop (VIFs stay as they are), SIGHUP re-reads the config.
Under systemd (Type=notify) vifd reports READY=1 and watchdog pings.`;

/** --help or -h anywhere before a "--" asks for help, whatever else is there. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}
