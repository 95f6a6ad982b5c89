package deliver

import (
	"context"
	"fmt"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

// transport is how notices reach the other side: SMTP (smtp.go) or a
// webhook (webhook.go). The sender (the worker loop, claims, retries with
// backoff, doubt, progress, Result) is the same for all; a transport only
// opens sessions and classifies each try as a txResult.
type transport interface {
	// connect opens a session. A failure is a *connError: permanent ones
	// (TLS policy, credentials) stop the send, others are retried.
	connect(ctx context.Context) (session, error)
	// addr names the server in logs and errors: host:port, never
	// credentials.
	addr() string
	// name names the transport in logs ("SMTP", "webhook").
	name() string
}

// session is one worker's connection to the server: one message at a time.
type session interface {
	// send tries one message. It is bounded by timeout, never by a
	// context: a cancelled send lets the try finish. A txSenderRefused
	// result carries in err the error that stops the send.
	send(m *Message, timeout time.Duration) txResult
	// idle is the time since the session was last used.
	idle() time.Duration
	// alive checks a session that has been idle for a while.
	alive(timeout time.Duration) bool
	// close ends the session, without waiting long.
	close()
}

// closeSession closes a session that may be nil.
func closeSession(s session) {
	if s != nil {
		s.close()
	}
}

// newTransport makes the transport of opts.Channel.
func newTransport(opts *Options) (transport, error) {
	switch opts.Channel {
	case store.ChannelEmail:
		return parseServer(opts)
	case store.ChannelWebhook:
		return parseWebhook(opts)
	default:
		return nil, fmt.Errorf("deliver: channel %q is not sent by notify send (want %s or %s)", opts.Channel, store.ChannelEmail, store.ChannelWebhook)
	}
}

// outcome kinds of one try (an SMTP transaction, an HTTP request).
type txKind int

const (
	txSent          txKind = iota // accepted: 2xx after the message
	txTemporary                   // refused for now (SMTP 4xx; HTTP 408, 425, 429, 5xx): retried after a backoff
	txPermanent                   // refused for this person (SMTP 5xx; HTTP 4xx), or a message that cannot be sent
	txLostEarly                   // connection lost before the message was complete: not delivered
	txLostLate                    // connection lost after the message was complete, before the reply: unknown
	txSenderRefused               // the server refuses us, not the recipient (SMTP 5xx to MAIL FROM, authentication; HTTP 401, 403, 3xx), or nobody could send the message: stop
)

type txResult struct {
	kind  txKind
	reply string // the server's reply, scrubbed of addresses
	err   error  // for txSenderRefused, the error that stops the send
	close bool   // the connection is unusable
	// retryAfter: the server asks for no retry before this long (HTTP
	// Retry-After); a txTemporary waits for it when it is longer than
	// the backoff.
	retryAfter time.Duration
}
