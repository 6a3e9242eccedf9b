#!/usr/bin/env bash
# firmware/sysroot.sh ARCH DIR: a sysroot for cross-building lifeline for
# ARCH (arm64 or armhf) in DIR, made from Debian's own packages for that
# architecture without touching this machine's dpkg or apt state: a private
# apt root (aptroot.sh) resolves and downloads the -dev packages and what they need,
# dpkg-deb -x unpacks them, and absolute symlinks are made relative so they
# point inside DIR (../shared/domain/cross-arm.md, approach B; multiarch
# co-installation fails here when host and foreign versions differ).
# Does nothing when DIR/.complete matches the package list.
set -euo pipefail
ARCH=${1:?usage: sysroot.sh arm64|armhf DIR}
SR=$(realpath -m "${2:?usage: sysroot.sh arm64|armhf DIR}")
PKGS="libc6-dev libmodbus-dev libmosquitto-dev libsqlite3-dev libgpiod-dev libcjson-dev libinih-dev
      libedit-dev libcmocka-dev libpaho-mqtt-dev libcrypt-dev"
case $ARCH in
  arm64|armhf) ;;
  *) echo "sysroot: ARCH must be arm64 or armhf, not '$ARCH'" >&2; exit 2 ;;
esac
stamp="$ARCH $(echo $PKGS) sonames"
if [ -f "$SR/.complete" ] && [ "$(cat "$SR/.complete")" = "$stamp" ]; then
  exit 0
fi
t0=$(date +%s)
APT="$SR.apt"
rm -rf "$SR"
mkdir -p "$SR"
echo "sysroot: $ARCH: resolving and downloading $(echo $PKGS | wc -w) packages and their dependencies"
"$(dirname "$0")/aptroot.sh" "$ARCH" "$APT"
export APT_CONFIG="$APT/apt.conf"
# shellcheck disable=SC2086
apt-get -q install -y --download-only $PKGS >"$APT/install.log" 2>&1 || { tail -n 20 "$APT/install.log" >&2; exit 1; }
n=0
for d in "$APT"/var/cache/apt/archives/*.deb; do
  dpkg-deb -x "$d" "$SR"
  n=$((n + 1))
done
# absolute links (libfoo.so -> /lib/...) must point into the sysroot
find "$SR" -type l -lname '/*' | while read -r l; do
  ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$SR$(readlink "$l")")" "$l"
done
ls "$APT"/var/cache/apt/archives/*.deb | sed 's|.*/||' >"$SR/.packages"
# which package holds which shared library (firmware/deb.sh: Depends)
for d in "$APT"/var/cache/apt/archives/*.deb; do
  pv="$(dpkg-deb -f "$d" Package) $(dpkg-deb -f "$d" Version)"
  dpkg-deb -c "$d" | awk -v pv="$pv" '{ n = split($6, p, "/"); if (p[n] ~ /\.so\.[0-9][0-9.]*$/) print p[n], pv }'
done | sort -u >"$SR/.sonames"
echo "$stamp" >"$SR/.complete"
rm -rf "$APT"
echo "sysroot: $ARCH: $n packages unpacked into $SR ($(du -sm "$SR" | cut -f1) MB) in $(($(date +%s) - t0)) s"
