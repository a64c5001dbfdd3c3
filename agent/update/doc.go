// Package update installs signed agent binaries into one of two slots
// and decides, at each start, which slot runs: a new version is on trial
// until it commits, and is rolled back if it does not.
//
// Layout, in the agent's state directory (writable under
// ProtectSystem=strict), all in <state>/slots (mode 0700):
//
//	a, b      the binaries (mode 0700)
//	current   "a\n" or "b\n": the slot that runs
//	state     JSON: each slot's version and SHA-256, the previous slot,
//	          the trial (slot, starts so far, starts allowed, failure
//	          recorded) and the last update's outcome (from, to,
//	          committed or rolled_back, reason)
//	.*.tmp-*  temporary files; what a crash leaves is removed at the
//	          next start or install
//
// Every change holds an exclusive flock on the slots directory (the
// launcher's too), and replaces a file by writing a temporary file,
// fsync, rename over the name, fsync of the directory. A switch records
// the trial in state before current names the new slot; a rollback
// points current back before state forgets the trial. So after a power
// cut at any step the layout names a slot whose binary is complete and
// verified, and a state whose trial is not the current slot is finished
// as a rollback. One version is on trial at a time: Install refuses
// another (busy) until it commits or rolls back.
//
// A candidate (Candidate: version, target, size, SHA-256 and an SSHSIG
// signature in the namespace edge-agent-update by a key in
// authorized_keys) is written to a temporary file of at most its
// announced size (MaxBinarySize, 64 MiB, by default) and checked for
// size, SHA-256, signature and the Go build target in the file before it
// is made executable, then run once as "version" (5 s, empty
// environment, no standard input, 4 KiB of output kept), which must
// print exactly the announced version and this device's GOOS/GOARCH/GOARM.
//
// The trial is counted in starts, never in time (the clock may jump):
// Launch counts each start of the version on trial, and after
// MaxAttempts (2) starts without Commit, or at the start after Fail, runs
// the previous slot again and records why.
package update
