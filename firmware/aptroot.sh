#!/usr/bin/env bash
# firmware/aptroot.sh ARCH DIR: a private apt root for ARCH in DIR (made
# anew), its indexes fetched; use it with APT_CONFIG=DIR/apt.conf. It
# resolves against an empty system and changes nothing of this machine's
# dpkg or apt state (no dpkg --add-architecture). An index that fails (this
# mirror's armhf bookworm-security one is corrupt: "File has unexpected
# size") is said and left out: packages then come from the point release,
# with the same ABI.
set -euo pipefail
ARCH=${1:?usage: aptroot.sh ARCH DIR}
APT=$(realpath -m "${2:?usage: aptroot.sh ARCH DIR}")
rm -rf "$APT"
mkdir -p "$APT/var/lib/dpkg" "$APT/etc/apt/sources.list.d" "$APT/etc/apt/preferences.d" "$APT/etc/apt/apt.conf.d" \
  "$APT/var/cache/apt/archives/partial" "$APT/var/lib/apt/lists/partial"
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
if ! APT_CONFIG="$APT/apt.conf" apt-get -q update >"$APT/update.log" 2>&1; then
  echo "aptroot: $ARCH: warning: apt-get update did not fetch every index; going on with the others:" >&2
  grep '^E: Failed to fetch' "$APT/update.log" | sed 's/^/  /' >&2 || true
fi
