#!/bin/sh
# Runs a GUI test ("$@") on a private X server of 1366x768 (the size the app must
# fit). Exits 77, which ctest reports as skipped, when no X server can start here.
if ! command -v xvfb-run >/dev/null 2>&1; then
    echo "xvfb-run is not installed (scripts/install-deps.sh installs xvfb): skipped"
    exit 77
fi
# No accessibility bus and no session bus in a test; the cairo renderer needs no GL.
export GTK_A11Y=none GSK_RENDERER=cairo NO_AT_BRIDGE=1
export DBUS_SESSION_BUS_ADDRESS=disabled:
export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}"
if ! xvfb-run -a -s "-screen 0 1366x768x24" true >/dev/null 2>&1; then
    echo "Xvfb cannot start here: skipped"
    exit 77
fi
exec xvfb-run -a -s "-screen 0 1366x768x24" "$@"
