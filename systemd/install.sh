#!/usr/bin/env bash
# Install (or remove) aim-agent as a systemd service. Idempotent: a second run changes nothing.
#
#   npm ci && npm run build && sudo systemd/install.sh      # on the drone, from a checkout
#   sudo systemd/install.sh --uninstall [--purge]
#   DESTDIR=/tmp/img PREFIX=/opt/aim-agent systemd/install.sh # staging tree (image build, packaging)
#
# Lays out:
#   $PREFIX/                      dist/, package.json, package-lock.json, production node_modules,
#                                 bin/aim-agent (launcher), share/ (docs, examples)
#   /usr/local/bin/aim-agent      -> $PREFIX/bin/aim-agent
#   /usr/local/lib/systemd/system/aim-agent.service
#   /usr/local/lib/sysusers.d/aim-agent.conf, /usr/local/lib/tmpfiles.d/aim-agent.conf
#   /etc/aim-agent/agent.json     example settings, only when there is none (root:aim-agent 0640)
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
SOURCE=$(cd "$here/.." && pwd)
action=install
deps=copy
purge=0

usage() {
  cat <<EOF
usage: install.sh [--source DIR] [--npm-ci] | --uninstall [--purge]

  --source DIR   built checkout to install from (default: $SOURCE); needs dist/ (npm run build)
  --npm-ci       fetch production dependencies with 'npm ci --omit=dev' instead of copying them
                 from DIR/node_modules (copying needs no network; its native serialport binding
                 must suit this machine, so build on the drone or on the same architecture)
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
    --npm-ci) deps=npm-ci; shift ;;
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

# Copy the production packages as package-lock.json names them (what `npm ci --omit=dev` would
# install) from the source tree. One node process: a tar per package costs seconds on a Pi.
# Nested node_modules are separate lock entries (and may be dev-only), so each package is copied
# without them. Optional packages for other platforms are simply absent and skipped.
copy_prod_packages() {
  "$NODE" -e '
    const fs = require("fs"), path = require("path");
    const [src, dst] = process.argv.slice(1);
    const lock = JSON.parse(fs.readFileSync(path.join(src, "package-lock.json"), "utf8"));
    for (const [p, e] of Object.entries(lock.packages ?? {})) {
      if (!p.startsWith("node_modules/") || e.dev || e.link) continue;
      const from = path.join(src, p);
      if (!fs.existsSync(from)) continue;
      fs.cpSync(from, path.join(dst, p), {
        recursive: true, verbatimSymlinks: true,
        filter: (f) => !path.relative(from, f).split(path.sep).includes("node_modules"),
      });
    }
  ' "$SOURCE" "$1"
}

build_app() {
  local stage=$1
  cp -R "$SOURCE/dist" "$stage/dist"
  cp "$SOURCE/package.json" "$SOURCE/package-lock.json" "$stage/"
  if [ "$deps" = npm-ci ]; then
    (cd "$stage" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
    rm -rf "$stage/node_modules/.cache"
  else
    [ -d "$SOURCE/node_modules" ] || die "$SOURCE/node_modules is missing: run 'npm ci' there, or use --npm-ci"
    copy_prod_packages "$stage"
  fi
  mkdir -p "$stage/bin" "$stage/share/doc" "$stage/share/examples"
  # exec keeps node as the unit's main PID: Type=notify and WATCHDOG_PID rely on it.
  cat >"$stage/bin/aim-agent" <<EOF
#!/bin/sh
# aim-agent launcher, written by systemd/install.sh.
# dist/bundle is the agent bundled per command (scripts/bundle/bundle.ts): a fraction of the start time
# and memory of loading node_modules file by file. --lite-mode: no optimizing JIT (the agent is
# I/O-bound; --no-expose-wasm silences its warning). With a 1 MB young generation it keeps the idle RSS
# down on a companion computer; bench/agent-idle.bench.ts runs exactly this command line.
exec "$NODE" --lite-mode --no-expose-wasm --max-semi-space-size=1 "$PREFIX/dist/bundle/aim-agent.js" "\$@"
EOF
  for f in agent.json.example mosquitto-acl.example mosquitto.conf.example; do cp "$here/$f" "$stage/share/examples/"; done
  [ ! -f "$SOURCE/docs/field-guide.md" ] || cp "$SOURCE/docs/field-guide.md" "$stage/share/doc/"
  # Same modes whatever the checkout's umask was; nothing writable but by the owner.
  chmod -R u+rwX,go+rX,go-w "$stage"
  chmod 0755 "$stage" "$stage/bin/aim-agent"
  # The service runs this code: it must not stay owned by whoever made the checkout.
  [ "$(id -u)" != 0 ] || chown -R 0:0 "$stage"
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
  sed "s#/opt/aim-agent#$PREFIX#g" "$here/$UNIT" >"$unit"
  put "$unit" "$DESTDIR$UNITDIR/$UNIT" 0644
  put "$here/aim-agent.sysusers.conf" "$DESTDIR$SYSUSERSDIR/aim-agent.conf" 0644
  put "$here/aim-agent.tmpfiles.conf" "$DESTDIR$TMPFILESDIR/aim-agent.conf" 0644

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
    install -m 0640 "$here/agent.json.example" "$conf/agent.json"
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
