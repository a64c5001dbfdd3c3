// Package health reads the device's health for the MQTT state message:
// uptime, load, CPU temperature, memory, disk, network counters, the
// Raspberry Pi firmware's throttling flags and the kernel clock's state.
//
// Everything comes from /proc and /sys, statfs, a read-only adjtimex and
// the kernel's interface list (netlink), never from running a program: the
// agent runs under a locked-down systemd unit and must not depend on what
// is installed. Both roots are fields of Collector, so tests read a fake
// tree.
package health
