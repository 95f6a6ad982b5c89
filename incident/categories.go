package incident

// Category is one kind of personal data, from a fixed vocabulary that notices,
// reports and the case file share.
type Category string

// The vocabulary. Labels and advice live with the notice templates; the
// order here is the order categories are listed in.
const (
	CatName            Category = "name"
	CatEmail           Category = "email"
	CatPhone           Category = "phone"
	CatPostalAddress   Category = "postal_address"
	CatDateOfBirth     Category = "date_of_birth"
	CatBankAccount     Category = "bank_account"
	CatPaymentCard     Category = "payment_card"
	CatPurchaseHistory Category = "purchase_history"
	CatAccountBalance  Category = "account_balance"
	CatGovernmentID    Category = "government_id"
	CatCredentials     Category = "credentials"
	CatHealth          Category = "health"
)

// Categories lists the vocabulary in display order.
var Categories = []Category{
	CatName, CatEmail, CatPhone, CatPostalAddress, CatDateOfBirth,
	CatBankAccount, CatPaymentCard, CatPurchaseHistory, CatAccountBalance,
	CatGovernmentID, CatCredentials, CatHealth,
}

// CategoryInfo holds what the law cares about for a category.
type CategoryInfo struct {
	// Financial: misuse may cause financial damage (APPI Rules Art. 7 (2)).
	Financial bool
	// Sensitive: special-care data (APPI 要配慮個人情報, GDPR Art. 9, HIPAA PHI).
	Sensitive bool
	// Identifier: a government identifier (US state laws: credit bureau contacts).
	Identifier bool
}

var categoryInfo = map[Category]CategoryInfo{
	CatBankAccount:  {Financial: true},
	CatPaymentCard:  {Financial: true},
	CatCredentials:  {Financial: true},
	CatGovernmentID: {Identifier: true},
	CatHealth:       {Sensitive: true},
}

// Info returns the legal traits of c.
func (c Category) Info() CategoryInfo { return categoryInfo[c] }

// ValidCategory reports whether s is in the vocabulary.
func ValidCategory(s string) bool {
	for _, c := range Categories {
		if string(c) == s {
			return true
		}
	}
	return false
}

// CategoryRank gives the display position of c (unknown categories sort last).
func CategoryRank(c Category) int {
	for i, v := range Categories {
		if v == c {
			return i
		}
	}
	return len(Categories)
}
