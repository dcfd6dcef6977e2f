package supervisor

import (
	"context"
	"fmt"

	"github.com/prox-dev/prox/sdk"
)

// ProcessStats reads the CPU time and memory of a running process through
// its runner's Stats (sdk.ProcessStatter): an error wrapping
// ErrNotRunningProcess when it does not run, one wrapping
// sdk.ErrUnimplemented when its runner's processes have no Stats (the
// caller may then read a local process itself), ErrUnknownProcess for a
// name it does not know.
func (s *Manager) ProcessStats(ctx context.Context, name string) (sdk.ProcessStats, error) {
	m, err := s.lookup(name)
	if err != nil {
		return sdk.ProcessStats{}, err
	}
	m.mu.Lock()
	st, state := m.statter, m.snap.State
	m.mu.Unlock()
	if st == nil {
		if state == StateRunning || state == StateStopping {
			return sdk.ProcessStats{}, fmt.Errorf("process %q: %w", name, sdk.ErrUnimplemented)
		}
		return sdk.ProcessStats{}, fmt.Errorf("process %q: %w", name, ErrNotRunningProcess)
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return sdk.ProcessStats{}, fmt.Errorf("process %q: %w", name, err)
	}
	return stats, nil
}
