package file

import "time"

// stamper formats timestamps as time.RFC3339Nano without formatting the
// date, time of day and zone again for every line: they are cached per
// second and location, and only the fraction is formatted per line.
type stamper struct {
	sec    int64
	loc    *time.Location
	valid  bool
	prefix []byte // "2006-01-02T15:04:05"
	zone   []byte // "Z" or "-07:00"
}

// cache makes the cached date, time of day and zone those of ts.
func (s *stamper) cache(ts time.Time) {
	sec, loc := ts.Unix(), ts.Location()
	if !s.valid || sec != s.sec || loc != s.loc {
		s.prefix = ts.AppendFormat(s.prefix[:0], "2006-01-02T15:04:05")
		s.zone = ts.AppendFormat(s.zone[:0], "Z07:00")
		s.sec, s.loc, s.valid = sec, loc, true
	}
}

// len returns the length of what append appends for ts.
func (s *stamper) len(ts time.Time) int {
	s.cache(ts)
	n := len(s.prefix) + len(s.zone)
	if ns := ts.Nanosecond(); ns != 0 {
		n += 10
		for ns%10 == 0 {
			ns /= 10
			n--
		}
	}
	return n
}

// append appends ts in RFC 3339 with nanoseconds (trailing zeros of the
// fraction removed, as time.RFC3339Nano does) to b.
func (s *stamper) append(b []byte, ts time.Time) []byte {
	s.cache(ts)
	b = append(b, s.prefix...)
	if ns := ts.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, s.zone...)
}
