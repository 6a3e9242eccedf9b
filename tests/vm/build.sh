#!/usr/bin/env bash
# tests/vm/build.sh DIR: what the GPIO VM test boots, made in DIR (default
# build/vm) from Debian's own packages (../shared/domain/gpio-vm.md):
#   DIR/vmlinuz          the Debian 12 kernel the linux-image-amd64 metapackage names
#   DIR/modules/         configfs, watchdog, softdog (Debian's), gpio-sim.ko built
#                        here against its headers
#                        (Debian does not enable CONFIG_GPIO_SIM)
#   DIR/root/            busybox, the libgpiod tools and their libraries: the
#                        initramfs's base; tests/vm/run.sh adds the gateway and a test
# Downloads about 215 MB once (apt-get download; nothing is installed) and
# keeps it in DIR/debs. Exit 0 when done; 77 (and why, on stderr) when this
# machine cannot do it, so callers can say so loudly.
set -euo pipefail
DIR=${1:-build/vm}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
say() { echo "vm-build: $*" >&2; }
cannot() { say "CANNOT BUILD THE VM: $*"; exit 77; }

for t in apt-get apt-cache dpkg-deb dpkg gcc make cpio xz gzip qemu-system-x86_64; do
  command -v "$t" >/dev/null || cannot "$t is missing (make deps installs qemu-system-x86 and cpio)"
done
ABI=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -n 1)
[ -n "$ABI" ] || cannot "apt knows no linux-image-amd64 (apt-get update?)"
KREL=$ABI-amd64
KVER=$(apt-cache show "linux-image-$KREL" | sed -n 's/^Version: //p' | head -n 1)
STAMP="$DIR/built-$KREL-3" # -3: with watchdog and softdog
if [ -e "$STAMP" ]; then
  exit 0
fi
say "kernel $KREL ($KVER): downloading what is missing into $DIR/debs"
mkdir -p "$DIR/debs"
cd "$DIR/debs"
need=(linux-image-$KREL linux-headers-$KREL linux-headers-$ABI-common linux-kbuild-6.1 busybox-static gpiod libgpiod2)
for p in "${need[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null 2>&1 || cannot "apt-get download $p failed"
done
ls linux-source-6.1_*.deb >/dev/null 2>&1 || apt-get download "linux-source-6.1=$KVER" >/dev/null 2>&1 ||
  apt-get download linux-source-6.1 >/dev/null 2>&1 || cannot "apt-get download linux-source-6.1 failed"

say "unpacking"
X="$DIR/x"
rm -rf "$X" "$DIR/mod" "$DIR/root" "$DIR/modules"
mkdir -p "$X" "$DIR/mod" "$DIR/modules"
for d in linux-headers-*.deb linux-kbuild-*.deb busybox-static_*.deb gpiod_*.deb libgpiod2_*.deb; do
  dpkg -x "$d" "$X"
done
dpkg-deb --fsys-tarfile linux-image-"$KREL"_*.deb |
  tar -x -C "$X" "./boot/vmlinuz-$KREL" "./lib/modules/$KREL/kernel/fs/configfs/configfs.ko" \
    "./lib/modules/$KREL/kernel/drivers/watchdog/watchdog.ko" "./lib/modules/$KREL/kernel/drivers/watchdog/softdog.ko"
cp "$X/boot/vmlinuz-$KREL" "$DIR/vmlinuz"
cp "$X/lib/modules/$KREL/kernel/fs/configfs/configfs.ko" "$X/lib/modules/$KREL/kernel/drivers/watchdog/watchdog.ko" \
  "$X/lib/modules/$KREL/kernel/drivers/watchdog/softdog.ko" "$DIR/modules/"
sed -i "s#/usr/src/#$X/usr/src/#" "$X/usr/src/linux-headers-$KREL/Makefile"

say "building gpio-sim.ko"
dpkg-deb --fsys-tarfile linux-source-6.1_*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz | xz -dc |
  tar -x -C "$DIR/mod" --strip-components=3 linux-source-6.1/drivers/gpio/gpio-sim.c \
    linux-source-6.1/drivers/gpio/gpiolib.h
dpkg-deb --fsys-tarfile linux-source-6.1_*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz | xz -dc |
  tar -x -C "$DIR/mod" --strip-components=3 linux-source-6.1/kernel/irq/irq_sim.c
cd "$DIR/mod"
mv gpio-sim.c gpio-sim-main.c
# irq_to_desc is not exported in 6.1: the one-line patch of the domain notes
sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' irq_sim.c
grep -q 'generic_handle_irq(irqnum)' irq_sim.c || cannot "irq_sim.c changed: the patch does not apply"
printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' > Kbuild
make -s -C "$X/usr/src/linux-headers-$KREL" M="$DIR/mod" modules >"$DIR/mod/build.log" 2>&1 ||
  { tail -n 20 "$DIR/mod/build.log" >&2; cannot "the module does not build"; }
cp gpio-sim.ko "$DIR/modules/"

say "the initramfs base"
R="$DIR/root"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,lib/modules,lib64,lib/x86_64-linux-gnu,etc}
cp "$X/bin/busybox" "$R/bin/busybox"
ln -sf busybox "$R/bin/sh"
cp "$DIR/modules/"*.ko "$R/lib/modules/"
for t in gpioinfo gpioget gpioset gpiomon gpiodetect; do cp "$X/usr/bin/$t" "$R/usr/bin/"; done
cp -L "$X"/usr/lib/x86_64-linux-gnu/libgpiod.so.2* "$R/lib/x86_64-linux-gnu/" 2>/dev/null || true
touch "$STAMP"
say "done: $DIR (kernel $KREL)"
