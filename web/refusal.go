package web

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// refusalMsg is the message of every refusal line, the fixed part that
// log matchers (fail2ban and the like) anchor on. docs/logs.md documents the
// line; changing it breaks them.
const refusalMsg = "client refused"

// refusalLinesPerSecond bounds the refusal lines written per reason in each
// second, so that a flood of refused clients writes a few lines a second
// and the counters (webguard_tls_handshake_failures_total,
// webguard_http_auth_failures_total) carry the volume.
const refusalLinesPerSecond = 3

// refusalLog writes one line per refused client (a failed handshake or
// basic auth), rate-limited per reason. The first line of a reason after
// some were dropped carries suppressed=N, the number dropped since the last
// line of that reason. It never writes a password: basic auth lines name
// the user only when the user exists (see logAuth).
type refusalLog struct {
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	windows map[string]*refusalWindow // by reason, a fixed set of values
}

// refusalWindow counts the lines of one reason in the current second.
type refusalWindow struct {
	start      time.Time
	lines      int
	suppressed int
}

func newRefusalLog(logger *slog.Logger) *refusalLog {
	return &refusalLog{logger: logger, now: time.Now, windows: map[string]*refusalWindow{}}
}

// admit reports whether a line of reason may be written now and, if so, how
// many were suppressed before it.
func (l *refusalLog) admit(reason string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[reason]
	if w == nil {
		w = &refusalWindow{start: now}
		l.windows[reason] = w
	}
	if now.Sub(w.start) >= time.Second || now.Before(w.start) {
		w.start, w.lines = now, 0
	}
	if w.lines >= refusalLinesPerSecond {
		w.suppressed++
		return false, 0
	}
	w.lines++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed
}

// write logs one refusal line: remote and reason first, then attrs.
func (l *refusalLog) write(level slog.Level, remote, reason string, attrs ...any) {
	if !l.logger.Enabled(context.Background(), level) {
		return
	}
	ok, suppressed := l.admit(reason)
	if !ok {
		return
	}
	args := make([]any, 0, 4+len(attrs)+2)
	args = append(args, "remote", remote, "reason", reason)
	args = append(args, attrs...)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.logger.Log(context.Background(), level, refusalMsg, args...)
}

// logAuth logs a request refused by basic auth: at warn for a wrong
// password, with the user (who exists), at info otherwise, without the
// user: an unknown "user" may be a password typed into the wrong field.
func (l *refusalLog) logAuth(remote, reason, user string) {
	if reason == authWrongPassword {
		l.write(slog.LevelWarn, remote, reason, "user", user)
		return
	}
	l.write(slog.LevelInfo, remote, reason)
}

// refusedStale is the reason of a request refused because its connection
// was admitted under a config that has since been tightened (see
// Guard.refuseStale).
const refusedStale = "config_tightened"

// logStale logs a request refused with 421 because its connection no
// longer qualifies under the current config; err says what it lacks.
func (l *refusalLog) logStale(remote string, err error) {
	l.write(slog.LevelInfo, remote, refusedStale, "err", err.Error())
}

// logCert logs a handshake refused because of the client's certificate,
// with what it carries and what was wanted.
func (l *refusalLog) logCert(remote, reason string, r *certRefusal) {
	l.write(slog.LevelInfo, remote, reason, r.attrs()...)
}

// logHandshake logs a failed TLS handshake that refused no certificate in
// particular: no certificate, or no protocol in common. Failures that
// refuse nobody (the peer hung up, timeouts) are logged at debug,
// unlimited by the rate but also unseen by default.
func (l *refusalLog) logHandshake(remote, reason string, err error) {
	if reason == handshakeOther {
		l.logger.Debug("TLS handshake failed", "remote", remote, "reason", reason, "err", err.Error())
		return
	}
	l.write(slog.LevelInfo, remote, reason, "err", err.Error())
}
