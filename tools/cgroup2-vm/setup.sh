#!/usr/bin/env bash
# Builds the cgroup v2 VM kit: a Debian 6.12 kernel (bookworm-backports), a busybox initrd and
# `vmrun`, which runs one shell command in a qemu VM whose cgroup hierarchy is unified cgroup v2
# with the memory controller (this machine's own may be v1). See docs/architecture.md.
#
#   tools/cgroup2-vm/setup.sh            # idempotent; prints the kit's directory
#   "$KIT/vmrun" 'CMD …'                 # from a folder: that folder is read-write in the VM
#
# The kit goes to $CG2VM_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/debian-multiarch-builder/
# cgroup2-vm) and is rebuilt only when this script changes. qemu-system-x86 and busybox-static are
# installed with apt when missing (as root). The kernel package is fetched from this machine's own
# Debian mirror (read from its apt sources) through a temporary sources list, so /etc/apt is left
# as it was.
#
# vmrun: the guest sees the host's / read-only with a RAM overlay on top (writes vanish at exit),
# the current folder read-write at the same path, and the caller's exported environment. The
# command runs as root in cgroup /job (memory, cpu, io, pids enabled in the root's
# subtree_control), with stdin from /dev/null; its stdout and stderr come back separately and
# vmrun exits with its status, or 125 when the VM failed (then the guest console goes to stderr).
# CG2VM_MEM sets the guest's memory (default 2G), CG2VM_CPUS its cores (default 2).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
KIT=${CG2VM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/debian-multiarch-builder/cgroup2-vm}
SUITE=bookworm-backports
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MODULES="netfs 9pnet 9pnet_virtio 9p overlay"
STAMP_VALUE="$(sha256sum "$SELF" | cut -d' ' -f1)"

say() { printf 'cgroup2-vm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

kit_ready() {
  [ -f "$KIT/.stamp" ] && [ "$(cat "$KIT/.stamp")" = "$STAMP_VALUE" ] \
    && [ -x "$KIT/vmrun" ] && [ -s "$KIT/vmlinuz" ] && [ -s "$KIT/initrd" ] \
    && command -v qemu-system-x86_64 >/dev/null
}

if kit_ready; then echo "$KIT"; exit 0; fi

mkdir -p "$(dirname "$KIT")"
exec 9>"$KIT.lock"
flock 9  # concurrent callers (parallel test sessions) wait for one build
if kit_ready; then echo "$KIT"; exit 0; fi

# ---- host packages -------------------------------------------------------------------------
missing=""
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86"
[ -x /bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || die "not root, cannot install:$missing"
  say "installing:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
case "$(ldd /bin/busybox 2>&1 || true)" in
  *"not a dynamic"*) ;;
  *) die "/bin/busybox must be statically linked (package busybox-static)" ;;
esac

# ---- the kernel, from this machine's Debian mirror ----------------------------------------
mirror=$(grep -rhoE '^(URIs:|deb) +[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
  2>/dev/null | awk '{print $2}' | head -1 || true)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d/}"

work=$(mktemp -d "${KIT}.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/ir"/{bin,proc,sys,dev,h,u,r}
echo "deb [signed-by=$KEYRING] $mirror $SUITE main" >"$work/apt/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$work/apt/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
  -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=$(id -un)"
)
say "reading $SUITE's package list"
apt-get "${apt_opts[@]}" update -qq >/dev/null
kernel_pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 | grep -oE 'linux-image-6[^ ]*-amd64' | head -1 || true)
[ -n "$kernel_pkg" ] || die "no linux-image-6.* in $SUITE"
say "downloading $kernel_pkg"
(cd "$work" && apt-get "${apt_opts[@]}" download -qq "$kernel_pkg" >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/k"

# ---- initrd: busybox, the 9p and overlay modules, init ---------------------------------------
cp /bin/busybox "$work/ir/bin/"
for m in $MODULES; do
  ko=$(find "$work/k/lib/modules" -name "$m.ko*" | head -1)
  [ -n "$ko" ] || die "module $m not in $kernel_pkg"
  case "$ko" in
    *.xz) xz -dc "$ko" >"$work/ir/$m.ko" ;;
    *.zst) zstd -qdc "$ko" >"$work/ir/$m.ko" ;;
    *) cp "$ko" "$work/ir/$m.ko" ;;
  esac
done
cat >"$work/ir/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin; O=trans=virtio,msize=512000
mount -t proc p /proc; mount -t sysfs s /sys
mount -t devtmpfs d /dev; for m in $MODULES; do insmod /\$m.ko; done
EOF
cat >>"$work/ir/init" <<'EOF'
mount -t 9p -o ro,cache=loose,$O r /h; mount -t tmpfs t /u; mkdir /u/u /u/w
mount -t overlay -o lowerdir=/h,upperdir=/u/u,workdir=/u/w o /r; mount -t tmpfs t /r/run
mkdir /r/vmio /dev/shm /dev/pts; mount -t 9p -o $O i /r/vmio; W=$(cat /r/vmio/dir)
mkdir -p "/r$W"; mount -t 9p -o cache=loose,$O w "/r$W"
mount -t tmpfs t /dev/shm; mount -t devpts t /dev/pts
for p in /sys/class/virtio-ports/*; do ln -s ${p##*/} /dev/$(cat $p/name); done
for d in proc sys dev; do mount --move /$d /r/$d; done
mount -t cgroup2 -o nsdelegate,memory_recursiveprot c /r/sys/fs/cgroup
cp /stage2 /r/; exec switch_root /r /bin/bash /stage2
EOF
cat >"$work/ir/stage2" <<'EOF'
cd /sys/fs/cgroup && echo "+cpu +io +memory +pids" >cgroup.subtree_control && mkdir job
bash -c 'echo $$ >job/cgroup.procs && exec bash /vmio/cmd' </dev/null >/dev/o 2>/dev/e
echo $? >/vmio/rc; sync; echo o >/proc/sysrq-trigger; sleep 9
EOF
chmod +x "$work/ir/init"
(cd "$work/ir" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$work/initrd"

# ---- vmrun ---------------------------------------------------------------------------------
bios=()
[ -f /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)  # boots faster than SeaBIOS
cat >"$work/vmrun" <<EOF
#!/bin/bash
# Runs "\$*" in the cgroup v2 VM (built by tools/cgroup2-vm/setup.sh). Exit: the command's, 125 = VM failed.
V=\$(dirname "\$(readlink -f "\$0")") D=\$(mktemp -d); trap 'rm -rf \$D' EXIT
BIOS=(${bios[*]})
EOF
cat >>"$work/vmrun" <<'EOF'
echo "$PWD" >$D/dir; { export -p; printf 'cd %q||exit 1\n%s\n' "$PWD" "$*"; } >$D/cmd
mkfifo $D/o $D/e; cat $D/o & cat $D/e >&2 &
F=security_model=none,multidevs=remap S=virtio-9p-pci,fsdev
qemu-system-x86_64 -accel tcg -cpu max -smp "${CG2VM_CPUS:-2}" -m "${CG2VM_MEM:-2G}" -nodefaults \
 -no-reboot -display none "${BIOS[@]}" -serial file:$D/console -kernel $V/vmlinuz -initrd $V/initrd \
 -append "console=ttyS0 quiet panic=-1 cgroup_no_v1=all" -device virtio-serial-pci \
 -fsdev local,id=r,path=/,readonly=on,$F -device $S=r,mount_tag=r \
 -fsdev local,id=w,path="${PWD//,/,,}",$F -device $S=w,mount_tag=w -fsdev local,id=i,path=$D,$F \
 -device $S=i,mount_tag=i -chardev file,id=o,path=$D/o -device virtserialport,chardev=o,name=o \
 -chardev file,id=e,path=$D/e -device virtserialport,chardev=e,name=e </dev/null
: <>$D/o; : <>$D/e; wait; [ -f $D/rc ] || { cat $D/console >&2; exit 125; }; exit $(<$D/rc)
EOF
chmod +x "$work/vmrun"

# ---- into place: a directory rename, so a vmrun starting meanwhile finds an old or new kit ---
mkdir "$work/kit"
mv "$work/k/boot"/vmlinuz-* "$work/kit/vmlinuz"
mv "$work/initrd" "$work/vmrun" "$work/kit/"
echo "$kernel_pkg" >"$work/kit/kernel-package"
echo "$STAMP_VALUE" >"$work/kit/.stamp"
rm -rf "$KIT.old"
if [ -e "$KIT" ]; then mv "$KIT" "$KIT.old"; fi
mv "$work/kit" "$KIT"
rm -rf "$KIT.old"
say "ready: $KIT ($kernel_pkg)"
echo "$KIT"
