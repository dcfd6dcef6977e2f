package sdktest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCollectReadsToTheEnd(t *testing.T) {
	r, w := io.Pipe()
	o := Collect(r)
	_, err := w.Write([]byte("one\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return o.Contains("one") }, 5*time.Second, time.Millisecond)
	select {
	case <-o.Done():
		t.Fatal("done before the writer closed")
	default:
	}
	_, err = w.Write([]byte("two\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	assert.Equal(t, "one\ntwo\n", o.All(t, 5*time.Second))
	assert.NoError(t, o.Err())
}

func TestCollectKeepsTheStreamsError(t *testing.T) {
	boom := errors.New("boom")
	o := Collect(io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom)))
	<-o.Done()
	assert.ErrorIs(t, o.Err(), boom)
	assert.Equal(t, "partial", o.String())
}
