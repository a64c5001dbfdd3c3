// Package authz decides whether a signed command may run: OpenSSH SSHSIG
// signatures by keys in an authorized_keys file, and per-key replay
// counters kept on the device. It also signs commands, for the operator's
// side.
//
// The payload of a signed command (at most 16 KiB) is
//
//	{"command": "<signed text>", "signature": "-----BEGIN SSH SIGNATURE-----\n..."}
//
// and the signed text is compact JSON
//
//	{"device":"pi-1","action":"reboot","args":["a","b"],"counter":1764547200123456789}
//
// with args optional (at most 16, of at most 1 KiB each, UTF-8 without
// NUL) and counter an integer from 1 to 2^63-1, the signer's Unix time in
// nanoseconds by convention. The signature is over the exact bytes of the
// text, in the namespace edge-agent, so ssh-keygen is a valid client:
//
//	printf '%s' '{"device":"pi-1","action":"reboot","counter":1}' >cmd
//	ssh-keygen -Y sign -n edge-agent -f ~/.ssh/id_ed25519 cmd   # writes cmd.sig
//
// and the payload is {"command": <contents of cmd>, "signature": <contents
// of cmd.sig>}. The device verifies the signature first, then parses the
// text strictly (no unknown or repeated keys, which JSON readers resolve
// differently), then checks that it names this device and the topic's
// action. CheckSignature and Signed.Verify are that signature check for
// any namespace and a message read as a stream: the key and namespace
// before the message is read, then the signature over it (agent/update
// checks binaries so).
//
// Replays are refused with a counter per key (SHA256 fingerprint): a
// command is accepted only if its counter is above the last one accepted
// from its key, and the new counter is on disk (temporary file, fsync,
// rename, directory fsync) before the command runs, so a reboot command
// cannot be replayed after the reboot. The device's clock is never used:
// it may be days off before NTP syncs.
//
// authorized_keys is read in OpenSSH's format (at most 1 MiB and 1,000
// keys). Options that only shape SSH sessions (no-pty, restrict,
// permitopen=, ...) are ignored; any other (command=, from=,
// expiry-time=, cert-authority, ...) makes the file an error, because
// ignoring it would give the key more power here than sshd gives it.
// Certificates, DSA keys and RSA keys under 2048 bits are refused too.
//
// Refusals are *Refusal errors carrying a Reason, whose String is the
// code a reply carries: malformed, unknown_key, bad_signature, replay,
// wrong_device, wrong_action, not_allowed, retained, busy, failed,
// unsupported.
package authz
