#!/usr/bin/env bash
# Prepares what tools/vm/run.sh boots: Debian bookworm's own kernel and a small initramfs.
#   bash tools/vm/build-image.sh                 install packages, fetch the kernel, build the initramfs
#   bash tools/vm/build-image.sh --initramfs     only rebuild the initramfs (run.sh does this itself
#                                                when tools/vm/init.sh changes)
# Idempotent and silent when everything is cached; long steps print one progress line each.
# Env: RIASC_VM_CACHE (default /var/cache/riasc-vm), RIASC_VM_KERNEL_PACKAGE (pin one
# linux-image-6.1.0-NN-amd64 instead of the one linux-image-amd64 depends on).
# Run as root: it installs Debian packages and writes the cache. docs/testing-vm.md explains the design.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${RIASC_VM_CACHE:-/var/cache/riasc-vm}

progress() { echo "build-image: $*" >&2; }
die() { echo "build-image: error: $*" >&2; exit 1; }

only_initramfs=false
case "${1:-}" in
  --initramfs) only_initramfs=true ;;
  "") ;;
  *) echo "usage: bash tools/vm/build-image.sh [--initramfs]" >&2; exit 2 ;;
esac

# The guest's root file system is this machine's own / (see init.sh), so every tool the VM tests
# call must be installed here: iproute2 (ip, tc, and tc's distribution tables for netem), ping,
# nft, wg and modprobe (kmod). cpio and the decompressors build the image.
host_packages=(qemu-system-x86 busybox-static kmod cpio xz-utils zstd gzip
  iproute2 iputils-ping nftables wireguard-tools iperf3)

# apt-get with the package lists refreshed once when it fails: on a fresh machine or in a long-lived
# container the lists are missing or stale (a superseded kernel ABI is a 404 on the mirror).
# Quiet unless it fails for good, then apt's own output says why.
lists_updated=false
apt_retrying() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    if [ "$lists_updated" = true ]; then
      cat "$log" >&2
      rm -f "$log"
      return 1
    fi
    progress "refreshing the package lists (apt-get update)"
    apt-get update -qq >/dev/null
    lists_updated=true
    if ! "$@" >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      return 1
    fi
  fi
  rm -f "$log"
}

install_host_packages() {
  local missing=() package installed
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${host_packages[@]}" 2>/dev/null |
    awk '/ install ok installed$/ { print $1 }' || true)
  for package in "${host_packages[@]}"; do
    grep -qx "$package" <<<"$installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "these packages are missing and installing them needs root: ${missing[*]}"
  progress "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt_retrying \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The exact ABI package (linux-image-6.1.0-NN-amd64) behind the linux-image-amd64 metapackage.
kernel_package() {
  if [ -n "${RIASC_VM_KERNEL_PACKAGE:-}" ]; then
    echo "$RIASC_VM_KERNEL_PACKAGE"
    return
  fi
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

# Linux's scripts/extract-vmlinux idea: the bzImage is a small decompressor followed by the
# compressed ELF kernel. Try each place a known compression format's magic bytes appear until one
# decompresses to an ELF file. Prints nothing to stdout; leaves $2 only on success.
extract_vmlinux() {
  local bzimage=$1 out=$2 format magic offset
  for format in xz zstd gzip; do
    case $format in
      xz) magic='\xfd7zXZ\x00' ;;
      zstd) magic='\x28\xb5\x2f\xfd' ;;
      gzip) magic='\x1f\x8b\x08' ;;
    esac
    for offset in $(LC_ALL=C grep -obUaP "$magic" "$bzimage" | cut -d: -f1 | head -n 20); do
      # The decompressors complain about the bytes after the stream; the ELF check decides.
      tail -c +"$((offset + 1))" "$bzimage" | "$format" -dc 2>/dev/null >"$out.part" || true
      if [ "$(head -c 4 "$out.part" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
        mv "$out.part" "$out"
        return 0
      fi
    done
  done
  rm -f "$out.part"
  return 1
}

fetch_kernel() {
  local package=$1 version=$2 dir=$3 download
  progress "downloading $package (about 70 MB) into $cache"
  download=$(mktemp -d "$cache/download.XXXXXX")
  # apt-get download drops privileges to _apt, which must be able to write here.
  chown _apt "$download" 2>/dev/null || true
  (cd "$download" && apt_retrying apt-get download -qq "$package") ||
    { rm -rf "$download"; die "apt-get download $package failed"; }
  rm -rf "$dir.part"
  mkdir -p "$dir.part"
  progress "unpacking $package"
  dpkg-deb -x "$download"/"$package"_*.deb "$dir.part"
  rm -rf "$download"
  # The package's postinst runs depmod; we unpack instead of installing, so run it ourselves.
  depmod -b "$dir.part" "$version"
  progress "extracting the uncompressed vmlinux (qemu boots it directly through PVH)"
  extract_vmlinux "$dir.part/boot/vmlinuz-$version" "$dir.part/vmlinux" ||
    progress "note: no vmlinux found in the bzImage; booting the bzImage (about 2 s slower)"
  mv "$dir.part" "$dir"
  # Superseded ABIs are 450 MB each; nothing refers to them once image.env moves on.
  find "$cache" -mindepth 1 -maxdepth 1 \( -name 'kernel-*' -o -name 'initramfs-*' \) \
    ! -name "kernel-$version" ! -name "initramfs-$version-*" -exec rm -rf {} +
}

# Modules the guest needs before it can reach its root file system and I/O ports; everything
# else loads from the real root later. Kept here so that changing it changes the initramfs hash.
initramfs_modules=(virtio_pci 9pnet_virtio 9p overlay virtio_console virtio_rng)

# The initramfs's name carries a hash of its inputs, so worktrees with different init.sh versions
# each get their own and never rebuild one another's (run.sh computes the same name).
initramfs_name() {
  echo "initramfs-$1-$(cat "$here/init.sh" "$here/build-image.sh" | sha256sum | cut -c1-12).cpio.gz"
}

build_initramfs() {
  local version=$1 dir=$2 out=$3 root module file applet
  root=$(mktemp -d "$cache/initramfs.XXXXXX")
  mkdir -p "$root"/{bin,dev,proc,sys,host,overlay,job,newroot,modules}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  # modprobe resolves the dependencies (in load order) against the unpacked kernel's modules.dep.
  for module in "${initramfs_modules[@]}"; do
    modprobe -d "$dir" -S "$version" --show-depends "$module" | awk '$1 == "insmod" { print $2 }'
  done | awk '!seen[$0]++' | while read -r file; do
    case $file in
      *.ko.xz) xz -dc "$file" >"$root/modules/$(basename "$file" .xz)" ;;
      *.ko.zst) zstd -qdc "$file" >"$root/modules/$(basename "$file" .zst)" ;;
      *) cp "$file" "$root/modules/" ;;
    esac
    basename "${file%.xz}" .zst >>"$root/modules/order"
  done
  echo "$version" >"$root/kernel-version"
  install -m 755 "$here/init.sh" "$root/init"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) |
    gzip -1 >"$out.part"
  mv "$out.part" "$out"
  rm -rf "$root"
}

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# One builder at a time per cache: VM runs from several worktrees share it.
exec 9>"$cache/.lock"
flock 9

if [ "$only_initramfs" = true ]; then
  [ -f "$cache/image.env" ] || die "no kernel in $cache yet: run bash tools/vm/build-image.sh"
  # shellcheck source=/dev/null
  version=$(. "$cache/image.env" && echo "$RIASC_VM_KERNEL_VERSION")
else
  install_host_packages
  package=$(kernel_package)
  if [ -z "$package" ]; then
    progress "refreshing the package lists (apt-get update)"
    apt-get update -qq >/dev/null
    lists_updated=true
    package=$(kernel_package)
  fi
  [ -n "$package" ] || die "cannot tell which kernel linux-image-amd64 depends on"
  version=${package#linux-image-}
  [ -d "$cache/kernel-$version" ] || fetch_kernel "$package" "$version" "$cache/kernel-$version"
fi

kernel_dir=$cache/kernel-$version
kernel=$kernel_dir/vmlinux
[ -f "$kernel" ] || kernel=$kernel_dir/boot/vmlinuz-$version
initramfs=$cache/$(initramfs_name "$version")
if [ ! -f "$initramfs" ]; then
  progress "building the initramfs for this init.sh"
  build_initramfs "$version" "$kernel_dir" "$initramfs"
  # Older initramfs builds of this kernel (other init.sh versions) are cheap to rebuild.
  find "$cache" -maxdepth 1 -name "initramfs-$version-*.cpio.gz" ! -newermt '7 days ago' -delete
fi

# What run.sh reads. Rewritten only when it changes, so that its mtime means something.
env_text="RIASC_VM_KERNEL_VERSION=$version
RIASC_VM_KERNEL=$kernel
RIASC_VM_MODULES=$kernel_dir/lib/modules/$version"
if [ "$(cat "$cache/image.env" 2>/dev/null)" != "$env_text" ]; then
  echo "$env_text" >"$cache/image.env.part"
  mv "$cache/image.env.part" "$cache/image.env"
  progress "ready: kernel $version in $cache"
fi
