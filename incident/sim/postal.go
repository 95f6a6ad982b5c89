package sim

import "fmt"

// A customer's postal address on record, for letters (users_query's
// postal_address): made from the id and the region alone, with no random
// draw, so that every other value of a seed stays what it was. The lines
// are as the post wants them, without the name.
var (
	jpPlaces = map[string][2]string{ // region -> postcode prefix, prefecture and city
		"JP-13": {"100", "東京都千代田区"}, "JP-27": {"530", "大阪府大阪市北区"}, "JP-14": {"220", "神奈川県横浜市西区"},
		"JP-23": {"450", "愛知県名古屋市中村区"}, "JP-11": {"330", "埼玉県さいたま市大宮区"}, "JP-01": {"060", "北海道札幌市中央区"},
		"JP-40": {"812", "福岡県福岡市博多区"},
	}
	usPlaces = map[string][2]string{ // region -> city, state and ZIP prefix
		"US-CA": {"San Francisco, CA", "941"}, "US-NY": {"New York, NY", "100"}, "US-TX": {"Austin, TX", "787"},
		"US-WA": {"Seattle, WA", "981"}, "US-FL": {"Miami, FL", "331"}, "US-CO": {"Denver, CO", "802"}, "US-DE": {"Wilmington, DE", "198"},
	}
	euPlaces = map[string][3]string{ // region -> street, postcode and city, country line
		"DE-BY": {"Leopoldstraße", "80802 München", "DEUTSCHLAND"}, "DE-BE": {"Torstraße", "10119 Berlin", "DEUTSCHLAND"},
		"FR-IDF": {"rue de Rivoli", "75004 Paris", "FRANCE"}, "IE-D": {"Dame Street", "Dublin 2", "IRELAND"},
		"NL-NH": {"Keizersgracht", "1015 CJ Amsterdam", "NEDERLAND"}, "ES-MD": {"Calle de Alcalá", "28014 Madrid", "ESPAÑA"},
		"IT-RM": {"Via del Corso", "00186 Roma RM", "ITALIA"},
	}
)

func postalAddress(id int64, region string) string {
	n := id%97 + 1
	if p, ok := jpPlaces[region]; ok {
		return fmt.Sprintf("〒%s-%04d\n%s%d丁目%d番%d号\n日本", p[0], id%10000, p[1], id%5+1, id%20+1, n)
	}
	if p, ok := usPlaces[region]; ok {
		return fmt.Sprintf("%d Market Street Apt %d\n%s %s%02d\nUSA", 100+id%900, n, p[0], p[1], id%100)
	}
	if p, ok := euPlaces[region]; ok {
		if region == "FR-IDF" || region == "IE-D" {
			return fmt.Sprintf("%d %s\n%s\n%s", n, p[0], p[1], p[2])
		}
		return fmt.Sprintf("%s %d\n%s\n%s", p[0], n, p[1], p[2])
	}
	return ""
}

// emailConsent: about one customer in three agreed to receive notices
// electronically (from the id, no random draw).
func emailConsent(id int64) bool { return id%3 == 0 }
