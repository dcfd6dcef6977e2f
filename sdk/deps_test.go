package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestSDKImportsNothingElseOfTheModule keeps the SDK self-contained: plugin
// authors import it, so it must not pull in prox's own packages (and with
// them prox's dependencies and internals), except internal/wire, the
// transport it shares with the host, which imports nothing of prox but
// sdk/proto (the root deps_test.go checks that). Test files count too.
func TestSDKImportsNothingElseOfTheModule(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	// -test includes the imports of test files; the test runs in sdk/.
	cmd := exec.Command(gobin, "list", "-deps", "-test", "-json=ImportPath,Module,ForTest", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}

	type pkg struct {
		ImportPath string
		Module     *struct{ Path string }
	}
	var module string
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	// The module is the one that holds this very package.
	for _, p := range pkgs {
		if path := strings.Fields(p.ImportPath)[0]; strings.HasSuffix(path, "/sdk") && p.Module != nil {
			module = p.Module.Path
			break
		}
	}
	if module == "" {
		t.Fatal("go list did not report the sdk package and its module")
	}
	sdk := module + "/sdk"
	wire := module + "/internal/wire"

	checked := 0
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		// "path [path.test]" is a package recompiled for a test.
		path := strings.Fields(p.ImportPath)[0]
		checked++
		if path == sdk || strings.HasPrefix(path, sdk+"/") || path == sdk+".test" || path == wire {
			continue
		}
		// A leaf of the module's internal packages that imports nothing of
		// prox, meant for both the host and the SDK.
		if path == module+"/internal/memtrim" {
			continue
		}
		t.Errorf("the sdk depends on %s, a package of %s outside sdk/ and internal/wire", path, module)
	}
	if checked == 0 {
		t.Fatal("no package of the module was listed")
	}
}
