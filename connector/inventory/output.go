package inventory

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Sink receives records; Run serializes its calls.
type Sink interface {
	Write(Record) error
}

// SinkFunc is a function as a Sink.
type SinkFunc func(Record) error

// Write calls f.
func (f SinkFunc) Write(r Record) error { return f(r) }

// Writer is a Sink that writes a format to an io.Writer; Close finishes the document
// (the closing bracket of JSON) and flushes, without closing the io.Writer.
type Writer interface {
	Sink
	Close() error
}

// Formats NewWriter knows.
const (
	FormatJSONL = "jsonl" // one JSON object a line
	FormatJSON  = "json"  // one JSON array of the objects
	FormatCSV   = "csv"   // a header line of CSVColumns, then a row a record
)

// Formats lists the output formats.
func Formats() []string { return []string{FormatJSONL, FormatJSON, FormatCSV} }

// NewWriter returns a Writer of format to w.
func NewWriter(w io.Writer, format string) (Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case FormatJSONL, "":
		return &jsonlWriter{w: bw, enc: json.NewEncoder(bw)}, nil
	case FormatJSON:
		return &jsonWriter{w: bw}, nil
	case FormatCSV:
		return &csvWriter{bw: bw, w: csv.NewWriter(bw)}, nil
	}
	return nil, fmt.Errorf("output format %q: use one of %s", format, strings.Join(Formats(), ", "))
}

type jsonlWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func (j *jsonlWriter) Write(r Record) error { return j.enc.Encode(r) }
func (j *jsonlWriter) Close() error         { return j.w.Flush() }

type jsonWriter struct {
	w *bufio.Writer
	n int
}

func (j *jsonWriter) Write(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sep := ",\n"
	if j.n == 0 {
		sep = "[\n"
	}
	j.n++
	if _, err := j.w.WriteString(sep); err != nil {
		return err
	}
	_, err = j.w.Write(b)
	return err
}

func (j *jsonWriter) Close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	if _, err := j.w.WriteString(end); err != nil {
		return err
	}
	return j.w.Flush()
}

// CSVColumns are the CSV header, in order. Lists of names (tags) are space-separated;
// objects and lists of objects (references, labels, annotations, counts) are JSON;
// changeable attributes take four columns; times are RFC 3339 in UTC.
var CSVColumns = []string{
	"kind", "registry", "repository", "tag", "digest",
	"mediaType", "artifactType", "configMediaType", "configDigest", "size", "imageSize",
	"architecture", "os", "createdTime", "lastUpdateTime", "imageCreated",
	"tags", "references", "subject", "baseImageName", "baseImageDigest",
	"deleteEnabled", "writeEnabled", "readEnabled", "listEnabled",
	"manifestCount", "tagCount", "labels", "annotations",
	"name", "resourceId", "subscription", "resourceGroup", "since", "watermark", "complete", "counts",
	"op", "status", "error",
}

type csvWriter struct {
	bw     *bufio.Writer
	w      *csv.Writer
	header bool
}

func (c *csvWriter) Write(r Record) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVColumns); err != nil {
			return err
		}
	}
	return c.w.Write(csvRow(&r))
}

func (c *csvWriter) Close() error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVColumns); err != nil {
			return err
		}
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.bw.Flush()
}

// csvRow is r's row, in CSVColumns order.
func csvRow(r *Record) []string {
	var attrs [4]string
	if a := r.ChangeableAttributes; a != nil {
		attrs = [4]string{strconv.FormatBool(a.DeleteEnabled), strconv.FormatBool(a.WriteEnabled),
			strconv.FormatBool(a.ReadEnabled), strconv.FormatBool(a.ListEnabled)}
	}
	complete := ""
	if r.Complete != nil {
		complete = strconv.FormatBool(*r.Complete)
	}
	return []string{
		string(r.Kind), r.Registry, r.Repository, r.Tag, r.Digest,
		r.MediaType, r.ArtifactType, r.ConfigMediaType, r.ConfigDigest, csvInt(r.Size), csvInt(r.ImageSize),
		r.Architecture, r.OS, csvTime(r.CreatedTime), csvTime(r.LastUpdateTime), csvTime(r.ImageCreated),
		strings.Join(r.Tags, " "), csvJSON(r.References), r.Subject, r.BaseImageName, r.BaseImageDigest,
		attrs[0], attrs[1], attrs[2], attrs[3],
		csvCount(r.ManifestCount), csvCount(r.TagCount), csvJSON(r.Labels), csvJSON(r.Annotations),
		r.Name, r.ResourceID, r.Subscription, r.ResourceGroup, csvTime(r.Since), csvTime(r.Watermark), complete, csvJSON(r.Counts),
		r.Op, csvInt(int64(r.Status)), r.Error,
	}
}

func csvInt(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func csvCount(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// csvJSON is v as JSON, "" when it is empty.
func csvJSON[T any](v T) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" || string(b) == "[]" || string(b) == "{}" {
		return ""
	}
	return string(b)
}
