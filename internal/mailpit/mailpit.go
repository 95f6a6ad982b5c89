// Package mailpit starts a private Mailpit (a real SMTP server with an HTTP
// API) for tests, and reads back what it received.
package mailpit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Mailpit release the tests are written against.
const Version = "v1.27.11"

// InstallHint says how to get the binary.
const InstallHint = "mailpit not installed: run make test (it installs it) or go install github.com/axllent/mailpit@" + Version

// Flags returns the command-line flags every test server gets, besides its
// addresses and database: up to 200,000 messages kept, any SMTP credentials
// accepted, also without TLS (the sender's own policy is what the tests
// exercise), no reverse DNS, no update check, only errors logged.
func Flags() []string {
	return []string{
		"--max", "200000",
		"--smtp-auth-accept-any",
		"--smtp-auth-allow-insecure",
		"--smtp-disable-rdns",
		"--disable-version-check",
		"--quiet",
	}
}

// Server is a running Mailpit.
type Server struct {
	// SMTPAddr and HTTPAddr are host:port on loopback.
	SMTPAddr string
	HTTPAddr string
	cmd      *exec.Cmd
	exited   chan struct{}
	client   *http.Client
	once     sync.Once
}

// Binary finds the mailpit executable: in PATH, then $GOBIN, then
// $(go env GOPATH)/bin.
func Binary() (string, error) {
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) >= 1 && strings.TrimSpace(lines[0]) != "" {
			dirs = append(dirs, strings.TrimSpace(lines[0]))
		}
		if len(lines) >= 2 {
			for _, gp := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(gp, "bin"))
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "mailpit")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(InstallHint)
}

// Start launches a private Mailpit on free loopback ports with its database
// in a temporary directory, waits until it answers, and stops it when the
// test ends. The test fails when the binary is missing.
func Start(t testing.TB, extraFlags ...string) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for try := 0; try < 3; try++ {
		s, err := start(t, bin, extraFlags)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("mailpit: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, extra []string) (*Server, error) {
	smtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		SMTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(smtpPort)),
		HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		exited:   make(chan struct{}),
		client:   &http.Client{Timeout: 30 * time.Second},
	}
	dir := t.TempDir()
	args := append([]string{
		"--smtp", s.SMTPAddr,
		"--listen", s.HTTPAddr,
		"--database", filepath.Join(dir, "mp.db"),
	}, Flags()...)
	args = append(args, extra...)
	logf, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.exited:
			out, _ := os.ReadFile(filepath.Join(dir, "mailpit.log"))
			return nil, fmt.Errorf("mailpit exited at start: %s", strings.TrimSpace(string(out)))
		default:
		}
		if s.ready() {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("mailpit did not answer on %s / %s within 20s", s.SMTPAddr, s.HTTPAddr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) ready() bool {
	resp, err := s.client.Get("http://" + s.HTTPAddr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	c, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop kills the server and waits for it to exit (also done at cleanup).
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
		}
		<-s.exited
	})
}

// SMTPURL is the sender's URL for this server.
func (s *Server) SMTPURL() string { return "smtp://" + s.SMTPAddr }

// Summary is one stored message, as Mailpit's message list shows it.
type Summary struct {
	ID        string
	MessageID string   // without angle brackets
	To        []string // addresses
}

type listResponse struct {
	Total    int `json:"total"`
	Messages []struct {
		ID        string `json:"ID"`
		MessageID string `json:"MessageID"`
		To        []struct {
			Address string `json:"Address"`
		} `json:"To"`
	} `json:"messages"`
}

func (s *Server) list(ctx context.Context, start, limit int) (*listResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://%s/api/v1/messages?start=%d&limit=%d", s.HTTPAddr, start, limit), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/messages: %s", resp.Status)
	}
	var lr listResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
		return nil, fmt.Errorf("GET /api/v1/messages: %w", err)
	}
	return &lr, nil
}

// Messages returns every stored message, paging through /api/v1/messages
// (newest first).
func (s *Server) Messages(t testing.TB) []Summary {
	t.Helper()
	const page = 1000
	var out []Summary
	for start := 0; ; start += page {
		lr, err := s.list(context.Background(), start, page)
		if err != nil {
			t.Fatalf("mailpit: %v", err)
		}
		for _, m := range lr.Messages {
			sm := Summary{ID: m.ID, MessageID: strings.Trim(m.MessageID, "<>")}
			for _, a := range m.To {
				sm.To = append(sm.To, a.Address)
			}
			out = append(out, sm)
		}
		if len(lr.Messages) < page || start+page >= lr.Total {
			break
		}
	}
	return out
}

// Count returns the number of stored messages.
func (s *Server) Count(t testing.TB) int {
	t.Helper()
	lr, err := s.list(context.Background(), 0, 0)
	if err != nil {
		t.Fatalf("mailpit: %v", err)
	}
	return lr.Total
}

// DeleteAll removes every stored message.
func (s *Server) DeleteAll(t testing.TB) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, "http://"+s.HTTPAddr+"/api/v1/messages", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("mailpit: delete all: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit: delete all: %s", resp.Status)
	}
}
