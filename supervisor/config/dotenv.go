package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// DotenvError is a malformed line of a dotenv file.
type DotenvError struct {
	// Line is the line's number, from 1.
	Line int
	// Err says what is wrong with it.
	Err error
}

func (e *DotenvError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Err) }

func (e *DotenvError) Unwrap() error { return e.Err }

var dotenvKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// ParseDotenv parses a dotenv file: one KEY=VALUE per line, optionally
// preceded by "export ". Blank lines and lines starting with '#' are
// ignored. A value may be single-quoted (taken literally), double-quoted
// (with the escapes \n, \r, \t, \", \\ and \$) or unquoted (surrounding
// spaces and a trailing " # comment" removed). A later key overrides an
// earlier one. The error of a malformed line names its line number.
func ParseDotenv(r io.Reader) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			line = strings.TrimSpace(rest)
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &DotenvError{Line: n, Err: errors.New("expected KEY=VALUE")}
		}
		key = strings.TrimSpace(key)
		if !dotenvKeyRe.MatchString(key) {
			return nil, &DotenvError{Line: n, Err: fmt.Errorf("invalid variable name %q", key)}
		}
		val, err := dotenvValue(strings.TrimSpace(raw))
		if err != nil {
			return nil, &DotenvError{Line: n, Err: fmt.Errorf("%s: %w", key, err)}
		}
		env[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dotenv: %w", err)
	}
	return env, nil
}

// dotenvValue decodes the trimmed text after '='.
func dotenvValue(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	switch raw[0] {
	case '\'':
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated single-quoted value")
		}
		return raw[1 : 1+end], trailingComment(raw[2+end:])
	case '"':
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			c := raw[i]
			switch {
			case c == '"':
				return b.String(), trailingComment(raw[i+1:])
			case c == '\\' && i+1 < len(raw):
				i++
				switch raw[i] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case '"', '\\', '$':
					b.WriteByte(raw[i])
				default:
					b.WriteByte('\\')
					b.WriteByte(raw[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("unterminated double-quoted value")
	case '#':
		return "", nil
	}
	if i := strings.Index(raw, " #"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "\t#"); i >= 0 {
		raw = raw[:i]
	}
	return strings.TrimSpace(raw), nil
}

// trailingComment checks that only blanks or a comment follow a quoted value.
func trailingComment(rest string) error {
	rest = strings.TrimSpace(rest)
	if rest == "" || strings.HasPrefix(rest, "#") {
		return nil
	}
	return fmt.Errorf("unexpected %q after quoted value", rest)
}
