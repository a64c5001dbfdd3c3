package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/crypto/ssh"

	"edge-agent/agent/actions"
	"edge-agent/agent/authz"
	"edge-agent/agent/update"
	"edge-agent/transport/mqtt/bridge"
)

// ErrRestart is what Run returns after the restart action stopped the
// agent cleanly: main then starts the same program again in the same
// process (same PID, arguments and environment), which reads its
// configuration and authorized_keys afresh.
var ErrRestart = errors.New("agent: restart requested")

// replayCountersFile is the name of the replay counters in the state
// directory (see StateDir).
const replayCountersFile = "replay-counters.json"

// StateDir is where the agent keeps what must survive a restart: the
// directory systemd made for it (StateDirectory=, passed as
// $STATE_DIRECTORY; /var/lib/edge-agent under the unit), else the
// working directory.
func StateDir() (string, error) {
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); d != "" {
		return d, nil
	}
	return os.Getwd()
}

// actionsService runs the actions the configuration allows, for the MQTT
// bridge (it is its bridge.Actions), and stops the agent for a restart.
type actionsService struct {
	a   *Agent
	log *slog.Logger
	cfg ActionsConfig
	// runner is replaced once, when the service binds; the status model
	// reads its counters at any time.
	runner atomic.Pointer[actions.Runner]
	// verifier is nil in broker mode or with nothing allowed.
	verifier *authz.Verifier
	// binaryKeys are the keys that sign update binaries in broker mode.
	binaryKeys atomic.Pointer[authz.Keys]

	mu   sync.Mutex
	stop context.CancelCauseFunc // the running agent's, for a restart
}

func (a *Agent) actionsService() *service {
	s := &actionsService{a: a, log: a.log.With("service", "actions"), cfg: a.cfg.ActionsConfig}
	a.actions = s
	addr := Off
	if len(a.cfg.allowedActions()) > 0 {
		addr = s.cfg.ActionsAuth.String()
	}
	// With nothing allowed, every action is refused (not_allowed) and
	// no key or counter is needed. Such a configuration cannot fail.
	r, _ := actions.New(actions.Config{Logger: s.log})
	s.runner.Store(r)
	return &service{name: "actions", envVar: Prefix + "_ACTIONS", addr: addr, counters: s, bind: s.bind}
}

// bind reads the authorized keys and opens the replay counters: a
// problem stops the start-up, naming the file.
func (s *actionsService) bind(addr string) (string, func(context.Context) error, error) {
	c := s.cfg
	cfg := actions.Config{
		Allowed:       s.a.cfg.allowedActions(),
		Dir:           c.ActionsDir,
		Auth:          c.ActionsAuth,
		DeviceID:      s.a.deviceID(),
		ScriptTimeout: c.ActionsScriptTimeout,
		MaxOutput:     int(c.ActionsMaxOutput),
		Logger:        s.log,
		Restart:       s.restart,
		Power:         actions.Logind{},
	}
	if c.ActionsAuth == actions.Signed {
		keys, err := loadKeys(c.ActionsAuthorizedKeys)
		if err != nil {
			return "", nil, &BindError{Service: "actions", Action: "read", Addr: c.ActionsAuthorizedKeys, Var: Prefix + "_ACTIONS_AUTHORIZED_KEYS", Err: err}
		}
		dir, err := StateDir()
		if err != nil {
			return "", nil, fmt.Errorf("state directory: %w", err)
		}
		path := filepath.Join(dir, replayCountersFile)
		store, err := authz.OpenStore(path)
		if err != nil {
			return "", nil, &BindError{Service: "actions", Action: "keep replay counters in", Addr: path, Var: "STATE_DIRECTORY (systemd's StateDirectory=, else the working directory)", Err: err}
		}
		s.verifier = authz.NewVerifier(keys, store)
		cfg.Verifier = s.verifier
		s.log.Info("authorized keys", "file", c.ActionsAuthorizedKeys, "keys", keys.Len(), "replay_counters", path)
	}
	if s.a.cfg.Update {
		// The binaries are signed in broker mode too: the keys are read
		// for them alone.
		if s.verifier == nil {
			keys, err := loadKeys(c.ActionsAuthorizedKeys)
			if err != nil {
				return "", nil, &BindError{Service: "actions", Action: "read", Addr: c.ActionsAuthorizedKeys, Var: Prefix + "_ACTIONS_AUTHORIZED_KEYS", Err: err}
			}
			s.binaryKeys.Store(keys)
			s.log.Info("authorized keys for update binaries", "file", c.ActionsAuthorizedKeys, "keys", keys.Len())
		}
		s.a.updates.setKeys(s.keys)
		cfg.Update = s.a.updates.install
	}
	r, err := actions.New(cfg)
	if err != nil {
		return "", nil, err
	}
	s.runner.Store(r)
	return addr + ": " + strings.Join(cfg.Allowed, ","), s.serve, nil
}

func loadKeys(path string) (*authz.Keys, error) {
	keys, err := authz.LoadAuthorizedKeys(path)
	if err == nil && keys.Len() == 0 {
		err = errors.New("no key in it: no one could sign an action")
	}
	return keys, err
}

// serve re-reads authorized_keys on SIGHUP, in signed mode, until ctx
// ends. A file that cannot be used leaves the keys in use as they were.
func (s *actionsService) serve(ctx context.Context) error {
	if s.verifier == nil && s.binaryKeys.Load() == nil {
		<-ctx.Done()
		return nil
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			path := s.cfg.ActionsAuthorizedKeys
			keys, err := loadKeys(path)
			if err != nil {
				s.log.Error("SIGHUP: keeping the authorized keys in use", "file", path, "err", err)
				continue
			}
			if s.verifier != nil {
				s.verifier.SetKeys(keys)
			} else {
				s.binaryKeys.Store(keys)
			}
			s.log.Info("SIGHUP: authorized keys read again", "file", path, "keys", keys.Len())
		}
	}
}

// keys are the keys in use: the verifier's, or in broker mode those read
// for update binaries.
func (s *actionsService) keys() *authz.Keys {
	if s.verifier != nil {
		return s.verifier.Keys()
	}
	return s.binaryKeys.Load()
}

// watchRestart lets the restart action stop the agent's Run, whose
// context is ctx's child; Run then returns ErrRestart.
func (s *actionsService) watchRestart(stop context.CancelCauseFunc) {
	s.mu.Lock()
	s.stop = stop
	s.mu.Unlock()
}

// restart is the runner's Restart: it returns at once, and the agent
// stops while the reply goes out (the bridge waits for it).
func (s *actionsService) restart() error {
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	if stop == nil {
		return errors.New("the agent is not running")
	}
	s.log.Info("stopping to restart")
	stop(ErrRestart)
	return nil
}

// Counters are the runner's.
func (s *actionsService) Counters() map[string]uint64 { return s.runner.Load().Counters() }

// IsAction tells the bridge which cmd/<name> topics are actions, allowed
// or not.
func (s *actionsService) IsAction(name string) bool {
	switch name {
	case actions.Restart, actions.Reboot, actions.PowerOff, actions.Update:
		return true
	}
	return strings.HasPrefix(name, actions.ScriptPrefix)
}

func (s *actionsService) Allowed() []string { return s.runner.Load().Allowed() }

// Handle runs the request and shapes its result for the reply: the key
// and counter the request claims where the runner did not get as far as
// verifying them (so the sender can match the reply), and the output cut
// to what fits the reply once written as JSON.
func (s *actionsService) Handle(ctx context.Context, action string, payload []byte, retained bool) (any, error) {
	res, err := s.runner.Load().Handle(ctx, action, payload, retained)
	if res.By == "" || res.Counter == 0 {
		by, counter := claims(payload)
		if res.By == "" {
			res.By = by
		}
		if res.Counter == 0 {
			res.Counter = counter
		}
	}
	limit := int(s.cfg.ActionsMaxOutput)
	if limit <= 0 {
		limit = actions.DefaultMaxOutput
	}
	var cut int64
	res.Output, cut = fitJSON(res.Output, limit)
	res.Truncated += cut
	reason := authz.ReasonOf(err)
	if recordedReason(err == nil, reason) {
		s.a.events.add("action", actionEvent{Action: action, OK: err == nil, Code: codeOf(err), By: res.By, Key: res.Key,
			Counter: res.Counter, ExitCode: res.ExitCode, DurationNS: int64(res.Duration)})
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), reason.String()+": ")
		if r := update.ReasonOf(err); r != 0 {
			msg = strings.TrimPrefix(msg, "update: "+r.String()+": ")
		}
		return res, &bridge.ActionError{Code: codeOf(err), Err: errors.New(msg)}
	}
	return res, nil
}

// Describe is the result of a request the bridge refuses itself (busy):
// what it claims, unverified.
func (s *actionsService) Describe(action string, payload []byte) any {
	by, counter := claims(payload)
	return actions.Result{Action: action, By: by, Counter: counter}
}

// claims reads the key fingerprint and counter a signed request claims,
// without verifying anything; zero values where it has none.
func claims(payload []byte) (by string, counter uint64) {
	p, err := authz.ParsePayload(payload)
	if err != nil {
		return "", 0
	}
	if sig, err := authz.ParseSignature(p.Signature); err == nil {
		by = ssh.FingerprintSHA256(sig.PublicKey)
	}
	if cmd, err := authz.ParseCommand([]byte(p.Command)); err == nil {
		counter = cmd.Counter
	}
	return by, counter
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	// An update refused for its binary says why in update's terms; the
	// runner reports it as failed.
	if r := update.ReasonOf(err); r != 0 {
		return r.String()
	}
	if r := authz.ReasonOf(err); r != 0 {
		return r.String()
	}
	return bridge.CodeFailed
}

// recordedReason says which requests become an events/action: those that
// ran, and refusals of requests whose signature verified (or, in broker
// mode, that the broker let through). Refusals anyone can provoke
// (malformed, unknown keys, bad signatures, actions not allowed) are only
// counted, so they cannot push other events out of the event log.
func recordedReason(ok bool, r authz.Reason) bool {
	switch {
	case ok:
		return true
	case r == authz.Replay, r == authz.WrongDevice, r == authz.WrongAction, r == authz.Busy, r == authz.Failed, r == authz.Unsupported:
		return true
	}
	return false
}

// actionEvent is the data of an events/action message.
type actionEvent struct {
	Action     string `json:"action"`
	OK         bool   `json:"ok"`
	Code       string `json:"code,omitempty"`
	By         string `json:"by,omitempty"`
	Key        string `json:"key,omitempty"`
	Counter    uint64 `json:"counter,omitempty"`
	ExitCode   int    `json:"exit_code"`
	DurationNS int64  `json:"duration_ns"`
}
