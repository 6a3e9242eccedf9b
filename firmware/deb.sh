#!/usr/bin/env bash
# firmware/deb.sh ARCH BUILD OUT: the Debian package of lifeline for ARCH
# (amd64, arm64, armhf) from the binaries in BUILD (built with PREFIX=/usr),
# into OUT/lifeline_VERSION_ARCH.deb (docs/install.md). Depends are the
# packages that hold the shared libraries the binaries need (readelf's
# NEEDED): from this machine's dpkg for amd64, from the sysroot's
# .sonames for the others, at the version built against or later.
set -euo pipefail
ARCH=${1:?usage: deb.sh ARCH BUILD OUT}
BUILD=$(realpath "${2:?usage: deb.sh ARCH BUILD OUT}")
OUT=$(realpath -m "${3:?usage: deb.sh ARCH BUILD OUT}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(cat "$ROOT/VERSION")
case $ARCH in
  amd64) STRIP=strip ;;
  arm64) STRIP=aarch64-linux-gnu-strip; SONAMES=$ROOT/build/sysroot-arm64/.sonames ;;
  armhf) STRIP=arm-linux-gnueabihf-strip; SONAMES=$ROOT/build/sysroot-armhf/.sonames ;;
  *) echo "deb: ARCH must be amd64, arm64 or armhf" >&2; exit 2 ;;
esac
S="$OUT/stage-$ARCH"
rm -rf "$S"
install -d "$S/DEBIAN" "$S/usr/sbin" "$S/usr/bin" "$S/usr/share/lifeline/profiles" \
  "$S/usr/share/lifeline/examples" "$S/usr/share/doc/lifeline" "$S/usr/lib/systemd/system" \
  "$S/usr/lib/sysusers.d" "$S/usr/lib/tmpfiles.d" "$S/usr/lib/udev/rules.d" "$S/etc/lifeline"
$STRIP --remove-section=.comment --remove-section=.note -o "$S/usr/sbin/lifelined" "$BUILD/lifelined"
for b in lifelinectl lifeline-center; do
  $STRIP --remove-section=.comment --remove-section=.note -o "$S/usr/bin/$b" "$BUILD/$b"
done
chmod 0755 "$S/usr/sbin/lifelined" "$S/usr/bin/"*
install -m 0644 "$ROOT"/drivers/profiles/*.ini "$S/usr/share/lifeline/profiles/"
install -m 0644 "$ROOT"/config/*.conf "$S/usr/share/lifeline/examples/"
for b in "$ROOT"/board/*/board.conf; do
  install -D -m 0644 "$b" "$S/usr/share/lifeline/board/$(basename "$(dirname "$b")")/board.conf"
done
C="$ROOT/board/common"
install -m 0644 "$C/systemd/lifelined.service" "$S/usr/lib/systemd/system/lifelined.service"
install -m 0644 "$C/systemd/lifelined.sysusers.conf" "$S/usr/lib/sysusers.d/lifelined.conf"
install -m 0644 "$C/console/lifeline-tech.sysusers.conf" "$S/usr/lib/sysusers.d/lifeline-tech.conf"
install -m 0644 "$C/systemd/lifelined.tmpfiles.conf" "$S/usr/lib/tmpfiles.d/lifelined.conf"
install -m 0644 "$C/systemd/lifelined.udev.rules" "$S/usr/lib/udev/rules.d/60-lifelined.rules"
install -D -m 0644 "$C/console/serial-getty@.service.d-lifeline.conf" \
  "$S/usr/share/lifeline/console/serial-getty@.service.d-lifeline.conf"
install -m 0644 "$ROOT/firmware/lifeline.conf" "$S/etc/lifeline/lifeline.conf"
install -m 0644 "$ROOT/README.md" "$S/usr/share/doc/lifeline/README.md"
for d in "$ROOT"/docs/*.md; do install -m 0644 "$d" "$S/usr/share/doc/lifeline/"; done
cat >"$S/usr/share/doc/lifeline/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: lifeline
Source: the lifeline project's repository

Files: *
Copyright: 2026 The Lifeline authors
License: proprietary
 The Lifeline gateway software, for the cities that run it.
COPY
printf 'lifeline (%s) bookworm; urgency=medium\n\n  * Built from %s.\n\n -- Lifeline builders <builders@lifeline.example>  %s\n' \
  "$VERSION" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo source)" "$(date -R)" |
  gzip -9n >"$S/usr/share/doc/lifeline/changelog.gz"

# Depends: the package of each NEEDED library, at the version built against
deps=$(for f in "$S/usr/sbin/lifelined" "$S"/usr/bin/*; do readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done |
  sort -u | while read -r so; do
    if [ "$ARCH" = amd64 ]; then
      ma=$(gcc -print-multiarch)
      p=$( (dpkg -S "/lib/$ma/$so" || dpkg -S "/usr/lib/$ma/$so") 2>/dev/null | head -n 1 | cut -d: -f1)
      [ -n "$p" ] || { echo "deb: no package holds $so" >&2; exit 1; }
      v=$(dpkg-query -W -f '${Version}' "$p")
    else
      read -r p v < <(awk -v so="$so" '$1 == so { print $2, $3; exit }' "$SONAMES")
      [ -n "${p:-}" ] || { echo "deb: no package of the sysroot holds $so" >&2; exit 1; }
    fi
    echo "$p (>= ${v%-*})"
  done | sort -u | paste -sd, | sed 's/,/, /g')
size=$(du -sk --exclude=DEBIAN "$S" | cut -f1)
cat >"$S/DEBIAN/control" <<CTRL
Package: lifeline
Version: $VERSION
Architecture: $ARCH
Maintainer: Lifeline builders <builders@lifeline.example>
Installed-Size: $size
Depends: $deps, systemd, init-system-helpers (>= 1.54)
Section: net
Priority: optional
Homepage: https://lifeline.invalid/
Description: IoT gateway for a city's lifelines (gas, water, heating, power...)
 lifelined polls sensors over Modbus RTU/TCP and GPIO, applies threshold
 rules locally (red, orange, yellow and blue alarms), keeps readings and
 alarms in SQLite and forwards alarms to the city monitoring center over
 MQTT without losing one. lifelinectl is the field technician's console;
 lifeline-center the reference receiver of the monitoring center.
CTRL
echo /etc/lifeline/lifeline.conf >"$S/DEBIAN/conffiles"
cat >"$S/DEBIAN/postinst" <<'POST'
#!/bin/sh
# the users (lifeline, tech), /etc/lifeline for the daemon, the gpio group
# on the chips; the service (re)started once the gateway is provisioned
set -e
if [ "$1" = configure ]; then
  systemd-sysusers lifelined.conf lifeline-tech.conf
  # the daemon's alone: MQTT credentials, the console PIN hash (owned first:
  # tmpfiles refuses a root-owned file in the daemon's directory); tmpfiles
  # then makes /etc/lifeline/tls (owned by lifeline, install.md) 0700
  chown lifeline:lifeline /etc/lifeline/lifeline.conf
  chmod 0600 /etc/lifeline/lifeline.conf
  # (without /proc, as in an image's build, tmpfiles cannot run: the same by hand)
  systemd-tmpfiles --create lifelined.conf 2>/dev/null || install -d -o lifeline -g lifeline -m 0750 /etc/lifeline
  # earlier builds put tech in the daemon's group (sysusers adds, never removes)
  if command -v gpasswd >/dev/null && id -nG tech 2>/dev/null | tr ' ' '\n' | grep -qx lifeline; then gpasswd -d tech lifeline >/dev/null; fi
  grep -qx /usr/bin/lifelinectl /etc/shells || echo /usr/bin/lifelinectl >>/etc/shells
  if command -v udevadm >/dev/null && [ -d /run/udev ]; then
    udevadm control --reload || true
    udevadm trigger --subsystem-match=gpio || true
  fi
  # a provisioned gateway (an upgrade) runs on; a new one waits for its config
  if grep -q '^id = unprovisioned' /etc/lifeline/lifeline.conf; then
    echo "lifeline: set up /etc/lifeline/lifeline.conf, then: systemctl enable --now lifelined"
  else
    deb-systemd-helper enable lifelined.service
    if [ -d /run/systemd/system ]; then
      systemctl --system daemon-reload >/dev/null || true
      deb-systemd-invoke restart lifelined.service
    fi
  fi
fi
exit 0
POST
cat >"$S/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  deb-systemd-invoke stop lifelined.service || true
fi
exit 0
PRERM
cat >"$S/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
# purge: the config and the state (readings, alarms, outbox) go too
set -e
if [ "$1" = purge ]; then
  rm -rf /etc/lifeline /var/lib/lifeline
  sed -i '\|^/usr/bin/lifelinectl$|d' /etc/shells
  deb-systemd-helper purge lifelined.service >/dev/null || true
fi
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
exit 0
POSTRM
chmod 0755 "$S/DEBIAN/postinst" "$S/DEBIAN/prerm" "$S/DEBIAN/postrm"
mkdir -p "$OUT"
deb="$OUT/lifeline_${VERSION}_$ARCH.deb"
dpkg-deb --root-owner-group -Zxz --build "$S" "$deb" >/dev/null
echo "deb: $deb ($(stat -c %s "$deb") bytes, installed $size kB); Depends: $deps, systemd, init-system-helpers (>= 1.54)"
