// Package templates embeds breachctl's notice and report templates. Each
// file is one locale and kind; --templates DIR overrides any of them.
package templates

import "embed"

// FS holds every template file.
//
//go:embed *.tmpl
var FS embed.FS
