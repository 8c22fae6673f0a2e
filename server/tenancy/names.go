package tenancy

import (
	"regexp"

	"billing-api/server/fault"
)

var (
	// dnsLabel is a DNS-1123 label: the rule for tenant and namespace names.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// dns1035 is a DNS-1035 label: object names start with a letter.
	dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

// CheckLabel records a violation unless name is a DNS-1123 label of at most
// 63 characters.
func CheckLabel(v *fault.Violations, field, name string) {
	if name == "" || len(name) > 63 || !dnsLabel.MatchString(name) {
		v.Add(field, "pattern", "must be a DNS label: 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit")
	}
}

// CheckObjectName records a violation unless name is a DNS-1035 label.
func CheckObjectName(v *fault.Violations, field, name string) {
	if name == "" || len(name) > 63 || !dns1035.MatchString(name) {
		v.Add(field, "pattern", "must be a DNS-1035 name: 1-63 lower-case letters, digits or '-', starting with a letter and ending with a letter or digit")
	}
}
