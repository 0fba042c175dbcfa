package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestRepositoryActions(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
		err  bool
	}{
		{[]string{"samples/*=content/read,metadata/read"}, []string{"repositories/samples/*/content/read", "repositories/samples/*/metadata/read"}, false},
		{[]string{"a=content/write", "b=content/delete"}, []string{"repositories/a/content/write", "repositories/b/content/delete"}, false},
		{[]string{"no-actions="}, nil, true},
		{[]string{"=content/read"}, nil, true},
		{[]string{"content/read"}, nil, true},
	} {
		got, err := repositoryActions(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("repositoryActions(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	o := &output{w: &b, table: true}
	items := []json.RawMessage{
		json.RawMessage(`{"name":"a","properties":{"adminUserEnabled":true,"actions":["x","y"]},"passwords":[{"value":"p1"}],"tags":{"k":"v","a":"b"}}`),
		json.RawMessage(`{"name":"bb","properties":{}}`),
	}
	if err := o.list(items, []column{{"NAME", "name"}, {"ADMIN", "properties.adminUserEnabled"}, {"ACTIONS", "properties.actions"},
		{"PASSWORD", "passwords.0.value"}, {"TAGS", "tags"}, {"MISSING", "passwords.7.value"}}); err != nil {
		t.Fatal(err)
	}
	want := "NAME  ADMIN  ACTIONS  PASSWORD  TAGS     MISSING\n" +
		"----  -----  -------  --------  ----     -------\n" +
		"a     True   x,y      p1        a=b,k=v  \n" +
		"bb                                       \n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestSegmentAfter(t *testing.T) {
	id := "/subscriptions/s/resourcegroups/My-Group/providers/Microsoft.ContainerRegistry/registries/r"
	if got := segmentAfter(id, "resourceGroups"); got != "My-Group" {
		t.Errorf("segmentAfter = %q", got)
	}
}
