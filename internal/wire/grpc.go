// Package wire is the transport shared by prox's host (internal/pluginhost)
// and its plugins (sdk): the gRPC options and buffer pool of every plugin
// connection, the codec of the sink's Write requests, the shared batch
// region, the descriptor hand-over, and the small protobuf helpers both
// ends of the log path use. It imports no prox package but sdk/proto, so
// that both sides may import it. Plugin authors never use it directly: the
// sdk does, for them.
package wire

import (
	"math/bits"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

// Why prox installs its own gRPC buffer pool:
//
// The log path moves messages of 64 KiB to 1 MiB (output chunks, packed
// batches). gRPC's default pool has tiers of 256 B, 4, 16 and 32 KiB, then
// 1 MiB, and zeroes every buffer it hands out: each such message costs a
// 1 MiB clear on both sides of the connection (in the marshalling, in the
// frames' reassembly, in the unmarshalling), which in the log-throughput
// benchmark (docs/performance.md) was up to two thirds of a plugin's CPU.
// bufferPool has fine tiers (four per octave, so at most a quarter of a
// buffer is unused) and never clears: gRPC writes every byte of a buffer
// before reading it.
//
// The pool must be installed on both ends. In grpc v1.85 (pinned in go.mod,
// and grpcopts_test.go checks these facts):
//   - a client takes it from a dial option (ClientOptions);
//   - a server takes it only from a server option (ServerOptions, through
//     go-plugin's GRPCServer hook in sdk/serve.go): grpc's package-level default
//     server options capture the default pool before any init of ours runs;
//   - the proto codec marshals into, and reassembles received messages in,
//     mem.DefaultBufferPool(), which only SetDefaultBufferPool changes, and
//     only before the process makes any gRPC connection: InstallBufferPool,
//     which sdk.Serve calls when ServeConfig.DefaultBufferPool is set, and
//     a host (prox's loader) before its first dial. Importing the SDK changes
//     nothing: the pool is process-wide, and a third-party plugin that
//     speaks gRPC to other services keeps gRPC's own default unless it
//     asks.

// Pool tiers: from 2^minPoolShift bytes to 2^maxPoolShift bytes, tiersPerOctave per
// power of two. Larger buffers are allocated and left to the GC.
const (
	minPoolShift   = 8  // 256 B
	maxPoolShift   = 24 // 16 MiB, MaxMessageSize
	tiersPerOctave = 4
)

// bufferPool is a gRPC mem.BufferPool with finely spaced size classes that
// does not clear the buffers it returns.
type bufferPool struct {
	sizes []int // ascending tier capacities
	pools []sync.Pool
}

var _ mem.BufferPool = (*bufferPool)(nil)

// newBufferPool returns a pool with tiers from 256 B to 16 MiB.
func newBufferPool() *bufferPool {
	var sizes []int
	for shift := minPoolShift; shift < maxPoolShift; shift++ {
		step := 1 << shift / tiersPerOctave
		for k := range tiersPerOctave {
			sizes = append(sizes, 1<<shift+k*step)
		}
	}
	sizes = append(sizes, 1<<maxPoolShift)
	return &bufferPool{sizes: sizes, pools: make([]sync.Pool, len(sizes))}
}

// tierFor returns the index of the smallest tier of at least size bytes,
// or -1 when size is above the largest.
func (p *bufferPool) tierFor(size int) int {
	if size <= p.sizes[0] {
		return 0
	}
	if size > p.sizes[len(p.sizes)-1] {
		return -1
	}
	// The octave is known from the bit length; a short search inside it.
	shift := bits.Len(uint(size-1)) - 1 // 2^shift < size <= 2^(shift+1)
	i := (shift - minPoolShift) * tiersPerOctave
	for p.sizes[i] < size {
		i++
	}
	return i
}

// Get returns a buffer of length size. Its contents are undefined.
func (p *bufferPool) Get(size int) *[]byte {
	i := p.tierFor(size)
	if i < 0 {
		b := make([]byte, size)
		return &b
	}
	if bp, ok := p.pools[i].Get().(*[]byte); ok {
		*bp = (*bp)[:size]
		return bp
	}
	b := make([]byte, size, p.sizes[i])
	return &b
}

// Put returns a buffer to the tier its capacity fills; buffers smaller than
// the smallest tier or larger than the largest are left to the GC.
func (p *bufferPool) Put(bp *[]byte) {
	c := cap(*bp)
	if c < p.sizes[0] || c > p.sizes[len(p.sizes)-1] {
		return
	}
	// The largest tier not above c: Get reslices up to the tier's size.
	i, found := slices.BinarySearch(p.sizes, c)
	if !found {
		i--
	}
	p.pools[i].Put(bp)
}

// MaxMessageSize is the largest gRPC message either side accepts. Batches
// are kept well below it.
const MaxMessageSize = 16 << 20

// sharedPool serves every gRPC connection of the process, host or plugin.
var sharedPool = newBufferPool()

// BufferPool returns the pool of every prox gRPC connection of the
// process: the one the options below install, and the one the sink's
// codec encodes into and decodes from.
func BufferPool() mem.BufferPool { return sharedPool }

// installPool makes sharedPool gRPC's default once per process.
var installPool sync.Once

// InstallBufferPool makes BufferPool (the one ServerOptions and
// ClientOptions use) gRPC's process-wide default, which the
// proto codec marshals into and reassembles messages in: the log path's
// large messages then skip gRPC's 1 MiB tier and its clearing of every
// buffer. It acts once per process, and must be called before the process
// makes or serves any gRPC connection (gRPC reads the default without a
// lock). sdk.Serve calls it when ServeConfig.DefaultBufferPool is set; a
// host calls it before its first dial. Without it, nothing of the process
// changes.
func InstallBufferPool() {
	installPool.Do(func() { experimental.SetDefaultBufferPool(sharedPool) })
}

// ServerOptions are the options of every plugin's gRPC server: the buffer
// pool, explicit message limits (go-plugin raises only the client's;
// without them a server refuses messages above 4 MiB, and the client sees
// a bare EOF), and the codec that reads sink batches without copying them
// (Codec; the standard proto codec for everything else).
func ServerOptions() []grpc.ServerOption {
	return serverOptionsWith(sharedPool)
}

// Transport sizes of every prox connection, which is local (a unix socket
// or loopback): a log batch of up to 512 KiB travels in one read and a few
// writes, instead of 32 KiB at a time, and never waits for an HTTP/2 window
// update on the way (a fixed window, instead of gRPC's estimate, which
// starts at 64 KiB and grows only with round trips).
const (
	transportBufferSize = 256 << 10
	transportWindowSize = 4 << 20
)

func serverOptionsWith(pool mem.BufferPool) []grpc.ServerOption {
	return []grpc.ServerOption{
		experimental.BufferPool(pool),
		grpc.ReadBufferSize(transportBufferSize),
		grpc.WriteBufferSize(transportBufferSize),
		grpc.InitialWindowSize(transportWindowSize),
		grpc.InitialConnWindowSize(transportWindowSize),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.ForceServerCodecV2(Codec{}),
	}
}

// ClientOptions are the dial options of a host's connection to a plugin
// (go-plugin's ClientConfig.GRPCDialOptions): prox's message limits and its
// buffer pool, whose size classes fit the log path's large messages and
// which does not clear buffers. Plugin servers get the same pool from
// ServerOptions. They change nothing outside the connection: a host that
// wants the pool for the proto codec too calls InstallBufferPool before
// its first dial.
func ClientOptions() []grpc.DialOption {
	return clientOptionsWith(sharedPool)
}

// clientOptionsWith are ClientOptions with pool as the buffer pool.
func clientOptionsWith(pool mem.BufferPool) []grpc.DialOption {
	return []grpc.DialOption{
		experimental.WithBufferPool(pool),
		grpc.WithReadBufferSize(transportBufferSize),
		grpc.WithWriteBufferSize(transportBufferSize),
		grpc.WithInitialWindowSize(transportWindowSize),
		grpc.WithInitialConnWindowSize(transportWindowSize),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
	}
}
