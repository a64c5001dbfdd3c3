// Package actions runs what the operator allowed a device to be asked to
// do over MQTT: restart (the agent), reboot and poweroff (through
// systemd-logind over D-Bus), and script:NAME (a program from the actions
// directory, /etc/edge-agent/actions.d by default).
//
// A request is a message on <prefix>/<device>/cmd/<action>. It runs only
// if it is not retained (retained messages are state, never commands),
// the action is in the allow-list, and, in signed mode (the default), the
// payload is a command signed with an SSH key in authorized_keys for this
// device and this action, with a counter above the last one accepted from
// that key (package authz has the wire format; the counter is on disk
// before the action runs). In broker mode the broker's ACLs are trusted
// and the payload is ignored, as a Home Assistant button sends "PRESS".
// Refusals carry a code: malformed, unknown_key, bad_signature, replay,
// wrong_device, wrong_action, not_allowed, retained, busy, failed,
// unsupported.
//
// A script must be a regular file directly in the directory (a symlink is
// refused), executable, owned by root or the agent's user and writable by
// nobody else, in a directory owned and writable the same way. It runs
// without a shell, with the signed command's args (at most 16 of at most
// 1 KiB), no standard input, only PATH in its environment, in its own
// process group. Its standard output and error are kept up to MaxOutput
// (64 KiB) and the rest is read and counted, so a script that prints
// without end neither blocks nor grows the agent. At ScriptTimeout (60 s),
// when the agent stops, and when the script exits, whatever is left of
// its process group is killed: nothing it started in the background
// outlives it. One run of each action at a time; another request for it
// meanwhile is refused as busy.
//
// Each action run is one log line naming the key that authorised it;
// refusals are counted, and logged at most once a minute per key (and
// once for all requests without a known key).
package actions
