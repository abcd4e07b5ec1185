package client

import (
	"fmt"
	"strings"

	pb "example.com/diabetes/gen/go/diabetes/v1"
)

// Features are the features the contract can carry, in its order (a model reads some).
var Features = []string{"age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"}

// Record is one patient's features by name, e.g. Record{"bmi": 0.0617}.
type Record map[string]float64

// Columns are many records as one slice of values per feature, all of one length.
type Columns map[string][]float64

func unknownFeature(where, name string) error {
	return fmt.Errorf("%s: unknown feature %q; the features are %s", where, quote(name),
		strings.Join(Features, ", "))
}

// quote keeps at most a short window of what the caller gave.
func quote(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func recordMessage(record Record, where string) (*pb.Record, error) {
	message := &pb.Record{}
	for name, value := range record {
		v := value
		switch name {
		case "age":
			message.Age = &v
		case "sex":
			message.Sex = &v
		case "bmi":
			message.Bmi = &v
		case "bp":
			message.Bp = &v
		case "s1":
			message.S1 = &v
		case "s2":
			message.S2 = &v
		case "s3":
			message.S3 = &v
		case "s4":
			message.S4 = &v
		case "s5":
			message.S5 = &v
		case "s6":
			message.S6 = &v
		default:
			return nil, unknownFeature(where, name)
		}
	}
	return message, nil
}

// checkColumns returns the number of records in columns, or an error naming the column
// that is unknown or of the wrong length.
func checkColumns(columns Columns) (int, error) {
	count, longest := 0, ""
	for _, name := range Features {
		if n := len(columns[name]); n > count {
			count, longest = n, name
		}
	}
	for name, values := range columns {
		if !isFeature(name) {
			return 0, unknownFeature("columns", name)
		}
		if len(values) != count {
			return 0, fmt.Errorf("columns.%s has %d values but columns.%s has %d; every column "+
				"needs one value per record", name, len(values), longest, count)
		}
	}
	if count == 0 {
		return 0, fmt.Errorf("columns is empty: give at least one record")
	}
	return count, nil
}

func isFeature(name string) bool {
	for _, feature := range Features {
		if feature == name {
			return true
		}
	}
	return false
}

func columnsMessage(columns Columns, start, end int) *pb.FeatureColumns {
	part := func(name string) []float64 {
		if values, ok := columns[name]; ok {
			return values[start:end]
		}
		return nil
	}
	return &pb.FeatureColumns{
		Age: part("age"), Sex: part("sex"), Bmi: part("bmi"), Bp: part("bp"),
		S1: part("s1"), S2: part("s2"), S3: part("s3"), S4: part("s4"), S5: part("s5"),
		S6: part("s6"),
	}
}
