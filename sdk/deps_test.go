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
// sdk/proto (the root deps_test.go checks that). sdk/sdktest, whose
// harnesses are prox's host, also imports internal/pluginhost. Test files
// count too.
func TestSDKImportsNothingElseOfTheModule(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	// The test runs in sdk/: "." is the sdk itself, "./..." adds sdktest.
	// internal/memtrim: a leaf of the module's internal packages that
	// imports nothing of prox, meant for both the host and the SDK.
	for pattern, allowed := range map[string][]string{
		".":     {"sdk", "internal/wire", "internal/memtrim"},
		"./...": {"sdk", "internal/wire", "internal/memtrim", "internal/pluginhost"},
	} {
		module, deps := moduleDeps(t, gobin, pattern)
		if len(deps) == 0 {
			t.Fatalf("%s: no package of the module was listed", pattern)
		}
		for _, path := range deps {
			ok := false
			for _, a := range allowed {
				a = module + "/" + a
				ok = ok || path == a || strings.HasPrefix(path, a+"/") || path == a+".test"
			}
			if !ok {
				t.Errorf("%s depends on %s, a package of %s outside %v", pattern, path, module, allowed)
			}
		}
	}
}

// moduleDeps returns the module of the sdk and the packages of that module
// that the packages of pattern, their tests included, depend on.
func moduleDeps(t *testing.T, gobin, pattern string) (string, []string) {
	t.Helper()
	// -test includes the imports of test files.
	cmd := exec.Command(gobin, "list", "-deps", "-test", "-json=ImportPath,Module,ForTest", pattern)
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
	module := ""
	for _, p := range pkgs {
		if path := strings.Fields(p.ImportPath)[0]; strings.HasSuffix(path, "/sdk") && p.Module != nil {
			module = p.Module.Path
			break
		}
	}
	if module == "" {
		t.Fatal("go list did not report the sdk package and its module")
	}
	var deps []string
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		// "path [path.test]" is a package recompiled for a test.
		deps = append(deps, strings.Fields(p.ImportPath)[0])
	}
	return module, deps
}
