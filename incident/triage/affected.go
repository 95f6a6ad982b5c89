package triage

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

// AffectedColumns are the CSV columns of `breachctl affected` (DESIGN.md).
var AffectedColumns = []string{"user_id", "level", "categories", "views", "viewers", "first_exposed", "last_exposed"}

func nullTime(v sql.NullTime) string {
	if !v.Valid {
		return ""
	}
	return v.Time.UTC().Format(time.RFC3339Nano)
}

// WriteAffectedCSV writes the affected accounts as CSV with a header row.
func WriteAffectedCSV(w io.Writer, rows []store.AffectedAccount) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(AffectedColumns); err != nil {
		return err
	}
	for _, a := range rows {
		rec := []string{a.UserID, a.Level, strings.Join(a.Categories, ";"), strconv.Itoa(a.Views), strconv.Itoa(a.Viewers),
			nullTime(a.FirstExposed), nullTime(a.LastExposed)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// AffectedJSON is one line of `breachctl affected --format jsonl`.
type AffectedJSON struct {
	UserID         string            `json:"user_id"`
	Level          string            `json:"level"`
	Categories     []string          `json:"categories"`
	Views          int               `json:"views"`
	Viewers        int               `json:"viewers"`
	FirstExposed   *time.Time        `json:"first_exposed"`
	LastExposed    *time.Time        `json:"last_exposed"`
	CategoryLevels map[string]string `json:"category_levels"`
	Country        string            `json:"country"`
	Region         string            `json:"region"`
	Locale         string            `json:"locale"`
	// Rules names the exposure rules that found the person, sorted.
	Rules []string `json:"rules"`
}

// WriteAffectedJSONL writes one JSON object per affected account.
func WriteAffectedJSONL(w io.Writer, rows []store.AffectedAccount) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, a := range rows {
		j := AffectedJSON{UserID: a.UserID, Level: a.Level, Categories: a.Categories, Views: a.Views, Viewers: a.Viewers,
			Country: a.Country, Region: a.Region, Locale: a.Locale, CategoryLevels: map[string]string{}}
		if j.Categories == nil {
			j.Categories = []string{}
		}
		j.Rules = a.Rules
		if len(j.Rules) == 0 {
			j.Rules = []string{store.DefaultRule}
		}
		if a.FirstExposed.Valid {
			t := a.FirstExposed.Time.UTC()
			j.FirstExposed = &t
		}
		if a.LastExposed.Valid {
			t := a.LastExposed.Time.UTC()
			j.LastExposed = &t
		}
		if len(a.CategoryLevels) > 0 {
			if err := json.Unmarshal(a.CategoryLevels, &j.CategoryLevels); err != nil {
				return fmt.Errorf("user %s category levels: %w", a.UserID, err)
			}
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return bw.Flush()
}
