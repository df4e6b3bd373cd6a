#!/usr/bin/env bash
# A Debian 12 root file system for systemd/nspawn.test.ts: debootstrap minbase plus systemd, dbus,
# mosquitto and socat. Built once per machine and cached OUTSIDE the checkout (it is ~300 MB), under
# a name that is a hash of this script, so changing what goes in makes a new one. Prints its path.
#
#   sudo packaging/test-rootfs.sh            # -> /var/cache/aim-agent-ci/rootfs-<hash>
#   AIM_ROOTFS_CACHE=/srv/cache sudo packaging/test-rootfs.sh
#
# Node is not in it: Debian 12's nodejs is 18. The test lends the host's node to the container
# (bind-mounted read-only) and installs a stand-in `nodejs` package so the .deb's dependency holds.
set -euo pipefail

SUITE=bookworm
# The Debian archive this machine's apt already uses (first main-archive URI in its sources), so the
# rootfs comes from the same place as every other package here; debootstrap's default when none.
apt_mirror() {
  { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
    sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\).*/\2/p' /etc/apt/sources.list 2>/dev/null
  } | tr ' ' '\n' | grep -E '/debian/?$' | head -n 1
}
MIRROR=${AIM_ROOTFS_MIRROR:-$(apt_mirror || true)}
# dbus: systemctl inside the container talks to PID 1 over it. systemd-sysv: /sbin/init. procps:
# /bin/kill, which the unit's ExecReload uses (the .deb depends on it).
INCLUDE=systemd,systemd-sysv,dbus,mosquitto,socat,procps
CACHE=${AIM_ROOTFS_CACHE:-/var/cache/aim-agent-ci}

[ "$(id -u)" = 0 ] || { echo "test-rootfs.sh: must run as root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "test-rootfs.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
out=$CACHE/rootfs-$key
mkdir -p "$CACHE"
# One builder at a time; a second caller waits and then finds it built.
exec 9>"$CACHE/.lock"
flock 9
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi

tmp=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" ${MIRROR:+"$MIRROR"} >"$CACHE/debootstrap.log" 2>&1 ||
  { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }

# What the test needs from the image, decided once here rather than at every boot:
# - the Debian mosquitto unit starts a broker on 127.0.0.1:1883 inside the container (its own netns);
# - no getty on a console nobody reads, and no waiting for a network that --private-network lacks;
# - an apt cache is dead weight.
echo aim-test >"$tmp/etc/hostname"
: >"$tmp/etc/machine-id"
printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' >"$tmp/etc/mosquitto/conf.d/aim-test.conf"
chroot "$tmp" systemctl mask console-getty.service getty@tty1.service systemd-networkd-wait-online.service >/dev/null 2>&1 || true
chroot "$tmp" apt-get clean
rm -rf "$tmp/var/lib/apt/lists/"* "$tmp/var/cache/apt/"*.bin
touch "$tmp/.complete"

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
# Older builds of this script are of no further use.
find "$CACHE" -maxdepth 1 -name 'rootfs-*' ! -name "rootfs-$key" -exec rm -rf {} +
echo "test-rootfs.sh: built $out in $(( $(date +%s) - start )) s" >&2
echo "$out"
