package container

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/prox-dev/prox/sdk"
)

var _ sdk.ProcessStatter = (*Process)(nil)

// Stats reads the container's CPU time and memory from the engine's stats
// API, one sample (stream=false, one-shot): the CPU time of the whole
// container, and its memory usage less the inactive page cache, as
// `docker stats` shows it. Once the container has exited it is an error.
func (p *Process) Stats(ctx context.Context) (sdk.ProcessStats, error) {
	if isClosed(p.exited) {
		return sdk.ProcessStats{}, fmt.Errorf("container %s has exited", p.name)
	}
	res, err := p.c.ContainerStats(ctx, p.id, client.ContainerStatsOptions{})
	if err != nil {
		return sdk.ProcessStats{}, fmt.Errorf("stats of container %s: %w", p.name, err)
	}
	defer func() { _ = res.Body.Close() }()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return sdk.ProcessStats{}, fmt.Errorf("stats of container %s: %w", p.name, err)
	}
	return statsOf(&s), nil
}

// statsOf turns the engine's answer into Stats.
func statsOf(s *container.StatsResponse) sdk.ProcessStats {
	mem := s.MemoryStats.Usage
	// The page cache the container can give back is not its own: cgroup
	// v2 names it inactive_file, v1 total_inactive_file.
	for _, k := range []string{"inactive_file", "total_inactive_file"} {
		if v, ok := s.MemoryStats.Stats[k]; ok {
			if v < mem {
				mem -= v
			}
			break
		}
	}
	at := s.Read
	if at.IsZero() {
		at = time.Now()
	}
	return sdk.ProcessStats{CPU: time.Duration(s.CPUStats.CPUUsage.TotalUsage), MemoryBytes: mem, Time: at}
}
