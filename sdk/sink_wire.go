package sdk

import (
	"fmt"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
)

// packBatch turns a Batch into its generated wire form (batchCodec writes
// the same bytes without it): one buffer of lines back to
// back with packed lengths, timestamp deltas and process indexes, never a
// message per line.
func packBatch(b *Batch) *proto.WriteRequest {
	req := &proto.WriteRequest{Seq: b.Seq}
	if len(b.Entries) > 0 {
		lb := &proto.LogBatch{
			TsDeltas:     make([]int64, len(b.Entries)),
			Lengths:      make([]uint32, len(b.Entries)),
			ProcessIndex: make([]uint32, len(b.Entries)),
			Streams:      make([]byte, len(b.Entries)),
		}
		size := 0
		for i := range b.Entries {
			size += len(b.Entries[i].Line)
		}
		lb.Data = make([]byte, 0, size)
		base := b.Entries[0].Timestamp.UnixNano()
		lb.BaseUnixNano = base
		index := make(map[string]uint32)
		for i := range b.Entries {
			e := &b.Entries[i]
			idx, ok := index[e.Process]
			if !ok {
				idx = uint32(len(lb.Processes))
				index[e.Process] = idx
				lb.Processes = append(lb.Processes, wire.ValidUTF8(e.Process))
			}
			lb.TsDeltas[i] = e.Timestamp.UnixNano() - base
			lb.Lengths[i] = uint32(len(e.Line))
			lb.ProcessIndex[i] = idx
			lb.Streams[i] = byte(e.Stream)
			lb.Data = append(lb.Data, e.Line...)
		}
		req.Logs = lb
	}
	for i := range b.Events {
		req.Events = append(req.Events, eventToProto(&b.Events[i]))
	}
	return req
}

// unpackBatch is the inverse of packBatch. Lines share the request's buffer.
func unpackBatch(req *proto.WriteRequest) (*Batch, error) {
	b := &Batch{Seq: req.Seq}
	if lb := req.Logs; lb != nil {
		n := len(lb.Lengths)
		if len(lb.TsDeltas) != n || len(lb.ProcessIndex) != n || len(lb.Streams) != n {
			return nil, fmt.Errorf("malformed log batch: %d lengths, %d timestamps, %d processes, %d streams",
				n, len(lb.TsDeltas), len(lb.ProcessIndex), len(lb.Streams))
		}
		b.Entries = make([]LogEntry, n)
		off := 0
		for i := 0; i < n; i++ {
			l := int(lb.Lengths[i])
			if off+l > len(lb.Data) {
				return nil, fmt.Errorf("malformed log batch: line %d runs past the data", i)
			}
			pi := int(lb.ProcessIndex[i])
			if pi >= len(lb.Processes) {
				return nil, fmt.Errorf("malformed log batch: process index %d out of range", pi)
			}
			b.Entries[i] = LogEntry{
				Timestamp: time.Unix(0, lb.BaseUnixNano+lb.TsDeltas[i]),
				Process:   lb.Processes[pi],
				Stream:    Stream(lb.Streams[i]),
				Line:      lb.Data[off : off+l : off+l],
			}
			off += l
		}
		if off != len(lb.Data) {
			return nil, fmt.Errorf("malformed log batch: %d bytes of data after the last line", len(lb.Data)-off)
		}
	}
	for _, e := range req.Events {
		b.Events = append(b.Events, eventFromProto(e))
	}
	return b, nil
}
