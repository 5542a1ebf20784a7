# bash completion for vifctl(8): subcommands, their options, files where a
# file is expected, the states for status --state and, for status, attach and
# detach, the names of libvirt's domains.
# Installed as /usr/share/bash-completion/completions/vifctl.

_vifctl_domains() {
  # Bounded: a completion must never hang on an unreachable libvirtd.
  command -v virsh >/dev/null 2>&1 || return 0
  timeout 2 virsh -q list --all --name 2>/dev/null
}

_vifctl() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi

  local commands='status info gc attach detach plan define events'
  if [ "$cword" -eq 1 ]; then
    mapfile -t COMPREPLY < <(compgen -W "$commands --help" -- "$cur")
    return 0
  fi

  local command=${words[1]} options
  case $command in
    status) options='--config --json --socket --state' ;;
    info) options='--config --json --socket' ;;
    gc) options='--config --dry-run --json --socket' ;;
    attach) options='--config --json --mac --network --socket --vlan' ;;
    detach) options='--config --index --json --mac --socket' ;;
    plan) options='--config --json' ;;
    define) options='--config --json --print --socket --uri' ;;
    events) options='--config --json --uri' ;;
    *) return 0 ;;
  esac

  case $prev in
    --config | --socket)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      compopt -o filenames 2>/dev/null
      return 0 ;;
    --state)
      # Comma-separated: complete the state after the last comma.
      local typed=${cur%"${cur##*,}"}
      mapfile -t COMPREPLY < <(compgen -P "$typed" -W 'ok drift missing orphan detaching' -- "${cur##*,}")
      return 0 ;;
    --network | --mac | --vlan | --index | --uri)
      return 0 ;;
  esac

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    return 0
  fi
  case $command in
    plan | define)
      mapfile -t COMPREPLY < <(compgen -f -X '!*.xml' -- "$cur"; compgen -d -- "$cur")
      compopt -o filenames 2>/dev/null ;;
    status | attach | detach)
      mapfile -t COMPREPLY < <(compgen -W "$(_vifctl_domains)" -- "$cur") ;;
  esac
  return 0
}

complete -F _vifctl vifctl
