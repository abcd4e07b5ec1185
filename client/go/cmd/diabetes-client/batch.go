package main

// `batch FILE`: CSV (a header row of feature names) or JSON-lines records in, read and
// sent as feature columns a call's worth at a time; predictions out as CSV, JSON lines or
// one JSON array, as the Python CLI writes them.

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/ioutil"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"example.com/diabetes/client"
	"google.golang.org/grpc/codes"
)

func runBatch(ctx context.Context, c *client.Client, args *arguments) error {
	source, err := openInput(args.input)
	if err != nil {
		return err
	}
	defer source.Close()
	reader := bufio.NewReaderSize(source, 1<<16)
	if bom, _ := reader.Peek(3); string(bom) == "\xef\xbb\xbf" {
		reader.Discard(3)
	}
	inputFormat := args.inputFormat
	if inputFormat == "" {
		first, _ := reader.Peek(4096)
		inputFormat = inputFormatFor(args.input, string(first))
	}
	outputFormat := args.format
	if outputFormat == "" {
		outputFormat = outputFormatFor(args.output)
	}
	next := csvChunks(reader, c.MaxRecordsPerCall())
	if inputFormat == "jsonl" {
		next = jsonlChunks(reader, c.MaxRecordsPerCall())
	}
	var out strings.Builder
	writer := &resultWriter{sink: &out, format: outputFormat, intervals: args.intervals}
	records := 0
	var versions []string
	var firsts []int
	var name, version string
	sink, finish, err := openOutput(args.output)
	if err != nil {
		return err
	}
	defer func() { finish(false) }()
	for {
		columns, count, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return usagef("%s: %s", display(args.input), err)
		}
		result, err := c.PredictColumns(ctx, columns, args.intervals)
		if err != nil {
			var failed *client.Error
			if errors.As(err, &failed) {
				failed.RecordOffset = records
			}
			return err
		}
		if len(versions) == 0 || versions[len(versions)-1] != result.ModelVersion {
			versions, firsts = append(versions, result.ModelVersion), append(firsts, records)
		}
		name, version = result.ModelName, result.ModelVersion
		writer.write(result)
		if _, err := io.WriteString(sink, out.String()); err != nil {
			return err
		}
		out.Reset()
		records += count
	}
	if records == 0 {
		return usagef("%s: no records", display(args.input))
	}
	if len(versions) > 1 {
		changes := make([]string, len(versions))
		for i := range versions {
			changes[i] = fmt.Sprintf("'%s' from record %d", versions[i], firsts[i])
		}
		return client.NewError(codes.Aborted, fmt.Sprintf(
			"the served model changed during the run (%s); run the batch again", strings.Join(changes, ", ")))
	}
	writer.close()
	if _, err := io.WriteString(sink, out.String()); err != nil {
		return err
	}
	if err := finish(true); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "predicted %d records with %s version %s\n", records, name, version)
	return nil
}

func display(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}

func openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return ioutil.NopCloser(os.Stdin), nil
	}
	file, err := os.Open(name)
	if err != nil {
		return nil, usagef("[Errno 2] No such file or directory: '%s'", quoteArg(name))
	}
	return file, nil
}

// openOutput is stdout, or a file that appears only once the whole batch succeeded
// (finish(true) renames it into place; finish(false) removes it).
func openOutput(name string) (io.Writer, func(bool) error, error) {
	if name == "" || name == "-" {
		out := bufio.NewWriter(os.Stdout)
		return out, func(ok bool) error { return out.Flush() }, nil
	}
	tmp, err := ioutil.TempFile(filepath.Dir(name), "."+filepath.Base(name)+".")
	if err != nil {
		return nil, nil, err
	}
	out := bufio.NewWriter(tmp)
	done := false
	finish := func(ok bool) error {
		if done {
			return nil
		}
		done = true
		if !ok {
			tmp.Close()
			return os.Remove(tmp.Name())
		}
		if err := out.Flush(); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		mask := syscall.Umask(0o022)
		syscall.Umask(mask)
		if err := os.Chmod(tmp.Name(), os.FileMode(0o666&^mask)); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), name)
	}
	return out, finish, nil
}

func inputFormatFor(name, first string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".ndjson"), strings.HasSuffix(lower, ".json"):
		return "jsonl"
	case strings.HasSuffix(lower, ".csv"):
		return "csv"
	case strings.HasPrefix(strings.TrimLeft(first, " \t\r\n"), "{"):
		return "jsonl"
	}
	return "csv"
}

func outputFormatFor(name string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".ndjson"):
		return "jsonl"
	case strings.HasSuffix(lower, ".json"):
		return "json"
	}
	return "csv"
}

// chunkReader returns the next chunk's columns and record count, or io.EOF.
type chunkReader func() (client.Columns, int, error)

func checkNames(names []string, where string) error {
	if len(names) == 0 {
		return fmt.Errorf("%s: no features", where)
	}
	seen := map[string]bool{}
	var unknown []string
	for _, name := range names {
		if !isFeature(name) {
			unknown = append(unknown, "'"+quoteArg(name)+"'")
		}
		seen[name] = true
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%s: unknown feature(s) %s; the features are %s", where,
			strings.Join(unknown, ", "), strings.Join(client.Features, ", "))
	}
	if len(seen) != len(names) {
		return fmt.Errorf("%s: a feature is named twice", where)
	}
	return nil
}

func csvChunks(source io.Reader, chunkRecords int) chunkReader {
	reader := csv.NewReader(source)
	reader.FieldsPerRecord = -1
	reader.ReuseRecord = true
	var names []string
	return func() (client.Columns, int, error) {
		if names == nil {
			header, err := reader.Read()
			if err == io.EOF || (err == nil && strings.TrimSpace(strings.Join(header, "")) == "") {
				return nil, 0, errors.New("line 1: expected a header row of feature names, e.g. bmi,bp")
			}
			if err != nil {
				return nil, 0, fmt.Errorf("line 1: not CSV (%v)", err)
			}
			names = make([]string, len(header))
			for i, name := range header {
				names[i] = strings.TrimSpace(name)
			}
			if err := checkNames(names, "line 1 (the header)"); err != nil {
				return nil, 0, err
			}
		}
		columns := client.Columns{}
		for _, name := range names {
			columns[name] = make([]float64, 0, 1024)
		}
		count := 0
		for count < chunkRecords {
			fields, err := reader.Read()
			if err == io.EOF {
				break
			}
			line, _ := reader.FieldPos(0)
			where := fmt.Sprintf("line %d", line)
			if err != nil {
				return nil, 0, fmt.Errorf("%s: not CSV (%v)", where, err)
			}
			if len(fields) != len(names) {
				return nil, 0, fmt.Errorf("%s: %d values for %d columns", where, len(fields), len(names))
			}
			for i, text := range fields {
				value, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
				if err != nil {
					return nil, 0, fmt.Errorf("%s, column %s: '%s' is not a number", where, names[i], quoteArg(text))
				}
				if math.IsNaN(value) || math.IsInf(value, 0) {
					return nil, 0, fmt.Errorf("%s, column %s: %s is not a finite number", where, names[i], pyFloat(value))
				}
				columns[names[i]] = append(columns[names[i]], value)
			}
			count++
		}
		if count == 0 {
			return nil, 0, io.EOF
		}
		return columns, count, nil
	}
}

func jsonlChunks(source io.Reader, chunkRecords int) chunkReader {
	scanner := bufio.NewScanner(source)
	// One record is a few hundred bytes; a line longer than this is not one.
	scanner.Buffer(make([]byte, 0, 1<<16), 1<<20)
	var names []string
	lineNumber := 0
	return func() (client.Columns, int, error) {
		columns := client.Columns{}
		count := 0
		for count < chunkRecords && scanner.Scan() {
			lineNumber++
			line := scanner.Text()
			if strings.TrimSpace(line) == "" {
				continue
			}
			where := fmt.Sprintf("line %d", lineNumber)
			var record map[string]interface{}
			if err := json.Unmarshal([]byte(line), &record); err != nil || record == nil {
				var syntax *json.SyntaxError
				if errors.As(err, &syntax) {
					return nil, 0, fmt.Errorf("%s: not valid JSON (%v)", where, err)
				}
				return nil, 0, fmt.Errorf(`%s: expected a JSON object of feature values, e.g. {"bmi": 0.06}`, where)
			}
			keys := make([]string, 0, len(record))
			for key := range record {
				keys = append(keys, key)
			}
			sort.Strings(keys)
			if names == nil {
				names = keys
				if err := checkNames(names, where); err != nil {
					return nil, 0, err
				}
			}
			if strings.Join(keys, "\x00") != strings.Join(names, "\x00") {
				return nil, 0, fmt.Errorf("%s: has features %s but line 1 has %s; every record needs the same features",
					where, pyList(keys), pyList(names))
			}
			for _, name := range names {
				value, ok := record[name].(float64)
				if !ok {
					text, _ := json.Marshal(record[name])
					return nil, 0, fmt.Errorf("%s, %s: %s is not a finite number", where, name, quoteArg(string(text)))
				}
				columns[name] = append(columns[name], value)
			}
			count++
		}
		if err := scanner.Err(); err != nil {
			return nil, 0, fmt.Errorf("line %d: %v", lineNumber+1, err)
		}
		if count == 0 {
			return nil, 0, io.EOF
		}
		return columns, count, nil
	}
}

func pyList(names []string) string {
	quoted := make([]string, len(names))
	for i, name := range names {
		quoted[i] = "'" + quoteArg(name) + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// resultWriter writes predictions, chunk after chunk, as the Python CLI's ResultWriter.
type resultWriter struct {
	sink      *strings.Builder
	format    string
	intervals bool
	written   int
}

func (w *resultWriter) write(result *client.BatchPrediction) {
	outOfRange := map[int]bool{}
	for _, i := range result.OutOfRangeIndices {
		outOfRange[i] = true
	}
	fields := []string{"prediction"}
	if w.intervals {
		fields = append(fields, "lower", "upper")
	}
	lines := make([]string, len(result.Predictions))
	for i, prediction := range result.Predictions {
		values := []float64{prediction}
		if w.intervals {
			values = append(values, result.Lower[i], result.Upper[i])
		}
		flag := strconv.FormatBool(outOfRange[i])
		parts := make([]string, len(values))
		if w.format == "csv" {
			for j, v := range values {
				parts[j] = pyFloat(v)
			}
			lines[i] = strings.Join(parts, ",") + "," + flag
		} else {
			for j, v := range values {
				parts[j] = fmt.Sprintf(`"%s": %s`, fields[j], pyFloat(v))
			}
			lines[i] = "{" + strings.Join(parts, ", ") + `, "out_of_range": ` + flag + "}"
		}
	}
	switch w.format {
	case "csv":
		if w.written == 0 {
			w.sink.WriteString(strings.Join(fields, ",") + ",out_of_range\n")
		}
		w.sink.WriteString(strings.Join(lines, "\n") + "\n")
	case "json":
		if w.written == 0 {
			w.sink.WriteString("[\n")
		} else {
			w.sink.WriteString(",\n")
		}
		w.sink.WriteString(strings.Join(lines, ",\n"))
	default:
		w.sink.WriteString(strings.Join(lines, "\n") + "\n")
	}
	w.written += len(result.Predictions)
}

func (w *resultWriter) close() {
	if w.format != "json" {
		return
	}
	if w.written > 0 {
		w.sink.WriteString("\n]\n")
	} else {
		w.sink.WriteString("[]\n")
	}
}
