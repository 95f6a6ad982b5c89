package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/notify"
)

type fakeContacts map[string]correlate.Contact

func (f fakeContacts) Contacts(_ context.Context, ids []string) (map[string]correlate.Contact, error) {
	out := map[string]correlate.Contact{}
	for _, id := range ids {
		if c, ok := f[id]; ok {
			out[id] = c
		}
	}
	return out, nil
}

func composer(t *testing.T, ids []string) *Composer {
	t.Helper()
	c, err := incident.Load("../testdata/case.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := notify.NewRenderer(c, notify.Options{Date: time.Date(2017, 6, 30, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	contacts := fakeContacts{}
	var accounts []store.AffectedAccount
	for i, id := range ids {
		accounts = append(accounts, store.AffectedAccount{UserID: id, Level: "confirmed", Categories: []string{"email"},
			CategoryLevels: json.RawMessage(`{"email":"confirmed"}`), Views: 1, Viewers: 1, Locale: "en"})
		contacts[id] = correlate.Contact{ID: id, Email: fmt.Sprintf("user%d@example.com", i), Locale: "en"}
	}
	return New(c, 1, accounts, r, contacts, 2)
}

// TestSendAcceptsWhatRenderWrites (issue 21, item 8): the ids that cannot be
// file names as they are (a colon, a slash, a backslash, a dot first, more
// than 200 bytes) are rendered to the outbox by Render and handed to the
// SMTP workers by Source: send refuses none of them.
func TestSendAcceptsWhatRenderWrites(t *testing.T) {
	ids := []string{"urn:user:1", "dept/42", `DOMAIN\taro`, ".profile", strings.Repeat("9", 240), "1001"}
	p := composer(t, ids)

	msgs, bad, err := p.Source()(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if reason, ok := bad[id]; ok {
			t.Errorf("send refuses user %q: %s", id, reason)
		} else if m := msgs[id]; m == nil || m.UserID != id {
			t.Errorf("send has no message for user %q: %+v", id, m)
		}
	}

	out, err := notify.NewOutbox(t.TempDir(), p.Case.ID)
	if err != nil {
		t.Fatal(err)
	}
	var done atomic.Int64
	st, err := p.Render(context.Background(), out, &done)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Rendered != len(ids) || st.Rejected != 0 {
		t.Errorf("render wrote %d and rejected %d (%v), want %d written", st.Rendered, st.Rejected, st.Rejections, len(ids))
	}
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(out.Dir(), notify.FileName(id))); err != nil {
			t.Errorf("user %q: %v", id, err)
		}
	}
}

// cancellingContacts cancels the render when asked for its second batch.
type cancellingContacts struct {
	fakeContacts
	calls  atomic.Int32
	cancel context.CancelFunc
}

func (c *cancellingContacts) Contacts(ctx context.Context, ids []string) (map[string]correlate.Contact, error) {
	if c.calls.Add(1) == 2 {
		c.cancel()
		return nil, ctx.Err()
	}
	return c.fakeContacts.Contacts(ctx, ids)
}

// TestRenderCancelled (issue 21, item 12): a render cancelled after its
// first batch, ended as notify render ends it (Abort), leaves no temporary
// file and no manifest.jsonl; the notices written so far stay.
func TestRenderCancelled(t *testing.T) {
	var ids []string
	for i := 0; i < BatchSize+300; i++ {
		ids = append(ids, fmt.Sprintf("urn:user:%d", i))
	}
	p := composer(t, ids)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Contacts = &cancellingContacts{fakeContacts: p.Contacts.(fakeContacts), cancel: cancel}
	out, err := notify.NewOutbox(t.TempDir(), p.Case.ID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Render(ctx, out, nil)
	if err == nil {
		t.Fatal("Render after a cancellation: no error")
	}
	if err := out.Abort(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(out.Dir())
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, e := range entries {
		switch {
		case strings.Contains(e.Name(), ".tmp-"):
			t.Errorf("temporary file %s left after a cancelled render", e.Name())
		case e.Name() == notify.ManifestFile:
			t.Errorf("manifest.jsonl after a cancelled render; want none until a render completes")
		default:
			files++
		}
	}
	if files != st.Rendered || st.Rendered == 0 || st.Rendered == len(ids) {
		t.Errorf("%d files for %d rendered notices of %d; want the first batch's", files, st.Rendered, len(ids))
	}
}
