package client_test

// Against a running server (skipped without DIABETES_TARGET): one record, the records of
// DIABETES_RECORDS (a JSON array) as records and as columns, an unknown model and a bad
// value. DIABETES_RESULTS names a file for what came back, which
// tests/integration/test_go_java_clients.py compares with the Python client's answers.
//
//	DIABETES_TARGET=127.0.0.1:50051 go test ./client

import (
	"context"
	"encoding/json"
	"errors"
	"io/ioutil"
	"math"
	"os"
	"reflect"
	"testing"

	"example.com/diabetes/client"
)

func dial(t *testing.T, model string) *client.Client {
	c, err := client.Dial(client.Options{
		Target: os.Getenv("DIABETES_TARGET"), Token: os.Getenv("DIABETES_TOKEN"),
		CAFile: os.Getenv("DIABETES_TLS_CA"), Model: model,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestAgainstServer(t *testing.T) {
	if os.Getenv("DIABETES_TARGET") == "" {
		t.Skip("DIABETES_TARGET is not set")
	}
	records := []client.Record{{"bmi": 0.0617}, {"bmi": -0.0515}}
	if path := os.Getenv("DIABETES_RECORDS"); path != "" {
		text, err := ioutil.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		records = nil
		if err := json.Unmarshal(text, &records); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	c := dial(t, "")
	results := map[string]interface{}{}

	prediction, err := c.Predict(ctx, records[0])
	if err != nil {
		t.Fatal(err)
	}
	if !(prediction.Lower < prediction.Prediction && prediction.Prediction < prediction.Upper) {
		t.Errorf("the interval [%v, %v] does not hold %v", prediction.Lower, prediction.Upper, prediction.Prediction)
	}
	results["predict"] = prediction.Prediction
	results["model_version"] = prediction.ModelVersion

	byRecords, err := c.PredictBatch(ctx, records, false)
	if err != nil {
		t.Fatal(err)
	}
	columns := client.Columns{}
	for _, record := range records {
		for name, value := range record {
			columns[name] = append(columns[name], value)
		}
	}
	byColumns, err := c.PredictColumns(ctx, columns, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(byRecords.Predictions, byColumns.Predictions) {
		t.Error("records and columns got different predictions")
	}
	if len(byColumns.Lower) != len(records) || len(byColumns.Upper) != len(records) {
		t.Errorf("intervals for %d of %d records", len(byColumns.Lower), len(records))
	}
	results["records"] = byRecords.Predictions
	results["columns"] = byColumns.Predictions
	results["batch_model_version"] = byColumns.ModelVersion

	_, err = dial(t, "no-such-model").Predict(ctx, records[0])
	if !errors.Is(err, client.ErrModelNotFound) {
		t.Errorf("an unknown model: got %v, want ErrModelNotFound", err)
	}
	results["not_found"] = errorText(err)

	_, err = c.Predict(ctx, client.Record{"bmi": math.NaN()})
	if !errors.Is(err, client.ErrInvalidInput) {
		t.Errorf("a NaN: got %v, want ErrInvalidInput", err)
	}
	results["invalid"] = errorText(err)

	info, err := c.GetModelInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results["info_version"] = info.Version
	status, err := c.Health(ctx, client.Service)
	if err != nil {
		t.Fatal(err)
	}
	results["health"] = status

	if path := os.Getenv("DIABETES_RESULTS"); path != "" {
		text, _ := json.Marshal(results)
		if err := ioutil.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
