package syslog

import (
	"sort"
	"strings"

	"github.com/prox-dev/prox/sdk"
)

// Severities (RFC 5424, section 6.2.1).
const (
	sevEmerg   = 0
	sevAlert   = 1
	sevCrit    = 2
	sevErr     = 3
	sevWarning = 4
	sevNotice  = 5
	sevInfo    = 6
	sevDebug   = 7
)

// facilities maps facility names to their codes (RFC 5424, section 6.2.1,
// with the names of syslog(3) and rsyslog).
var facilities = map[string]int{
	"kern":     0,
	"user":     1,
	"mail":     2,
	"daemon":   3,
	"auth":     4,
	"syslog":   5,
	"lpr":      6,
	"news":     7,
	"uucp":     8,
	"cron":     9,
	"authpriv": 10,
	"ftp":      11,
	"ntp":      12,
	"security": 13,
	"console":  14,
	"clock":    15,
	"local0":   16,
	"local1":   17,
	"local2":   18,
	"local3":   19,
	"local4":   20,
	"local5":   21,
	"local6":   22,
	"local7":   23,
}

// severities maps severity names, and their usual aliases, to their codes.
var severities = map[string]int{
	"emerg":     sevEmerg,
	"emergency": sevEmerg,
	"panic":     sevEmerg,
	"alert":     sevAlert,
	"crit":      sevCrit,
	"critical":  sevCrit,
	"err":       sevErr,
	"error":     sevErr,
	"warning":   sevWarning,
	"warn":      sevWarning,
	"notice":    sevNotice,
	"info":      sevInfo,
	"debug":     sevDebug,
}

// lookupName returns the code of name (case-insensitive) in table, or an
// error listing the accepted names.
func lookupName(what, name string, table map[string]int) (int, error) {
	if code, ok := table[strings.ToLower(name)]; ok {
		return code, nil
	}
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, sdk.AttributeErrorf(what, "unknown %s %q (one of %s)", what, name, strings.Join(names, ", "))
}
