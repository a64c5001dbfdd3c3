#!/usr/bin/env bash
# image.sh ARCH OUT — build the system test's Debian bookworm guest from
# Debian's packages with mmdebstrap: an ext4 disk image, the kernel and
# initramfs to boot it with qemu -kernel/-initrd, and the ssh key and host
# key that reach it. Everything lands in OUT (created; must not exist).
# scripts/system-test.sh calls this and caches OUT under a hash of this
# file, so any change here (the package list included) builds afresh.
#
# The guest is set up to stay off the internet by itself: a static address
# on qemu's user network, no time servers (systemd-timesyncd has neither
# a server and is disabled until a step starts it with one; chrony is unpacked, not installed, and only run by
# the test), no apt timers.
set -euo pipefail

# Runs as mmdebstrap's essential hook, before the kernel is installed: the
# boot fsck runs in the initramfs the kernel's postinst makes, which needs
# the root file system in fstab, its type named (the fsck hook cannot probe
# /dev/vda here) and no resume device to wait for.
if [[ ${1:-} == --essential ]]; then
	root=$2
	printf '/dev/vda\t/\text4\terrors=remount-ro\t0\t1\n' >"$root/etc/fstab"
	mkdir -p "$root/etc/initramfs-tools/conf.d"
	echo 'RESUME=none' >"$root/etc/initramfs-tools/conf.d/resume"
	echo 'FSTYPE=ext4' >"$root/etc/initramfs-tools/conf.d/fstype"
	exit 0
fi

# Runs as mmdebstrap's customize hook: $2 is the chroot, $3 the arch,
# $4 the directory holding the public key to authorise.
if [[ ${1:-} == --customize ]]; then
	root=$2 arch=$3 keydir=$4
	run_in() { chroot "$root" "$@"; }

	echo edge-st >"$root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tedge-st\n' >"$root/etc/hosts"

	# A user as on Raspberry Pi OS: "pi", sudo without a password. Root and
	# pi log in over ssh with the test's key only, on port 2222.
	run_in useradd --create-home --shell /bin/bash --groups sudo pi
	echo 'pi ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/pi"
	chmod 0440 "$root/etc/sudoers.d/pi"
	for home in root home/pi; do
		install -d -m 0700 "$root/$home/.ssh"
		install -m 0600 "$keydir/id_ed25519.pub" "$root/$home/.ssh/authorized_keys"
	done
	run_in chown -R pi:pi /home/pi/.ssh
	cat >"$root/etc/ssh/sshd_config.d/system-test.conf" <<-'EOF'
		Port 2222
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		PermitRootLogin prohibit-password
		UseDNS no
	EOF
	cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$keydir/host_key.pub"

	# qemu user networking: the guest is 10.0.2.15, the host 10.0.2.2. No
	# DNS server: nothing in the guest should look anything up.
	cat >"$root/etc/systemd/network/10-eth0.network" <<-'EOF'
		[Match]
		Name=eth0
		[Network]
		Address=10.0.2.15/24
		Gateway=10.0.2.2
		LinkLocalAddressing=no
		IPv6AcceptRA=no
	EOF
	run_in systemctl enable systemd-networkd.service systemd-networkd-wait-online.service

	# No time servers until a test step names one: systemd-timesyncd is
	# disabled, since an empty FallbackNTP= does not remove the compiled-in
	# debian.pool.ntp.org in systemd 252; a step starts it with NTP= set
	# (fallbacks are only used without one). Debug logs show why a server
	# is refused.
	mkdir -p "$root/etc/systemd/timesyncd.conf.d" "$root/etc/systemd/system/systemd-timesyncd.service.d"
	printf '[Time]\nNTP=\n' >"$root/etc/systemd/timesyncd.conf.d/10-no-servers.conf"
	printf '[Service]\nEnvironment=SYSTEMD_LOG_LEVEL=debug\n' \
		>"$root/etc/systemd/system/systemd-timesyncd.service.d/debug.conf"
	run_in systemctl disable systemd-timesyncd.service

	# chrony conflicts with systemd-timesyncd (both are the time-daemon), so
	# it is unpacked beside it and run by hand: /opt/chrony/usr/sbin/chronyd.
	run_in sh -c 'cd /tmp && apt-get download -q chrony && dpkg -x chrony_*.deb /opt/chrony && rm chrony_*.deb'
	run_in /opt/chrony/usr/sbin/chronyd --version

	# Nothing scheduled that reaches out or churns the disk.
	run_in systemctl mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
		e2scrub_all.timer e2scrub_reap.service fstrim.timer
	mkdir -p "$root/var/log/journal"
	exit 0
fi

[[ $# -eq 2 ]] || {
	echo "usage: $0 ARCH OUT" >&2
	exit 2
}
arch=$1 out=$2
[[ ! -e $out ]] || {
	echo "image.sh: $out exists" >&2
	exit 1
}
case $arch in
amd64 | arm64) ;;
*)
	echo "image.sh: ARCH must be amd64 or arm64" >&2
	exit 2
	;;
esac
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

packages=(
	systemd systemd-sysv udev dbus systemd-timesyncd polkitd
	"linux-image-cloud-$arch" initramfs-tools e2fsprogs kmod
	openssh-server sudo passwd procps iproute2
	mosquitto-clients libedit2
)

mkdir -p "$out"
root=$out/root
ssh-keygen -q -t ed25519 -N '' -C edge-agent-system-test -f "$out/id_ed25519"

mmdebstrap --variant=minbase --arch="$arch" --mode=root \
	--include="$(
		IFS=,
		echo "${packages[*]}"
	)" \
	--essential-hook="bash '$self' --essential \"\$1\"" \
	--customize-hook="bash '$self' --customize \"\$1\" '$arch' '$out'" \
	bookworm "$root" \
	"deb $mirror bookworm main" \
	"deb $mirror bookworm-updates main" \
	"deb $security bookworm-security main"

cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
# 2 GiB, sparse: the system takes about a third; the rest is for uploads.
mkfs.ext4 -q -F -L edge-st -d "$root" "$out/disk.ext4" 2G
rm -rf "$root"
