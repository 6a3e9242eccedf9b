#!/bin/sh
# Puts lifelinectl on the board's serial console: a `tech` user whose shell
# is lifelinectl, autologin on the console UART, the control socket's group.
# Usage (as root, on the board or into an image root): install.sh [TTY] [ROOT]
#   TTY   the console UART (default ttyS0; the board's board.conf names it)
#   ROOT  an image's root directory instead of / (for firmware builds)
set -eu
TTY=${1:-ttyS0}
ROOT=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
install -D -m 0644 "$HERE/lifeline-tech.sysusers.conf" "$ROOT/usr/lib/sysusers.d/lifeline-tech.conf"
install -D -m 0644 "$HERE/serial-getty@.service.d-lifeline.conf" \
  "$ROOT/etc/systemd/system/serial-getty@$TTY.service.d/lifeline.conf"
# a login shell must be listed in /etc/shells
grep -qx /usr/bin/lifelinectl "$ROOT/etc/shells" 2>/dev/null || echo /usr/bin/lifelinectl >> "$ROOT/etc/shells"
if [ -z "$ROOT" ]; then
  systemd-sysusers lifeline-tech.conf
  install -d -o tech -g lifeline-console -m 0750 /var/lib/lifeline-tech
  systemctl daemon-reload
  systemctl restart "serial-getty@$TTY.service"
fi
echo "lifelinectl is on $TTY: set [console] group = lifeline-console in the config, and a PIN with: lifelinectl passwd"
