// Package archtest keeps the architecture true: every package documents what it owns and
// imports only in the allowed direction (see the README's "Packages" section).
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cerulean-registry/cerulean"

type pkg struct {
	ImportPath string
	Name       string
	Doc        string
	Imports    []string
	GoFiles    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func TestEveryPackageIsDocumented(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles) > 0 && p.Name != "main" && strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package doc comment saying what it owns", p.ImportPath)
		}
	}
}

// forbidden lists, per package prefix, imports it must not have. Storage and grammar never
// speak HTTP; nothing but cmd wires the server; nothing imports cmd.
var forbidden = []struct {
	prefix  string
	imports []string
}{
	{module + "/oci", []string{"net/http", module + "/storage", module + "/registry", module + "/server"}},
	{module + "/storage", []string{"net/http", module + "/registry", module + "/server"}},
	{module + "/registry", []string{module + "/server", module + "/cmd"}},
	{module + "/observe", []string{module + "/"}},
	{module + "/access", []string{"net/http", module + "/storage", module + "/registry", module + "/server"}},
	{module + "/signing", []string{"net/http", module + "/registry", module + "/identity", module + "/auth", module + "/management"}},
	{module + "/identity", []string{module + "/registry", module + "/auth", module + "/management"}},
	{module + "/management", []string{module + "/registry", module + "/auth", module + "/identity"}},
	{module + "/auth", []string{module + "/registry", module + "/management"}},
	// The connector is the public client library: it speaks to any ACR over HTTP and
	// imports no server package.
	{module + "/connector", []string{module + "/server", module + "/registry", module + "/auth", module + "/identity",
		module + "/management", module + "/storage", module + "/access"}},
	// The client verbs of both planes share cliconn; it knows neither plane.
	{module + "/internal/cliconn", []string{module + "/identity", module + "/management", module + "/server"}},
	{module + "/internal/guid", []string{module + "/"}},
}

func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/cmd") {
				t.Errorf("%s imports %s: nothing imports cmd", p.ImportPath, imp)
			}
			if strings.HasPrefix(imp, module+"/server") && !strings.HasPrefix(p.ImportPath, module+"/cmd") &&
				!strings.HasPrefix(p.ImportPath, module+"/server") {
				t.Errorf("%s imports %s: only cmd wires the server", p.ImportPath, imp)
			}
			for _, f := range forbidden {
				if !strings.HasPrefix(p.ImportPath, f.prefix) {
					continue
				}
				for _, bad := range f.imports {
					if imp == bad || strings.HasPrefix(imp, bad) && strings.HasPrefix(bad, module) {
						t.Errorf("%s imports %s", p.ImportPath, imp)
					}
				}
			}
		}
	}
}
