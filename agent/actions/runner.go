package actions

import (
	"context"
	"sync"
	"time"

	"edge-agent/agent/authz"
)

// ByBroker is Result.By for an action authorised by the broker's ACLs.
const ByBroker = "broker"

// Result is what an action did, for the reply.
type Result struct {
	Action string `json:"action"`
	// By is who authorised it: the SHA256 fingerprint of the key that
	// signed it, or "broker".
	By string `json:"by"`
	// Key is the comment of that key in authorized_keys (user@host).
	Key string `json:"key,omitempty"`
	// Counter is the signed command's counter.
	Counter uint64 `json:"counter,omitempty"`
	// Output is the start of a script's standard output and error, at
	// most MaxOutput bytes (JSON turns bytes that are not UTF-8 into
	// U+FFFD); Truncated counts the bytes dropped after it.
	Output    string `json:"output,omitempty"`
	Truncated int64  `json:"truncated_bytes,omitempty"`
	// ExitCode is a script's exit status, -1 if it was killed; 0 for the
	// other actions.
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration_ns"`
}

// Runner runs allowed actions for those allowed to ask. Its methods may
// be called from several goroutines.
type Runner struct {
	cfg     Config
	allowed map[string]string // action -> script name ("" for the others)
	stats   stats

	mu      sync.Mutex
	running map[string]bool
}

// New returns a Runner for cfg, or the error of cfg.Validate.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Runner{cfg: cfg, allowed: map[string]string{}, running: map[string]bool{}}
	for _, a := range cfg.Allowed {
		r.allowed[a], _ = ParseAction(a)
	}
	r.stats.init(cfg.Logger)
	return r, nil
}

// Handle authorises and runs action for a message on its topic, and
// returns once the action is done: a script when it exits, reboot and
// poweroff once logind took the request, restart once the agent was asked
// to restart. It may block for as long as a script runs (ScriptTimeout at
// most), so the caller runs it off the MQTT client's goroutine.
//
// A retained message is refused (retained) and never run; an action not
// in the allow-list is refused (not_allowed). In signed mode payload must
// be a command signed by an authorized key for this device and this
// action, with a fresh counter, which is recorded before the action runs;
// in broker mode payload is ignored. A second request for an action that
// is running is refused (busy). Errors are *authz.Refusal; a script that
// ran and failed gives a Result with its output and exit code as well.
func (r *Runner) Handle(ctx context.Context, action string, payload []byte, retained bool) (Result, error) {
	start := time.Now()
	res, by, err := r.handle(ctx, action, payload, retained)
	if err != nil && authz.ReasonOf(err) == 0 {
		err = &authz.Refusal{Reason: authz.Failed, Message: action, Err: err}
	}
	ran := res.Action != ""
	if err != nil {
		// A run is logged below, whatever its outcome; refusals before
		// it only at a bounded rate.
		r.stats.refused(authz.ReasonOf(err), by, action, err, !ran)
	}
	res.Action, res.Duration = action, time.Since(start)
	if ran {
		r.logRun(res, err)
	}
	return res, err
}

// handle returns a Result with its Action set only if the action ran, and
// by, who authorised it (or the key that tried), for the refusal log.
func (r *Runner) handle(ctx context.Context, action string, payload []byte, retained bool) (res Result, by string, err error) {
	if retained {
		return res, "", authz.Refuse(authz.Retained, "a retained message is state, never a command: clear it with an empty retained message on its topic (mosquitto_pub -r -n -t TOPIC)")
	}
	script, ok := r.allowed[action]
	if !ok {
		return res, "", authz.Refuse(authz.NotAllowed, "%.80q is not allowed on this device; allowed: %s", action, r.cfg.allowedList())
	}
	var args []string
	switch r.cfg.Auth {
	case Broker:
		res.By = ByBroker
	default:
		cmd, key, err := r.cfg.Verifier.Verify(payload, r.cfg.DeviceID, action)
		if err != nil {
			return res, key.Fingerprint, err
		}
		if script == "" && action != Update && len(cmd.Args) > 0 {
			return res, key.Fingerprint, authz.Refuse(authz.Malformed, "%s takes no args", action)
		}
		if err := r.cfg.Verifier.Commit(key, cmd.Counter); err != nil {
			return res, key.Fingerprint, err
		}
		res.By, res.Key, res.Counter, args = key.Fingerprint, key.Comment, cmd.Counter, cmd.Args
	}
	r.stats.accepted.Add(1)
	if !r.claim(action) {
		return res, res.By, authz.Refuse(authz.Busy, "%s is running already", action)
	}
	defer r.release(action)

	r.stats.runs.Add(1)
	res.Action = action
	switch action {
	case Restart:
		err = r.cfg.Restart()
	case Reboot:
		err = r.cfg.Power.Reboot(ctx)
	case PowerOff:
		err = r.cfg.Power.PowerOff(ctx)
	case Update:
		res.Output, err = r.cfg.Update(ctx, args)
	default:
		err = r.runScript(ctx, script, args, &res)
	}
	if err != nil {
		r.stats.failures.Add(1)
	}
	return res, res.By, err
}

func (r *Runner) logRun(res Result, err error) {
	attrs := []any{"action", res.Action, "by", res.By}
	if res.Key != "" {
		attrs = append(attrs, "key", res.Key, "counter", res.Counter)
	}
	attrs = append(attrs, "duration", res.Duration.Round(time.Millisecond))
	if res.Output != "" || res.ExitCode != 0 {
		attrs = append(attrs, "exit_code", res.ExitCode, "output_bytes", int64(len(res.Output))+res.Truncated)
	}
	if err != nil {
		r.cfg.Logger.Warn("action failed", append(attrs, "err", err)...)
		return
	}
	r.cfg.Logger.Info("action", attrs...)
}

func (r *Runner) runScript(ctx context.Context, name string, args []string, res *Result) error {
	path, err := scriptPath(r.cfg.Dir, name)
	if err != nil {
		return err
	}
	run, err := runScript(ctx, path, args, r.cfg.ScriptTimeout, r.cfg.MaxOutput)
	res.Output, res.Truncated, res.ExitCode = string(run.output), run.truncated, run.exitCode
	switch {
	case err != nil:
		return &authz.Refusal{Reason: authz.Failed, Message: "cannot run " + path, Err: err}
	case run.timedOut:
		r.stats.timeouts.Add(1)
		return authz.Refuse(authz.Failed, "script:%s was killed after %v (the timeout), with every process it started", name, r.cfg.ScriptTimeout)
	case run.cancelled:
		return &authz.Refusal{Reason: authz.Failed, Message: "script:" + name + " was killed: the agent is stopping", Err: ctx.Err()}
	case run.exitCode != 0:
		return authz.Refuse(authz.Failed, "script:%s exited with status %d", name, run.exitCode)
	}
	return nil
}

func (r *Runner) claim(action string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[action] {
		return false
	}
	r.running[action] = true
	return true
}

func (r *Runner) release(action string) {
	r.mu.Lock()
	delete(r.running, action)
	r.mu.Unlock()
}

// Allowed returns the allow-list.
func (r *Runner) Allowed() []string { return append([]string(nil), r.cfg.Allowed...) }

// Counters returns accepted (requests authorised: allowed, and signed
// with a fresh counter or let through by the broker), runs (actions
// started: accepted less busy), failures (runs that failed: a script's
// non-zero exit or timeout, logind refusing), timeouts (scripts killed at
// ScriptTimeout) and refused_<code> for every reason a request got an
// error reply, failed runs included.
func (r *Runner) Counters() map[string]uint64 {
	return r.stats.counters()
}
