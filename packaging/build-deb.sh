#!/usr/bin/env bash
# Builds the drone's Debian package, one per architecture, offline, with dpkg-deb only.
#
#   npm run package                                   # = npm run build && this: dist/deb/aim-agent_<v>_{amd64,arm64,armhf}.deb
#   packaging/build-deb.sh [--arch amd64] [--version 0.1.0~rc1] [--out DIR]
#
# Needs a built checkout (dist/bundle) and node_modules (serialport's prebuilt bindings for every
# architecture ship inside the npm package, so nothing is downloaded). The file list is
# packaging/layout.sh's, shared with systemd/install.sh. Lintian: see README "Packaging".
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(cd "$here/.." && pwd)
# shellcheck source=layout.sh
. "$here/layout.sh"

PKG=aim-agent
PREFIX=/usr/lib/aim-agent
MAINTAINER=${AIM_DEB_MAINTAINER:-aim-agent developers <aim-agent@example.com>}
archs=()
version=""
out=$SOURCE/dist/deb

die() { echo "build-deb.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --arch) archs+=("${2:?--arch needs amd64, arm64 or armhf}"); shift 2 ;;
    --version) version=${2:?--version needs a Debian version}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64 armhf)
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg-dev, or dpkg)"
[ -f "$SOURCE/dist/bundle/aim-agent.js" ] || die "dist/bundle is missing: run 'npm run build' first"
NODE=${NODE:-$(command -v node)}
[ -n "$version" ] || version=$("$NODE" -p 'require(process.argv[1]).version' "$SOURCE/package.json")
# Reproducible: timestamps come from the last commit (or SOURCE_DATE_EPOCH), not the clock.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$SOURCE" log -1 --format=%ct 2>/dev/null || date +%s)}

# serialport's prebuilt bindings (glibc only: Debian) per Debian architecture. armhf keeps armv6 and
# armv7: Raspberry Pi OS's armhf node reports arm_version 6, Debian's 7; node-gyp-build picks.
prebuilds_for() {
  case $1 in
    amd64) echo 'linux-x64/*.glibc.node' ;;
    arm64) echo 'linux-arm64/*.glibc.node' ;;
    armhf) echo 'linux-arm/*.armv6.glibc.node linux-arm/*.armv7.glibc.node' ;;
    *) die "no serialport binding for architecture '$1' (amd64, arm64, armhf)" ;;
  esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

build_one() {
  local arch=$1 root=$tmp/$1
  local doc=$root/usr/share/doc/$PKG
  # shellcheck disable=SC2046 # the globs are patterns for copy-runtime.mjs, word-split on purpose
  aim_stage_app "$root$PREFIX" "$SOURCE" /usr/bin/node "$PREFIX" $(prebuilds_for "$arch")
  install -d "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/etc/$PKG" "$doc" "$root/DEBIAN"
  ln -s "../lib/$PKG/bin/aim-agent" "$root/usr/bin/aim-agent"
  aim_render_unit "$PREFIX" >"$root/lib/systemd/system/aim-agent.service"
  install -m 0644 "$AIM_SYSUSERS_SRC" "$root/usr/lib/sysusers.d/$AIM_CONF_NAME"
  install -m 0644 "$AIM_TMPFILES_SRC" "$root/usr/lib/tmpfiles.d/$AIM_CONF_NAME"
  # 0644 in a 0750 root:aim-agent directory (tmpfiles.d): readable by the service, nobody else. It
  # names files (broker password, keys), it holds no secret itself.
  install -m 0644 "$AIM_SETTINGS_SRC" "$root/etc/$PKG/agent.json"
  install -m 0644 "$here/debian/copyright" "$doc/copyright"
  local date
  date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
  printf '%s (%s) unstable; urgency=medium\n\n  * Built by npm run package; the git log is the history.\n\n -- %s  %s\n' \
    "$PKG" "$version" "$MAINTAINER" "$date" | gzip -9n >"$doc/changelog.gz"
  chmod 0644 "$doc/changelog.gz"

  for s in postinst prerm postrm; do install -m 0755 "$here/debian/$s" "$root/DEBIAN/$s"; done
  echo "/etc/$PKG/agent.json" >"$root/DEBIAN/conffiles"
  local size
  size=$(du -k -s --apparent-size --exclude=DEBIAN "$root" | cut -f1)
  cat >"$root/DEBIAN/control" <<EOF
Package: $PKG
Version: $version
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: nodejs (>= 20), systemd, procps, libc6 (>= 2.28), libstdc++6, libgcc-s1
Section: misc
Priority: optional
Description: gimbal/aim configuration agent for ArduPilot drones
 Runs on the drone's companion computer as a systemd service: receives signed
 aim configurations over MQTT, pushes them to the ArduPilot flight controller
 over MAVLink (verifying every parameter echoed back), swaps its aim-parameter
 file atomically under a crash-safe lock and acknowledges.
 .
 Settings: /etc/aim-agent/agent.json. The ground tool (aimctl) is not part of
 this package.
EOF
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control" "$root/DEBIAN/conffiles"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  local deb=$out/${PKG}_${version}_${arch}.deb
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "$deb ($(du -k "$deb" | cut -f1) KiB, installed $size KiB)"
}

for a in "${archs[@]}"; do build_one "$a"; done
