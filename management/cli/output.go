package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// output prints what the server answered: JSON as received (indented), or a table.
type output struct {
	w     io.Writer
	table bool
}

func newOutput(w io.Writer, format string) (*output, error) {
	switch format {
	case "json":
		return &output{w: w}, nil
	case "table":
		return &output{w: w, table: true}, nil
	}
	return nil, fmt.Errorf("--output %q: want json or table", format)
}

// column is a table column: its header and the dotted path of the value in each item
// ("properties.loginServer", "passwords.0.value").
type column struct {
	header, path string
}

// payload returns the body of a captured response.
func payload(resp *http.Response) (json.RawMessage, error) {
	if resp == nil {
		return nil, nil
	}
	return runtime.Payload(resp)
}

// values returns the items of an ARM list body.
func values(body json.RawMessage) ([]json.RawMessage, error) {
	var l struct {
		Value []json.RawMessage `json:"value"`
	}
	err := json.Unmarshal(body, &l)
	return l.Value, err
}

// item prints one resource.
func (o *output) item(body json.RawMessage, cols []column) error {
	if o.table {
		return o.rows([]json.RawMessage{body}, cols)
	}
	return o.json(body)
}

// list prints resources as a JSON array or a table.
func (o *output) list(items []json.RawMessage, cols []column) error {
	if o.table {
		return o.rows(items, cols)
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	b, err := json.Marshal(items)
	if err != nil {
		return err
	}
	return o.json(b)
}

func (o *output) json(b []byte) error {
	var buf bytes.Buffer
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := o.w.Write(buf.Bytes())
	return err
}

func (o *output) rows(items []json.RawMessage, cols []column) error {
	tw := tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
	var head, rule []string
	for _, c := range cols {
		head = append(head, c.header)
		rule = append(rule, strings.Repeat("-", len(c.header)))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	fmt.Fprintln(tw, strings.Join(rule, "\t"))
	for _, it := range items {
		var v any
		if err := json.Unmarshal(it, &v); err != nil {
			return err
		}
		var cells []string
		for _, c := range cols {
			cells = append(cells, cell(lookup(v, c.path)))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// lookup follows a dotted path through decoded JSON; numbers index arrays.
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// cell formats a value as the Azure CLI's tables do.
func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case bool:
		if t {
			return "True"
		}
		return "False"
	case string:
		return t
	case map[string]any:
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(t)) {
			kv = append(kv, k+"="+cell(t[k]))
		}
		return strings.Join(kv, ",")
	case []any:
		var s []string
		for _, x := range t {
			s = append(s, cell(x))
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v)
}
