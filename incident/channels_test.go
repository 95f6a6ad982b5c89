package incident

import (
	"errors"
	"strings"
	"testing"
)

func withChannels(t *testing.T, channels string) (*Case, error) {
	t.Helper()
	return Parse([]byte(readValid(t)+"  channels:\n"+channels), testEnv)
}

const standardPolicy = `    - {channel: email}
    - {channel: letter, when: [required, fallback], return_address: ["1-1 Example-cho", "Tokyo"]}
    - {channel: webhook, when: [always], url: "https://app.example.jp/notices"}
`

// TestChannelPolicyDecide: who is due on each channel, from the person's
// jurisdiction, consent and the outcome of the earlier channels.
func TestChannelPolicyDecide(t *testing.T) {
	c, err := withChannels(t, standardPolicy)
	if err != nil {
		t.Fatal(err)
	}
	st := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		channel string
		r       Reach
		want    Decision
	}{
		{"email always", ChannelEmail, Reach{Country: "JP"}, Due},
		{"webhook always, even after e-mail reached them", ChannelWebhook, Reach{Country: "JP", States: st("email", "sent")}, Due},
		{"letter: JP, e-mail not tried yet", ChannelLetter, Reach{Country: "JP"}, Waiting},
		{"letter: JP, e-mail pending", ChannelLetter, Reach{Country: "JP", States: st("email", "pending")}, Waiting},
		{"letter: JP, e-mail uncertain", ChannelLetter, Reach{Country: "JP", States: st("email", "uncertain")}, Waiting},
		{"letter: JP, e-mail sent", ChannelLetter, Reach{Country: "JP", States: st("email", "sent")}, NotDue},
		{"letter: JP, e-mail failed (no address)", ChannelLetter, Reach{Country: "JP", States: st("email", "failed")}, Due},
		{"letter: JP, e-mail bounced", ChannelLetter, Reach{Country: "JP", States: st("email", "bounced")}, Due},
		{"letter: US without consent, e-mail sent", ChannelLetter, Reach{Country: "US", States: st("email", "sent")}, Due},
		{"letter: us lower case", ChannelLetter, Reach{Country: "us", States: st("email", "sent")}, Due},
		{"letter: US with consent, e-mail sent", ChannelLetter, Reach{Country: "US", EmailConsent: true, States: st("email", "sent")}, NotDue},
		{"letter: US with consent, e-mail bounced", ChannelLetter, Reach{Country: "US", EmailConsent: true, States: st("email", "bounced")}, Due},
		{"letter: HIPAA without consent", ChannelLetter, Reach{Country: "DE", HIPAA: true}, Due},
		{"letter: HIPAA with consent, e-mail sent", ChannelLetter, Reach{Country: "DE", HIPAA: true, EmailConsent: true, States: st("email", "sent")}, NotDue},
		{"channel not in the policy", "fax", Reach{}, NotDue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Decide(tc.channel, tc.r); got != tc.want {
				t.Errorf("Decide(%s, %+v) = %v, want %v", tc.channel, tc.r, got, tc.want)
			}
		})
	}
}

// TestChannelFallbackChain: a fallback looks at every earlier channel that
// applies to the person, not only the one before it.
func TestChannelFallbackChain(t *testing.T) {
	c, err := withChannels(t, `    - {channel: webhook, url: "https://app.example.jp/n"}
    - {channel: email, when: [fallback]}
    - {channel: letter, when: [fallback], return_address: ["Tokyo"]}
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		states map[string]string
		email  Decision
		letter Decision
	}{
		{map[string]string{}, Waiting, Waiting},
		{map[string]string{"webhook": "sent"}, NotDue, NotDue},
		{map[string]string{"webhook": "failed"}, Due, Waiting},
		{map[string]string{"webhook": "failed", "email": "sent"}, Due, NotDue},
		{map[string]string{"webhook": "failed", "email": "bounced"}, Due, Due},
	}
	for _, tc := range tests {
		r := Reach{Country: "JP", States: tc.states}
		if got := c.Decide(ChannelEmail, r); got != tc.email {
			t.Errorf("%v: email %v, want %v", tc.states, got, tc.email)
		}
		if got := c.Decide(ChannelLetter, r); got != tc.letter {
			t.Errorf("%v: letter %v, want %v", tc.states, got, tc.letter)
		}
	}
}

func TestChannelPolicyDefaults(t *testing.T) {
	c, err := Parse([]byte(readValid(t)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	ps := c.Policies()
	if len(ps) != 1 || ps[0].Channel != ChannelEmail || strings.Join(ps[0].When, ",") != WhenAlways {
		t.Errorf("no notify.channels: policies %+v, want e-mail always", ps)
	}
	if _, ok := c.Policy(ChannelLetter); ok {
		t.Error("no notify.channels: a letter channel")
	}
	c, err = withChannels(t, "    - {channel: email}\n    - {channel: letter, return_address: [Tokyo]}\n")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Policy(ChannelLetter); strings.Join(p.When, ",") != WhenFallback || p.Paper != "auto" {
		t.Errorf("letter defaults: %+v, want fallback on auto paper", p)
	}
}

func TestChannelPolicyValidation(t *testing.T) {
	tests := []struct {
		name, channels, want string
	}{
		{"unknown channel", "    - {channel: fax}\n", `notify.channels[0].channel (line 43): "fax" is not a channel; use one of: email, letter, webhook`},
		{"no channel", "    - {when: [always]}\n", "notify.channels[0].channel (line 43): required: one of email, letter, webhook"},
		{"twice", "    - {channel: email}\n    - {channel: email}\n", "notify.channels[1].channel (line 44): email is listed twice"},
		{"bad when", "    - {channel: email, when: [sometimes]}\n", `"sometimes": use always, required (letters) or fallback`},
		{"required e-mail", "    - {channel: email, when: [required]}\n", "required applies to letters only"},
		{"first is a fallback", "    - {channel: email, when: [fallback]}\n", "the first channel cannot be only a fallback"},
		{"letter without return address", "    - {channel: email}\n    - {channel: letter}\n", "notify.channels[1].return_address (line 44): required for letters"},
		{"bad paper", "    - {channel: letter, paper: a5, return_address: [x]}\n", `"a5": use auto`},
		{"url on e-mail", "    - {channel: email, url: \"https://x.example\"}\n", "only a webhook channel has a url"},
		{"bad url", "    - {channel: webhook, url: \"ftp://x.example\"}\n", `"ftp://x.example" is not an https:// address`},
		{"return address on webhook", "    - {channel: webhook, return_address: [x]}\n", "only a letter channel has a return address"},
		{"return address with a line break", "    - {channel: letter, return_address: [\"a\\nb\"]}\n", "return_address[0]"},
		{"only required letters", "    - {channel: letter, when: [required], return_address: [x]}\n", "no channel reaches everyone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := withChannels(t, tc.channels)
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant one containing %q", err, tc.want)
			}
		})
	}
}
