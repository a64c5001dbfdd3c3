# shellcheck shell=bash
# Sourced by scripts/system-test.sh (outside the network namespace: the
# build needs Debian's mirror). image_ready sets img to the cached guest
# image for ARCH, building it first if the cache has none for the current
# image.sh; image_build_s and image_how say what it took.

image_ready() {
	local key
	key=$({
		echo "$ARCH"
		cat "$lib/image.sh"
	} | sha256sum | cut -c1-16)
	img=$st/image-$ARCH-$key
	image_build_s=0
	if [[ -f $img/disk.ext4 ]]; then
		image_how="cached $(basename "$img")"
		return
	fi
	mkdir -p "$st"
	local tmp=$st/.image-$ARCH-$key.$$ t0=$SECONDS
	binfmt_mounted=0 binfmt_registered=0
	# Removed however the build ends; a foreign architecture's binfmt
	# registration, if made here, is undone with it.
	trap 'image_cleanup; exit 130' INT
	trap 'image_cleanup; exit 143' TERM
	trap image_cleanup EXIT
	if [[ $ARCH == arm64 && $(uname -m) != aarch64 ]]; then
		binfmt_setup
	fi
	echo "system-test: building the $ARCH image with mmdebstrap (log: $st/image-$ARCH.log)"
	if ! bash "$lib/image.sh" "$ARCH" "$tmp" >"$st/image-$ARCH.log" 2>&1; then
		tail -n 30 "$st/image-$ARCH.log" >&2
		echo "system-test: building the image failed" >&2
		exit 1
	fi
	mv "$tmp" "$img"
	image_cleanup
	trap - EXIT INT TERM
	# Older images of this architecture are of an older image.sh.
	local old
	for old in "$st/image-$ARCH-"*; do
		[[ $old == "$img" ]] || rm -rf "$old"
	done
	image_build_s=$((SECONDS - t0))
	image_how="built in $image_build_s s"
}

image_cleanup() {
	rm -rf "$st/.image-$ARCH-"*".$$"
	if [[ $binfmt_registered == 1 ]]; then
		echo -1 >/proc/sys/fs/binfmt_misc/qemu-aarch64 || true
		binfmt_registered=0
	fi
	if [[ $binfmt_mounted == 1 ]]; then
		umount /proc/sys/fs/binfmt_misc || true
		binfmt_mounted=0
	fi
}

# binfmt_setup: let the kernel run arm64 programs through qemu-user-static
# for mmdebstrap's maintainer scripts.
binfmt_setup() {
	local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
	[[ -f $conf ]] || {
		echo "system-test: $conf missing (Debian package qemu-user-static)" >&2
		exit 1
	}
	if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
		binfmt_mounted=1
	fi
	if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
		cat "$conf" >/proc/sys/fs/binfmt_misc/register
		binfmt_registered=1
	fi
}
