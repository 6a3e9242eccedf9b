#!/usr/bin/env bash
# firmware/sysroot.sh ARCH DIR: a sysroot for cross-building lifeline for
# ARCH (arm64 or armhf) in DIR, made from Debian's own packages for that
# architecture without touching this machine's dpkg or apt state: a private
# apt root resolves and downloads the -dev packages and what they need,
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
rm -rf "$SR" "$APT"
mkdir -p "$APT/var/lib/dpkg" "$APT/etc/apt/sources.list.d" "$APT/etc/apt/preferences.d" "$APT/etc/apt/apt.conf.d" \
  "$APT/var/cache/apt/archives/partial" "$APT/var/lib/apt/lists/partial" "$SR"
: >"$APT/var/lib/dpkg/status"
cp /etc/apt/sources.list.d/*.sources "$APT/etc/apt/sources.list.d/" 2>/dev/null || true
[ ! -f /etc/apt/sources.list ] || cp /etc/apt/sources.list "$APT/etc/apt/"
cat >"$APT/apt.conf" <<EOF
Dir "$APT/";
Dir::State::status "$APT/var/lib/dpkg/status";
Dir::Etc::trusted "/etc/apt/trusted.gpg";
Dir::Etc::trustedparts "/etc/apt/trusted.gpg.d/";
APT::Architecture "$ARCH";
APT::Architectures { "$ARCH"; };
APT::Install-Recommends "false";
APT::Sandbox::User "root";
EOF
# the host's proxy settings, if any (the private root reads no apt.conf.d)
grep -h '^[[:space:]]*Acquire::.*[Pp]roxy' /etc/apt/apt.conf.d/* 2>/dev/null >>"$APT/apt.conf" || true
export APT_CONFIG="$APT/apt.conf"
echo "sysroot: $ARCH: resolving and downloading $(echo $PKGS | wc -w) packages and their dependencies"
# An index that fails (this mirror's armhf bookworm-security one is corrupt:
# "File has unexpected size") is said and left out: the packages then come
# from the point release, with the same ABI. A package that is missing
# altogether fails the install below.
if ! apt-get -q update >"$APT/update.log" 2>&1; then
  echo "sysroot: $ARCH: warning: apt-get update did not fetch every index; going on with the others:" >&2
  grep '^E: Failed to fetch' "$APT/update.log" | sed 's/^/  /' >&2 || true
fi
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
