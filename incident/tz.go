package incident

import (
	"strings"
	"time"
)

// zoneByRegion gives the time zone of ISO 3166-2 regions whose country
// spans several zones; zoneByCountry the zone of the rest.
var zoneByRegion = map[string]string{
	"US-CA": "America/Los_Angeles", "US-WA": "America/Los_Angeles", "US-OR": "America/Los_Angeles", "US-NV": "America/Los_Angeles",
	"US-AZ": "America/Phoenix", "US-CO": "America/Denver", "US-UT": "America/Denver", "US-NM": "America/Denver",
	"US-MT": "America/Denver", "US-WY": "America/Denver", "US-ID": "America/Boise",
	"US-TX": "America/Chicago", "US-IL": "America/Chicago", "US-MN": "America/Chicago", "US-WI": "America/Chicago",
	"US-MO": "America/Chicago", "US-LA": "America/Chicago", "US-AL": "America/Chicago", "US-OK": "America/Chicago",
	"US-KS": "America/Chicago", "US-NE": "America/Chicago", "US-IA": "America/Chicago", "US-AR": "America/Chicago",
	"US-MS": "America/Chicago", "US-TN": "America/Chicago", "US-ND": "America/Chicago", "US-SD": "America/Chicago",
	"US-AK": "America/Anchorage", "US-HI": "Pacific/Honolulu",
	"CA-BC": "America/Vancouver", "CA-AB": "America/Edmonton", "CA-ON": "America/Toronto", "CA-QC": "America/Toronto",
	"AU-WA": "Australia/Perth", "AU-NSW": "Australia/Sydney", "AU-VIC": "Australia/Melbourne", "AU-QLD": "Australia/Brisbane",
	"ES-CN": "Atlantic/Canary", "PT-20": "Atlantic/Azores", "PT-30": "Atlantic/Madeira",
}

var zoneByCountry = map[string]string{
	"JP": "Asia/Tokyo", "US": "America/New_York", "CA": "America/Toronto", "AU": "Australia/Sydney",
	"GB": "Europe/London", "IE": "Europe/Dublin", "PT": "Europe/Lisbon", "ES": "Europe/Madrid", "FR": "Europe/Paris",
	"DE": "Europe/Berlin", "NL": "Europe/Amsterdam", "BE": "Europe/Brussels", "LU": "Europe/Luxembourg",
	"IT": "Europe/Rome", "AT": "Europe/Vienna", "CH": "Europe/Zurich", "DK": "Europe/Copenhagen", "SE": "Europe/Stockholm",
	"NO": "Europe/Oslo", "FI": "Europe/Helsinki", "PL": "Europe/Warsaw", "CZ": "Europe/Prague", "SK": "Europe/Bratislava",
	"HU": "Europe/Budapest", "SI": "Europe/Ljubljana", "HR": "Europe/Zagreb", "RO": "Europe/Bucharest", "BG": "Europe/Sofia",
	"GR": "Europe/Athens", "CY": "Asia/Nicosia", "MT": "Europe/Malta", "EE": "Europe/Tallinn", "LV": "Europe/Riga",
	"LT": "Europe/Vilnius", "IS": "Atlantic/Reykjavik", "LI": "Europe/Vaduz",
	"KR": "Asia/Seoul", "CN": "Asia/Shanghai", "TW": "Asia/Taipei", "HK": "Asia/Hong_Kong", "SG": "Asia/Singapore",
	"IN": "Asia/Kolkata", "NZ": "Pacific/Auckland", "BR": "America/Sao_Paulo", "MX": "America/Mexico_City",
}

// EUCountries are the member states of the European Union; with the EEA
// states (IS, LI, NO) they are where GDPR applies.
var EUCountries = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true, "FI": true,
	"FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true, "LU": true,
	"MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
	"IS": true, "LI": true, "NO": true,
}

// ZoneFor returns the time zone to show a person times in: their region's,
// else their country's, else fallback (the case's time zone).
func ZoneFor(country, region string, fallback *time.Location) *time.Location {
	name := zoneByRegion[strings.ToUpper(region)]
	if name == "" {
		name = zoneByCountry[strings.ToUpper(country)]
	}
	if name != "" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	if fallback == nil {
		return time.UTC
	}
	return fallback
}
