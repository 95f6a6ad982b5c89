package mailpit

import (
	"fmt"
	"net/smtp"
	"testing"
)

func TestStartSendList(t *testing.T) {
	s := Start(t)
	if n := s.Count(t); n != 0 {
		t.Fatalf("Count() on a new server = %d, want 0", n)
	}
	const n = 3
	for i := 0; i < n; i++ {
		msg := fmt.Sprintf("From: a@example.test\r\nTo: u%d@example.test\r\nSubject: hi\r\nMessage-ID: <m%d@example.test>\r\n\r\nhello\r\n", i, i)
		if err := smtp.SendMail(s.SMTPAddr, nil, "a@example.test", []string{fmt.Sprintf("u%d@example.test", i)}, []byte(msg)); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
	}
	if got := s.Count(t); got != n {
		t.Errorf("Count() = %d, want %d", got, n)
	}
	msgs := s.Messages(t)
	if len(msgs) != n {
		t.Fatalf("Messages() returned %d, want %d", len(msgs), n)
	}
	seen := map[string]string{}
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Fatalf("message %s To = %v, want one address", m.ID, m.To)
		}
		seen[m.MessageID] = m.To[0]
	}
	for i := 0; i < n; i++ {
		id, to := fmt.Sprintf("m%d@example.test", i), fmt.Sprintf("u%d@example.test", i)
		if seen[id] != to {
			t.Errorf("message %s: To = %q, want %q", id, seen[id], to)
		}
	}
	s.DeleteAll(t)
	if got := s.Count(t); got != 0 {
		t.Errorf("Count() after DeleteAll = %d, want 0", got)
	}
}
