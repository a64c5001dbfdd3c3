package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"edge-agent/agent/actions"
	"edge-agent/agent/authz"
	"edge-agent/agent/update"
)

// LauncherEnv names, in a slot's environment, the launcher that started
// it: a restart goes through it, so that the launcher decides which slot
// runs next.
const LauncherEnv = "EDGE_UPDATE_LAUNCHER"

// ErrUnhealthy is what Run returns when a version on trial did not come
// up healthy within the health window; the next start rolls it back.
var ErrUnhealthy = errors.New("agent: the new version is not healthy")

// updater installs signed updates and runs a new version's trial.
type updater struct {
	a     *Agent
	log   *slog.Logger
	cfg   UpdateConfig
	store *update.Store // nil when updates are off
	// slot is the slot this process runs from, as the launcher said; ""
	// when it was not started by the launcher.
	slot   update.Slot
	client *http.Client
	// keys are the verifier's, once the actions service bound.
	keys atomic.Pointer[func() *authz.Keys]
	// trial is set while this process is a version on trial.
	trial atomic.Bool
	// seen is the layout as last read, for the state document.
	seen atomic.Pointer[update.State]
	// broker: commands carry no args (EDGE_ACTIONS_AUTH=broker); install
	// takes the offer held, the latest message on offerTopic.
	broker    bool
	offer     atomic.Pointer[[]string]
	badOffers atomic.Uint64
}

func (a *Agent) newUpdater() *updater {
	u := &updater{a: a, log: a.log.With("service", "update"), cfg: a.cfg.UpdateConfig, slot: update.Slot(os.Getenv(update.SlotEnv)),
		broker: a.cfg.ActionsAuth == actions.Broker}
	if !u.cfg.Update {
		return u
	}
	dir, err := StateDir()
	if err != nil {
		u.log.Error("no state directory: updates off", "err", err)
		return u
	}
	u.store = update.Open(dir, update.Options{
		Keys: func() *authz.Keys {
			if k := u.keys.Load(); k != nil {
				return (*k)()
			}
			return nil
		},
		MaxBinarySize: int64(u.cfg.UpdateMaxSize),
		// One start: a version that fails its first is rolled back at
		// the next, within the health window and a restart.
		MaxAttempts: 1,
		Log:         u.log,
	})
	u.client = &http.Client{Timeout: u.cfg.UpdateDownloadTimeout}
	return u
}

// setKeys gives the updater the keys that may sign a binary.
func (u *updater) setKeys(keys func() *authz.Keys) { u.keys.Store(&keys) }

// updateArgs are a signed update command's args, in order.
const updateArgs = "VERSION URL SIZE SHA256"

// install is the update action: it downloads the binary and its
// signature (URL.sig) the signed command's args name (in broker mode, the
// offer held), installs them into the other slot as the version
// on trial, and restarts the agent through the launcher to start it.
func (u *updater) install(ctx context.Context, args []string) (string, error) {
	if u.store == nil {
		return "", errors.New("updates are off on this device (EDGE_UPDATE)")
	}
	if u.broker {
		var err error
		if args, err = u.offered(); err != nil {
			return "", err
		}
	}
	want, src, err := parseUpdateArgs(args, int64(u.cfg.UpdateMaxSize))
	if err != nil {
		return "", err
	}
	t := update.HostTarget()
	want.GOOS, want.GOARCH, want.GOARM = t.GOOS, t.GOARCH, t.GOARM
	ctx, cancel := context.WithTimeout(ctx, u.cfg.UpdateDownloadTimeout)
	defer cancel()
	u.phase("downloading", want.Version)
	sig, err := u.fetch(ctx, src+".sig", update.MaxSignatureSize)
	if err != nil {
		return "", err
	}
	sigData, err := io.ReadAll(sig.Body)
	sig.Body.Close()
	if err != nil {
		return "", &update.Refusal{Reason: update.Download, Message: "reading " + src + ".sig", Err: err}
	}
	want.Signature = string(sigData)
	body, err := u.fetch(ctx, src, want.Size)
	if err != nil {
		return "", err
	}
	defer body.Body.Close()
	if body.ContentLength >= 0 && body.ContentLength != want.Size {
		return "", &update.Refusal{Reason: update.Size, Message: fmt.Sprintf("%s is %d bytes, the command announced %d", src, body.ContentLength, want.Size)}
	}
	read := &phaseAtEOF{r: body.Body, at: func() { u.phase("verifying", want.Version) }}
	if err := u.store.Install(ctx, read, want); err != nil {
		return "", err
	}
	u.refresh()
	st, _ := u.store.State()
	u.phase("restarting", want.Version)
	if err := u.a.actions.restart(); err != nil {
		return "", err
	}
	return fmt.Sprintf("installed %s in slot %s; restarting to try it", want.Version, st.Current), nil
}

// fetch GETs src, refusing an answer other than 200 or a body the
// announced size could not hold.
func (u *updater) fetch(ctx context.Context, src string, max int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, &update.Refusal{Reason: update.Malformed, Message: "URL " + src, Err: err}
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, &update.Refusal{Reason: update.Download, Message: "GET " + src, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &update.Refusal{Reason: update.Download, Message: fmt.Sprintf("GET %s: %s", src, resp.Status)}
	}
	if resp.ContentLength > max {
		resp.Body.Close()
		return nil, &update.Refusal{Reason: update.Size, Message: fmt.Sprintf("%s is %d bytes, over the %d expected", src, resp.ContentLength, max)}
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, max+1), resp.Body}
	return resp, nil
}

// parseUpdateArgs reads VERSION URL SIZE SHA256. The version and the
// checksum are checked by the Candidate; the URL must be http or https.
func parseUpdateArgs(args []string, maxSize int64) (update.Candidate, string, error) {
	malformed := func(format string, a ...any) error {
		return &update.Refusal{Reason: update.Malformed, Message: fmt.Sprintf(format, a...) + "; update takes " + updateArgs}
	}
	if len(args) != 4 {
		return update.Candidate{}, "", malformed("%d args", len(args))
	}
	c := update.Candidate{Version: args[0], SHA256: strings.ToLower(args[3])}
	u, err := url.Parse(args[1])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return c, "", malformed("URL %.200q is not an http or https URL without user or fragment", args[1])
	}
	c.Size, err = strconv.ParseInt(args[2], 10, 64)
	if err != nil || c.Size < 1 {
		return c, "", malformed("size %.40q is not a positive number of bytes", args[2])
	}
	if c.Size > maxSize {
		return c, "", &update.Refusal{Reason: update.Size, Message: fmt.Sprintf("%d bytes is over EDGE_UPDATE_MAX_SIZE (%d)", c.Size, maxSize)}
	}
	return c, u.String(), nil
}

// phaseAtEOF calls at once, when the body has been read to its end.
type phaseAtEOF struct {
	r    io.Reader
	at   func()
	done bool
}

func (p *phaseAtEOF) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err == io.EOF && !p.done {
		p.done = true
		p.at()
	}
	return n, err
}

func (u *updater) phase(phase, version string) {
	u.a.events.add("update", map[string]string{"phase": phase, "version": version})
}
