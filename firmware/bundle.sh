#!/usr/bin/env bash
# firmware/bundle.sh BOARD IMAGE_DIR: the update bundle of an image (RAUC,
# Debian's rauc 1.8): IMAGE_DIR/lifeline-BOARD-VERSION.raucb with the image's
# root filesystem as the rootfs slot's image, signed, then verified against
# the keyring the way a gateway would before installing it.
# Signing: BUNDLE_KEY and BUNDLE_CERT (the utility's own, kept off the build
# machine's disk in production). Without them it refuses, unless BUNDLE_DEV=1
# asks for a development key and self-signed CA made under build/rauc-dev/
# (never for the field): a forgotten key must not yield a bundle signed by
# whatever lies on the build machine.
set -euo pipefail
BOARD=${1:?usage: bundle.sh BOARD IMAGE_DIR}
IMG=$(realpath "${2:?usage: bundle.sh BOARD IMAGE_DIR}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(cat "$ROOT/VERSION")
[ -f "$IMG/rootfs.img" ] || { echo "bundle: $IMG/rootfs.img is missing: make image BOARD=$BOARD" >&2; exit 1; }
command -v rauc >/dev/null && command -v mksquashfs >/dev/null ||
  { echo "bundle: rauc and mksquashfs are needed (make bundle installs them)" >&2; exit 1; }
KEY=${BUNDLE_KEY:-}
CERT=${BUNDLE_CERT:-}
KEYRING=${BUNDLE_KEYRING:-}
if [ -z "$KEY" ] && [ "${BUNDLE_DEV:-0}" != 1 ]; then
  echo "bundle: no signing key: set BUNDLE_KEY and BUNDLE_CERT (and BUNDLE_KEYRING), or BUNDLE_DEV=1 for a development key that no gateway in the field trusts" >&2
  exit 1
fi
if [ -z "$KEY" ]; then
  D="$ROOT/build/rauc-dev"
  if [ ! -f "$D/dev.key" ]; then
    mkdir -p "$D"
    openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=lifeline development CA (not for the field)" \
      -keyout "$D/ca.key" -out "$D/ca.pem" >/dev/null 2>&1
    openssl req -newkey rsa:3072 -nodes -subj "/CN=lifeline development signer" \
      -keyout "$D/dev.key" -out "$D/dev.csr" >/dev/null 2>&1
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' >"$D/ext"
    openssl x509 -req -in "$D/dev.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 3650 \
      -extfile "$D/ext" -out "$D/dev.pem" >/dev/null 2>&1
  fi
  KEY=$D/dev.key CERT=$D/dev.pem KEYRING=$D/ca.pem
  echo "bundle: signed with the development key of build/rauc-dev (not for the field)"
fi
W="$IMG/bundle"
rm -rf "$W" && mkdir -p "$W"
ln "$IMG/rootfs.img" "$W/rootfs.ext4" 2>/dev/null || cp --sparse=always "$IMG/rootfs.img" "$W/rootfs.ext4"
cat >"$W/manifest.raucm" <<MANIFEST
[update]
compatible=lifeline-$BOARD
version=$VERSION
description=Lifeline gateway $VERSION for $BOARD

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
MANIFEST
out="$IMG/lifeline-$BOARD-$VERSION.raucb"
rm -f "$out"
rauc bundle --cert="$CERT" --key="$KEY" "$W" "$out" >"$IMG/bundle.log" 2>&1 || { cat "$IMG/bundle.log" >&2; exit 1; }
rauc info --keyring="$KEYRING" "$out" >"$IMG/bundle.info" 2>&1 || { cat "$IMG/bundle.info" >&2; exit 1; }
rm -rf "$W"
echo "bundle: $out ($(stat -c %s "$out") bytes), verified against $KEYRING:"
grep -E "^(Compatible|Version|Bundle Format|Signature)|^  *\[rootfs\]|Signature verified|Verified" "$IMG/bundle.info" | sed 's/^/  /' || true
