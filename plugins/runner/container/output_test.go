package container

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutputPipeDeliversInOrderThenEOF(t *testing.T) {
	p := newOutputPipe()
	c := collect(p)
	var want bytes.Buffer
	for i := range 1000 {
		line := []byte(string(rune('a'+i%26)) + " line\n")
		want.Write(line)
		n, err := p.Write(line)
		require.NoError(t, err)
		require.Equal(t, len(line), n)
	}
	p.closeWithError(nil)
	assert.Equal(t, want.String(), c.all(t))
	n, err := p.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.Equal(t, io.EOF, err, "EOF again")
	_, err = p.Write([]byte("late"))
	assert.ErrorIs(t, err, io.ErrClosedPipe)
}

func TestOutputPipeCloseError(t *testing.T) {
	p := newOutputPipe()
	_, err := p.Write([]byte("partial"))
	require.NoError(t, err)
	boom := errors.New("boom")
	p.closeWithError(boom)
	b := make([]byte, 64)
	n, err := p.Read(b)
	require.NoError(t, err)
	assert.Equal(t, "partial", string(b[:n]), "buffered output comes first")
	_, err = p.Read(b)
	assert.Equal(t, boom, err)
}

func TestOutputPipeBackpressure(t *testing.T) {
	p := newOutputPipe()
	big := bytes.Repeat([]byte("x"), outputBufferSize+10)
	wrote := make(chan error, 1)
	go func() {
		_, err := p.Write(big)
		wrote <- err
	}()
	// The writer fills the buffer, then waits for the reader.
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.buf) == outputBufferSize
	}, waitFor, tick)
	select {
	case err := <-wrote:
		t.Fatalf("a write past the buffer returned without a reader: %v", err)
	default:
	}
	got := make([]byte, 0, len(big))
	b := make([]byte, 64<<10)
	for len(got) < len(big) {
		n, err := p.Read(b)
		require.NoError(t, err)
		got = append(got, b[:n]...)
	}
	select {
	case err := <-wrote:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("the writer was not released by the reader")
	}
	assert.Equal(t, big, got)
}

func TestOutputPipeAbortReleasesWriterAndReader(t *testing.T) {
	p := newOutputPipe()
	wrote := make(chan error, 1)
	go func() {
		_, err := p.Write(bytes.Repeat([]byte("x"), outputBufferSize*2))
		wrote <- err
	}()
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.buf) == outputBufferSize
	}, waitFor, tick)
	p.abort(errOutputDropped)
	select {
	case err := <-wrote:
		assert.ErrorIs(t, err, io.ErrClosedPipe)
	case <-time.After(waitFor):
		t.Fatal("abort did not release the writer")
	}
	_, err := p.Read(make([]byte, 8))
	assert.Equal(t, errOutputDropped, err)
}
