package firmwarebridge

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Console defaults, used where a field is zero.
const (
	DefaultPrompt      = "edge> "
	DefaultMaxFailures = 3
	DefaultLockout     = time.Minute
	DefaultIdleLogout  = 15 * time.Minute
)

// Command is one console command.
type Command struct {
	Name string
	Help string // one line, shown by help
	// Run writes its answer to w, lines ended by "\n", at most 80
	// columns wide. An error is shown as "error: ...".
	Run func(w io.Writer, args []string) error
}

// Console is a command line on a serial port, for when the network is
// down. Set the fields, then Run it. A vanished port is reopened.
type Console struct {
	Port PortConfig
	// Password, when set, must be typed before any command; after
	// MaxFailures wrong ones in a row the console ignores logins for
	// Lockout. A wrong one more than Lockout after the last is a new row:
	// no faster to guess with than the lockout itself, and a rare
	// printable line out of noise does not add up over hours. Empty
	// lines (Enter pressed to wake the console) and line noise are not
	// attempts and do not count. Empty: no login.
	Password    string
	MaxFailures int           // default DefaultMaxFailures
	Lockout     time.Duration // default DefaultLockout
	// IdleLogout logs a session out after this long without input
	// (with a password only); default DefaultIdleLogout.
	IdleLogout time.Duration
	// NoEcho stops the console echoing typed characters, for a terminal
	// that echoes locally.
	NoEcho   bool
	Prompt   string // default DefaultPrompt
	Banner   string // shown when the port opens
	Commands []Command
	// OnChange hears the port open and go away; it must not block.
	OnChange func(LinkChange)
	Logger   *slog.Logger

	stats                                        linkStats
	commands, unknown, tooLong, failed, lockouts atomic.Uint64
	noise                                        atomic.Uint64
	now                                          func() time.Time // time.Now; tests move it
	failures                                     int              // wrong passwords in a row; owned by Run
	lastFailure                                  time.Time        // owned by Run
	lockedUntil                                  time.Time        // owned by Run
}

// Run serves the console until ctx ends; it returns nil then.
func (c *Console) Run(ctx context.Context) error {
	k := &keeper{cfg: c.Port, role: "console", log: c.Logger, onChange: c.OnChange, stats: &c.stats}
	return k.run(ctx, c.session)
}

// Counters returns the console's counters.
func (c *Console) Counters() map[string]uint64 {
	m := c.stats.counters()
	m["commands"] = c.commands.Load()
	m["unknown_commands"] = c.unknown.Load()
	m["lines_too_long"] = c.tooLong.Load()
	m["login_failures"] = c.failed.Load()
	m["lockouts"] = c.lockouts.Load()
	m["noise_lines"] = c.noise.Load()
	return m
}

// Down says why the port is not open, or "" while it is.
func (c *Console) Down() string { return c.stats.down() }

// consoleSession is one opening of the port.
type consoleSession struct {
	c      *Console
	p      port
	ed     Editor
	authed bool
	// noisy is set by a line of noise and cleared by a quiet readPoll:
	// in a burst of noise even a line that looks typed is noise.
	noisy    bool
	lastSeen time.Time
	out      []byte
}

func (c *Console) session(ctx context.Context, p port) error {
	s := &consoleSession{c: c, p: p, authed: c.Password == "", lastSeen: time.Now()}
	s.ed.Max = DefaultMaxLine
	s.ed.Echo = s.authed && !c.NoEcho
	// A terminal that stopped reading must not keep the agent from
	// stopping: dropping the pending output unblocks the write.
	defer unblockWrites(ctx, p, c.Port.baud())()
	if c.Banner != "" {
		s.say(c.Banner)
	}
	s.prompt()
	if err := s.flush(); err != nil {
		return err
	}
	return readLoop(ctx, p, &c.stats, func(chunk []byte) error {
		// Checked on every read, not only quiet ones: noise that never
		// stops must not keep a session logged in.
		s.idle()
		if len(chunk) == 0 {
			s.noisy = false
		}
		for _, b := range chunk {
			var r EditResult
			s.out, r = s.ed.Feed(b, s.out)
			s.result(r)
		}
		return s.flush()
	})
}

// isNoise says whether a line is line noise (a floating RX pin, a wrong
// speed) rather than typed: control bytes no key sends were dropped from
// it, or it is not UTF-8 (unless the password is not either), or it came
// in a burst with such lines, without a quiet readPoll between. Noise is never compared with the password, so not counting it
// as a failed login tells a guesser nothing.
func (s *consoleSession) isNoise(line string) bool {
	if s.noisy || s.ed.Stray() || (!utf8.ValidString(line) && utf8.ValidString(s.c.Password)) {
		s.noisy = true
		return true
	}
	return false
}

func (s *consoleSession) result(r EditResult) {
	c := s.c
	switch r {
	case EditNone:
		return
	case EditCancel:
	case EditTooLong:
		c.tooLong.Add(1)
		s.say(fmt.Sprintf("error: line too long (at most %d bytes); nothing run", s.ed.Max))
	case EditLine:
		line := s.ed.Line()
		if s.isNoise(line) {
			// Neither a login attempt nor a command, and no answer
			// beyond the prompt: noise must not lock the owner out.
			c.noise.Add(1)
			break
		}
		if line != "" {
			// Only what someone typed keeps a session alive: noise
			// and lone line ends from a floating pin do not.
			s.lastSeen = time.Now()
		}
		if !s.authed {
			s.login(line)
		} else {
			s.run(line)
		}
	}
	s.prompt()
}

func (s *consoleSession) prompt() {
	switch {
	case !s.authed:
		s.out = append(s.out, "Password: "...)
	case s.c.Prompt != "":
		s.out = append(s.out, s.c.Prompt...)
	default:
		s.out = append(s.out, DefaultPrompt...)
	}
}

// say adds text to the output, with the CR a raw terminal needs before
// every LF.
func (s *consoleSession) say(text string) {
	text = strings.TrimRight(text, "\n")
	s.out = append(s.out, strings.ReplaceAll(text, "\n", "\r\n")...)
	s.out = append(s.out, "\r\n"...)
}

func (s *consoleSession) flush() error {
	if len(s.out) == 0 {
		return nil
	}
	err := writeAll(s.p, &s.c.stats, s.out)
	s.out = s.out[:0]
	return err
}

func (s *consoleSession) login(typed string) {
	c := s.c
	if typed == "" {
		// Enter pressed to wake the console: the prompt again.
		return
	}
	now := c.clock()
	if now.Before(c.lockedUntil) {
		s.say(fmt.Sprintf("locked after %d failed logins: try again in %s", c.maxFailures(), c.lockedUntil.Sub(now).Round(time.Second)))
		return
	}
	if subtle.ConstantTimeCompare([]byte(typed), []byte(c.Password)) == 1 {
		c.failures = 0
		s.authed = true
		s.ed.Echo = !c.NoEcho
		s.say("logged in; type help for the commands")
		return
	}
	c.failed.Add(1)
	if now.Sub(c.lastFailure) > c.lockout() {
		c.failures = 0
	}
	c.lastFailure = now
	c.failures++
	if c.failures >= c.maxFailures() {
		c.failures = 0
		c.lockouts.Add(1)
		c.lockedUntil = now.Add(c.lockout())
		s.say(fmt.Sprintf("wrong password; locked for %s", c.lockout()))
		return
	}
	s.say("wrong password")
}

// idle logs out a session left alone, so a cable plugged in later does
// not find a console already logged in.
func (s *consoleSession) idle() {
	c := s.c
	limit := c.IdleLogout
	if limit <= 0 {
		limit = DefaultIdleLogout
	}
	if c.Password != "" && s.authed && time.Since(s.lastSeen) > limit {
		s.logout("logged out after " + limit.String() + " without input")
		s.prompt()
	}
}

func (s *consoleSession) logout(why string) {
	s.authed = false
	s.ed.Reset()
	s.ed.Echo = false
	s.say(why)
}

func (s *consoleSession) run(line string) {
	c := s.c
	args := strings.Fields(line)
	if len(args) == 0 {
		return
	}
	name := strings.ToLower(args[0])
	switch {
	case name == "help" || name == "?":
		c.commands.Add(1)
		s.say(c.help())
		return
	case name == "logout" && c.Password != "":
		c.commands.Add(1)
		s.logout("logged out")
		return
	}
	for _, cmd := range c.Commands {
		if cmd.Name == name {
			c.commands.Add(1)
			var b bytes.Buffer
			if err := cmd.Run(&b, args[1:]); err != nil {
				fmt.Fprintf(&b, "error: %v\n", err)
			}
			if b.Len() > 0 {
				s.say(b.String())
			}
			return
		}
	}
	c.unknown.Add(1)
	msg := fmt.Sprintf("unknown command %q", args[0])
	if near := c.nearest(name); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	s.say(msg + " Type help for the list.")
}

func (c *Console) help() string {
	var b strings.Builder
	b.WriteString("Commands:\n")
	line := func(name, help string) { fmt.Fprintf(&b, "  %-9s %s\n", name, help) }
	for _, cmd := range c.Commands {
		line(cmd.Name, cmd.Help)
	}
	line("help", "this list")
	if c.Password != "" {
		line("logout", "end the session; the password is asked again")
	}
	b.WriteString("Keys: Backspace/DEL edit, Ctrl-U clears the line, Ctrl-C drops it.")
	return b.String()
}

// nearest is the command a typo most likely meant, or "".
func (c *Console) nearest(typed string) string {
	best, bestD := "", 3 // more than two edits away is no guess
	for _, cmd := range c.Commands {
		if d := distance(typed, cmd.Name); d < bestD || (strings.HasPrefix(cmd.Name, typed) && len(typed) >= 2 && bestD > 0) {
			best, bestD = cmd.Name, min(d, 1)
		}
	}
	return best
}

// distance is the Levenshtein distance, for the few short names above.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (c *Console) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Console) maxFailures() int {
	if c.MaxFailures > 0 {
		return c.MaxFailures
	}
	return DefaultMaxFailures
}

func (c *Console) lockout() time.Duration {
	if c.Lockout > 0 {
		return c.Lockout
	}
	return DefaultLockout
}
