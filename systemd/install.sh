#!/usr/bin/env bash
# Install (or remove) aim-agent as a systemd service. Idempotent: a second run changes nothing.
#
#   npm ci && npm run build && sudo systemd/install.sh      # on the drone, from a checkout
#   sudo systemd/install.sh --uninstall [--purge]
#   DESTDIR=/tmp/img PREFIX=/opt/aim-agent systemd/install.sh # staging tree (image build, packaging)
#
# Lays out:
#   the files of packaging/layout.sh (the same as the .deb's: the agent bundle, launcher, serialport's
#   binding, unit, sysusers/tmpfiles), with PREFIX=/opt/aim-agent and the system files under /usr/local:
#   /usr/local/bin/aim-agent      -> $PREFIX/bin/aim-agent
#   /usr/local/lib/systemd/system/aim-agent.service
#   /usr/local/lib/sysusers.d/aim-agent.conf, /usr/local/lib/tmpfiles.d/aim-agent.conf
#   /etc/aim-agent/agent.json     example settings, only when there is none (root:aim-agent 0640)
# On Debian-based systems prefer the .deb (npm run package): apt then upgrades and removes it.
# With DESTDIR empty (a real install, as root) it also creates the aim-agent user and directories
# and, when systemd is running, enables the service (and restarts it if it was running and changed).
set -euo pipefail
umask 022

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/aim-agent}
BINDIR=${BINDIR:-/usr/local/bin}
UNITDIR=${UNITDIR:-/usr/local/lib/systemd/system}
SYSUSERSDIR=${SYSUSERSDIR:-/usr/local/lib/sysusers.d}
TMPFILESDIR=${TMPFILESDIR:-/usr/local/lib/tmpfiles.d}
CONFDIR=/etc/aim-agent
STATEDIR=/var/lib/aim-agent
UNIT=aim-agent.service

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../packaging/layout.sh
. "$here/../packaging/layout.sh"
SOURCE=$(cd "$here/.." && pwd)
action=install
purge=0

usage() {
  cat <<EOF
usage: install.sh [--source DIR] | --uninstall [--purge]

  --source DIR   built checkout to install from (default: $SOURCE); needs dist/ (npm run build)
  --uninstall    stop, disable and remove the service and the app; keeps $CONFDIR and $STATEDIR
  --purge        with --uninstall: remove $CONFDIR and $STATEDIR too

environment: DESTDIR (staging root; nothing is enabled), PREFIX (default /opt/aim-agent),
  NODE (node binary for the launcher; default: the one on PATH, must be >= 20),
  BINDIR, UNITDIR, SYSUSERSDIR, TMPFILESDIR
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    --source) SOURCE=$(cd "${2:?--source needs a directory}" && pwd); shift 2 ;;
    --source=*) SOURCE=$(cd "${1#--source=}" && pwd); shift ;;
    --uninstall) action=uninstall; shift ;;
    --purge) purge=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }
# Temporary paths to remove however the script ends.
cleanup=()
trap 'for c in "${cleanup[@]}"; do rm -rf "$c"; done' EXIT
say() { echo "$*"; }

case $PREFIX in
  /*/*) ;; # at least two levels: never /, never /opt
  *) die "PREFIX must be an absolute path at least two levels deep (got '$PREFIX')" ;;
esac
[ "$purge" = 0 ] || [ "$action" = uninstall ] || die "--purge only goes with --uninstall"

real=0
[ -n "$DESTDIR" ] || real=1
if [ "$real" = 1 ] && [ "$(id -u)" != 0 ]; then
  die "a real install (DESTDIR empty) must run as root; use sudo, or set DESTDIR for a staging tree"
fi
systemd_up=0
[ "$real" = 1 ] && [ -d /run/systemd/system ] && systemd_up=1

target=$DESTDIR$PREFIX
changed=0

# put SRC DST MODE: install a file only when its content or mode differs; say what happened.
put() {
  local src=$1 dst=$2 mode=$3
  mkdir -p "$(dirname "$dst")"
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
    if [ "$(stat -c %a "$dst")" != "${mode#0}" ]; then chmod "$mode" "$dst"; say "mode:      $dst"; changed=1; fi
    return 0
  fi
  install -m "$mode" "$src" "$dst"
  say "installed: $dst"
  changed=1
}

# A tree's identity: types, modes, owners, names, link targets and file contents. Timestamps left out.
tree_sig() {
  (
    cd "$1"
    find . -printf '%y %m %U:%G %p -> %l\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  )
}

build_app() {
  [ -d "$SOURCE/node_modules/serialport" ] || die "$SOURCE/node_modules is missing: run 'npm ci' there first"
  # The file list is shared with the .deb (packaging/layout.sh). The serialport binding is this
  # machine's architecture (glibc and musl): build on the drone or on the same architecture.
  aim_stage_app "$1" "$SOURCE" "$NODE" "$PREFIX"
  # The service runs this code: it must not stay owned by whoever made the checkout.
  [ "$(id -u)" != 0 ] || chown -R 0:0 "$1"
}

install_app() {
  mkdir -p "$(dirname "$target")"
  local stage
  stage=$(mktemp -d "$(dirname "$target")/.aim-agent-stage.XXXXXX")
  cleanup+=("$stage" "$stage.old")
  build_app "$stage"
  if [ -d "$target" ] && [ "$(tree_sig "$stage")" = "$(tree_sig "$target")" ]; then
    rm -rf "$stage"
    say "unchanged: $target"
  else
    # Swap whole trees: a running agent keeps its open files; the next start sees only the new tree.
    local old=""
    if [ -e "$target" ]; then old="$stage.old"; mv "$target" "$old"; fi
    mv "$stage" "$target"
    [ -z "$old" ] || rm -rf "$old"
    say "installed: $target"
    changed=1
  fi
}

do_install() {
  [ -f "$SOURCE/dist/bundle/aim-agent.js" ] || die "$SOURCE/dist is missing or stale: run 'npm run build' first"
  [ -f "$SOURCE/package-lock.json" ] || die "$SOURCE/package-lock.json is missing"
  NODE=${NODE:-$(command -v node || true)}
  [ -n "$NODE" ] && [ -x "$NODE" ] || die "node not found: install Node.js 20 or later system-wide (or set NODE=/path/to/node)"
  "$NODE" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    die "$NODE is Node $("$NODE" -v); aim-agent needs Node 20 or later (Debian 12's own nodejs is 18: use NodeSource or an official build)"
  case $(readlink -f "$NODE") in
    /home/* | /root/*) echo "install.sh: warning: $NODE is under a home directory, which the service cannot see (ProtectHome=yes); install Node system-wide" >&2 ;;
  esac

  install_app

  local unit
  unit=$(mktemp)
  cleanup+=("$unit")
  aim_render_unit "$PREFIX" >"$unit"
  put "$unit" "$DESTDIR$UNITDIR/$UNIT" 0644
  put "$AIM_SYSUSERS_SRC" "$DESTDIR$SYSUSERSDIR/$AIM_CONF_NAME" 0644
  put "$AIM_TMPFILES_SRC" "$DESTDIR$TMPFILESDIR/$AIM_CONF_NAME" 0644

  local link=$DESTDIR$BINDIR/aim-agent
  if [ "$(readlink "$link" 2>/dev/null || true)" != "$PREFIX/bin/aim-agent" ]; then
    mkdir -p "$(dirname "$link")"
    ln -sfn "$PREFIX/bin/aim-agent" "$link"
    say "installed: $link -> $PREFIX/bin/aim-agent"
    changed=1
  fi

  if [ "$real" = 1 ]; then
    # The user and the directories, now rather than at next boot (both tools are idempotent).
    systemd-sysusers "$SYSUSERSDIR/aim-agent.conf"
    systemd-tmpfiles --create "$TMPFILESDIR/aim-agent.conf"
  fi

  local conf=$DESTDIR$CONFDIR
  if [ ! -d "$conf" ]; then install -d -m 0750 "$conf"; say "installed: $conf/"; fi
  if [ ! -e "$conf/agent.json" ]; then
    install -m 0640 "$AIM_SETTINGS_SRC" "$conf/agent.json"
    [ "$real" = 0 ] || chgrp aim-agent "$conf/agent.json"
    say "installed: $conf/agent.json (example: set droneId, broker and fc.link before starting)"
    fresh_settings=1
  else
    say "kept:      $conf/agent.json"
  fi

  if [ "$systemd_up" = 1 ]; then
    systemctl daemon-reload
    if ! systemctl is-enabled --quiet "$UNIT"; then systemctl enable "$UNIT"; fi
    if systemctl is-active --quiet "$UNIT"; then
      if [ "$changed" = 1 ]; then systemctl restart "$UNIT"; say "restarted: $UNIT"; fi
    elif [ "${fresh_settings:-0}" = 1 ]; then
      say "next: edit $CONFDIR/agent.json, then: systemctl start aim-agent && aim-agent doctor"
    else
      say "next: systemctl start aim-agent"
    fi
  elif [ "$real" = 1 ]; then
    say "systemd is not running here: enable later with 'systemctl enable $UNIT' (works in a chroot too)"
  fi
}

do_uninstall() {
  if [ "$systemd_up" = 1 ] && systemctl cat "$UNIT" >/dev/null 2>&1; then
    systemctl disable --now "$UNIT" || true
  fi
  local f
  for f in "$DESTDIR$UNITDIR/$UNIT" "$DESTDIR$SYSUSERSDIR/aim-agent.conf" "$DESTDIR$TMPFILESDIR/aim-agent.conf"; do
    if [ -e "$f" ]; then rm -f "$f"; say "removed:   $f"; fi
  done
  local link=$DESTDIR$BINDIR/aim-agent
  if [ "$(readlink "$link" 2>/dev/null || true)" = "$PREFIX/bin/aim-agent" ]; then rm -f "$link"; say "removed:   $link"; fi
  if [ -d "$target" ]; then
    [ -e "$target/bin/aim-agent" ] || die "$target does not look like an aim-agent install; not removing it"
    rm -rf "$target"
    say "removed:   $target"
  fi
  [ "$systemd_up" = 0 ] || systemctl daemon-reload
  if [ "$purge" = 1 ]; then
    for f in "$DESTDIR$CONFDIR" "$DESTDIR$STATEDIR"; do
      if [ -e "$f" ]; then rm -rf "$f"; say "removed:   $f"; fi
    done
    [ "$real" = 0 ] || say "the aim-agent user stays (system users are not recycled); 'userdel aim-agent' removes it"
  else
    say "kept:      $CONFDIR (settings, keys) and $STATEDIR (aim file); --purge removes them"
  fi
}

if [ "$action" = install ]; then do_install; else do_uninstall; fi
