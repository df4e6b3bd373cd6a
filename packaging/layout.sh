# What goes on the drone, in one place. Sourced (bash) by systemd/install.sh (any systemd Linux) and
# packaging/build-deb.sh (the .deb), so both install the same files:
#
#   $PREFIX/bin/aim-agent          launcher: exec node on the bundle (node stays the unit's main PID)
#   $PREFIX/dist/bundle/*.js       the agent, bundled by esbuild (scripts/bundle/bundle.ts)
#   $PREFIX/package.json           name, version, "type": "module" for the bundle's .js files
#   $PREFIX/node_modules/          serialport and its few run-time packages, one platform's binding
#   $PREFIX/share/doc/field-guide.md, $PREFIX/share/examples/   settings and Mosquitto examples
#   $BINDIR/aim-agent -> $PREFIX/bin/aim-agent
#   $UNITDIR/aim-agent.service     systemd/aim-agent.service with /opt/aim-agent replaced by $PREFIX
#   $SYSUSERSDIR/aim-agent.conf, $TMPFILESDIR/aim-agent.conf
#   /etc/aim-agent/agent.json      the example settings, never overwritten
#
# Not on the drone: fc-sim, aimctl, tests, TypeScript output other than the bundle, dev dependencies.

AIM_LAYOUT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AIM_SYSTEMD_DIR=$(cd "$AIM_LAYOUT_DIR/../systemd" && pwd)
AIM_EXAMPLES="agent.json.example mosquitto-acl.example mosquitto.conf.example"

# aim_stage_app STAGE SOURCE NODE PREFIX [PREBUILD_GLOB ...]
#   Lays out $PREFIX's content in STAGE from a built checkout SOURCE. NODE is the node binary the
#   launcher execs on the target. PREBUILD_GLOBs pick serialport bindings (copy-runtime.mjs);
#   none: this machine's architecture.
aim_stage_app() {
  # NODE and PREFIX by those names: test/support/launcher.ts reads the exec line below.
  local stage=$1 source=$2 NODE=$3 PREFIX=$4
  shift 4
  mkdir -p "$stage/bin" "$stage/dist" "$stage/share/doc" "$stage/share/examples"
  cp -R "$source/dist/bundle" "$stage/dist/bundle"
  # The bundle's version is compiled in (agent/version.ts); this file only makes its .js files ESM.
  "$NODE" -e '
    const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    process.stdout.write(JSON.stringify({ name: p.name, version: p.version, private: true, type: "module", license: p.license }, null, 2) + "\n");
  ' "$source/package.json" >"$stage/package.json"
  "$NODE" "$AIM_LAYOUT_DIR/copy-runtime.mjs" "$source" "$stage" "$@" >/dev/null
  cat >"$stage/bin/aim-agent" <<EOF
#!/bin/sh
# aim-agent launcher (packaging/layout.sh).
# dist/bundle is the agent bundled per command (scripts/bundle/bundle.ts): a fraction of the start time
# and memory of loading node_modules file by file. --lite-mode: no optimizing JIT (the agent is
# I/O-bound; --no-expose-wasm silences its warning). With a 1 MB young generation it keeps the idle RSS
# down on a companion computer; bench/agent-idle.bench.ts runs exactly this command line.
exec "$NODE" --lite-mode --no-expose-wasm --max-semi-space-size=1 "$PREFIX/dist/bundle/aim-agent.js" "\$@"
EOF
  local f
  for f in $AIM_EXAMPLES; do cp "$AIM_SYSTEMD_DIR/$f" "$stage/share/examples/"; done
  cp "$source/docs/field-guide.md" "$stage/share/doc/"
  # Same modes whatever the checkout's umask was; nothing writable but by the owner.
  chmod -R u+rwX,go+rX,go-w "$stage"
  chmod 0755 "$stage" "$stage/bin/aim-agent"
}

# aim_render_unit PREFIX: the unit as installed, on stdout.
aim_render_unit() {
  sed "s#/opt/aim-agent#$1#g" "$AIM_SYSTEMD_DIR/aim-agent.service"
}

# The other system files: source in systemd/, then the name they get in SYSUSERSDIR / TMPFILESDIR.
AIM_SYSUSERS_SRC=$AIM_SYSTEMD_DIR/aim-agent.sysusers.conf
AIM_TMPFILES_SRC=$AIM_SYSTEMD_DIR/aim-agent.tmpfiles.conf
AIM_SETTINGS_SRC=$AIM_SYSTEMD_DIR/agent.json.example
AIM_CONF_NAME=aim-agent.conf
