package notify

// Dependencies the notify packages use, pinned here so that go mod tidy
// keeps them while the packages that use them are being written.
import (
	_ "github.com/emersion/go-smtp"
	_ "github.com/jordan-wright/email"
	_ "golang.org/x/text/width"
	_ "golang.org/x/time/rate"
)
