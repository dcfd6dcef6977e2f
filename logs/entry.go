package logs

import "github.com/prox-dev/prox/sdk"

// LogEntry is one line of a process's output. It is the SDK's type, so
// entries reach sink plugins without conversion.
type LogEntry = sdk.LogEntry

// DefaultMaxLineLength is the longest line kept as one entry; longer lines
// are split into several entries of at most this many bytes.
const DefaultMaxLineLength = 64 << 10
