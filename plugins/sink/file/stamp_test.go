package file

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStamperMatchesRFC3339Nano(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", -7*3600), time.FixedZone("", 5*3600+30*60)}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		zones = append(zones, ny) // crosses DST changes
	}
	var s stamper
	r := rand.New(rand.NewPCG(1, 2))
	ts := time.Date(2020, 3, 8, 6, 59, 58, 0, time.UTC)
	for i := range 100000 {
		// Mostly small steps (same second, next second), sometimes jumps.
		switch i % 4 {
		case 0:
			ts = ts.Add(time.Duration(r.Int64N(int64(time.Second))))
		case 1:
			ts = ts.Add(time.Duration(r.Int64N(1000)))
		case 2:
			ts = ts.Truncate(time.Millisecond * time.Duration(1+r.IntN(1000)))
		case 3:
			ts = ts.Add(time.Duration(r.Int64N(int64(48 * time.Hour))))
		}
		tz := ts.In(zones[(i/7)%len(zones)])
		require.Equal(t, tz.Format(time.RFC3339Nano), string(s.append(nil, tz)), "%v", tz)
	}
}
