package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

// TestKilledPluginThenResendWritesEachLineOnce runs the file sink as a
// real plugin process, as prox does, and has it SIGKILL itself at points
// of a batch: as the Write begins, after writing nothing yet, inside the
// first record, inside a later record, after the last byte (before the
// acknowledgement). prox's sink target then relaunches the plugin, which
// gets the same batch, same Seq, again. Each line is in its file exactly
// once, and no line is cut.
func TestKilledPluginThenResendWritesEachLineOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("launches plugin processes")
	}
	self, err := os.Executable()
	require.NoError(t, err)
	const perBatch = 4500
	for _, layout := range []string{"combined", "per-process"} {
		processes := []string{"api"}
		if layout == "per-process" {
			processes = []string{"api", "web"}
		}
		first := numberedBatch(7001, processes, 0, perBatch)
		killed := numberedBatch(7002, processes, perBatch, 2*perBatch)
		last := numberedBatch(7003, processes, 2*perBatch, 3*perBatch)
		size := batchBytes(killed)
		for _, after := range []int64{-1, 0, 20, size / 2, size} {
			t.Run(fmt.Sprintf("%s/killed after %d of %d bytes", layout, after, size), func(t *testing.T) {
				dir := t.TempDir()
				values := map[string]any{"path": filepath.Join(dir, "all.log"), "process_prefix": false}
				files := []string{filepath.Join(dir, "all.log")}
				if layout == "per-process" {
					values = map[string]any{"path": filepath.Join(dir, "{process}.log")}
					files = []string{filepath.Join(dir, "api.log"), filepath.Join(dir, "web.log")}
				}
				armed := filepath.Join(t.TempDir(), "armed")
				require.NoError(t, os.WriteFile(armed, nil, 0o644))
				l, err := loader.New(loader.Options{
					Self:    self,
					Builtin: func(kind sdk.Kind, name string) bool { return kind == sdk.KindSink && name == Name },
					Env: []string{pluginEnv + "=1", "PATH=" + os.Getenv("PATH"),
						fmt.Sprintf("%s=%d:%d:%s", killEnv, killed.Seq, after, armed)},
				})
				require.NoError(t, err)
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					_ = l.Close(ctx)
				})
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				inst, err := l.Launch(ctx, sdk.KindSink, Name)
				require.NoError(t, err)
				require.NoError(t, inst.Configure(ctx, hostConfig(t, values).Values))
				target := loader.NewSinkTarget(l, inst)
				sink, err := target.Open(ctx)
				require.NoError(t, err)
				require.NoError(t, sink.Write(ctx, first))
				pid := inst.PID()

				require.Error(t, sink.Write(ctx, killed), "the plugin died during the Write")
				require.NoFileExists(t, armed, "the plugin killed itself")
				require.Eventually(t, target.Instance().Exited, 20*time.Second, 10*time.Millisecond)

				// As prox's log manager does: close the failed sink,
				// reopen (relaunch) it and resend the batch.
				_ = sink.Close(ctx)
				sink, err = target.Open(ctx)
				require.NoError(t, err)
				require.NotEqual(t, pid, target.Instance().PID(), "a new plugin process")
				require.NoError(t, sink.Write(ctx, killed))
				require.NoError(t, sink.Write(ctx, last))
				require.NoError(t, sink.Flush(ctx))
				require.NoError(t, sink.Close(ctx))
				requireExactlyOnce(t, processes, files, 3*perBatch)
			})
		}
	}
}
