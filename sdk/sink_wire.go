package sdk

import (
	"fmt"
	"time"

	"github.com/prox-dev/prox/sdk/proto"
)

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
