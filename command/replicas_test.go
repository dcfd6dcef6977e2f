package command

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replicated runs two instances of web and one db.
const replicated = `
process "web" {
  replicas = 2
  command  = ["sh", "-c", "echo web $PROX_REPLICA up; exec sleep 600"]
}
process "db" { command = ["sleep", "600"] }
`

// prox ps lists the instances of a process with replicas under a row of
// their process; ps NAME of that process is all its instances; -json
// carries the group.
func TestPsGroupsInstances(t *testing.T) {
	rp := startProx(t, replicated, "web.0", "web.1", "db")
	w0, w1 := rp.waitState(t, "web.0", "running"), rp.waitState(t, "web.1", "running")
	db := rp.waitState(t, "db", "running")

	code, out, errOut := rp.run(t, "ps")
	require.Equal(t, 0, code, errOut)
	rows := lines(out)
	require.Len(t, rows, 5, out)
	assert.Regexp(t, `^web\s+2/2 running\s+-\s+-\s+exec\s+-\s+-\s+-\s+-$`, rows[1])
	assert.Regexp(t, `^  web\.0\s+running\s+-\s+`+strconv.Itoa(w0.PID)+`\s+exec\s`, rows[2])
	assert.Regexp(t, `^  web\.1\s+running\s+-\s+`+strconv.Itoa(w1.PID)+`\s+exec\s`, rows[3])
	assert.Regexp(t, `^db\s+running\s+-\s+`+strconv.Itoa(db.PID)+`\s+exec\s`, rows[4])
	assert.NotEqual(t, w0.PID, w1.PID)

	// The process's name selects its instances; an instance's its own.
	code, out, errOut = rp.run(t, "ps", "web")
	require.Equal(t, 0, code, errOut)
	assert.Len(t, lines(out), 4, out)
	code, out, errOut = rp.run(t, "ps", "web.1")
	require.Equal(t, 0, code, errOut)
	require.Len(t, lines(out), 2, out)
	assert.Regexp(t, `^web\.1\s+running`, lines(out)[1])
	code, _, errOut = rp.run(t, "ps", "web.2")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unknown process "web.2"`)

	code, out, errOut = rp.run(t, "ps", "-json")
	require.Equal(t, 0, code, errOut)
	var got []control.Process
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Len(t, got, 3)
	assert.Equal(t, [][2]string{{"web.0", "web"}, {"web.1", "web"}, {"db", "db"}},
		[][2]string{{got[0].Name, got[0].Group}, {got[1].Name, got[1].Group}, {got[2].Name, got[2].Group}})
}
