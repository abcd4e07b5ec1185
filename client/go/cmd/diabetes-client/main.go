// Command diabetes-client calls the diabetes prediction service over gRPC, with the
// commands, flags, environment variables, JSON output and exit codes of the Python CLI:
//
//	diabetes-client predict --bmi 0.05 --bp 0.02
//	diabetes-client batch records.csv --output predictions.csv
//	diabetes-client health
//	diabetes-client info
//	DIABETES_TOKEN=... diabetes-client --target api.example.com:443 --tls predict --bmi 0.05
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"example.com/diabetes/client"
)

const (
	defaultTarget = "127.0.0.1:50051"
	exitFailed    = 1
	exitUsage     = 2
)

const usage = `usage: diabetes-client [options] COMMAND [options]

Call the diabetes progression prediction service over gRPC.

commands:
  predict --FEATURE VALUE ...   predict one record given as flags; prints JSON
                                (features: age, sex, bmi, bp, s1, s2, s3, s4, s5, s6)
  batch FILE                    predict a CSV or JSON-lines file of records (- = stdin)
        [--input-format csv|jsonl] [--output/-o FILE] [--format csv|jsonl|json]
        [--intervals] [--max-records-per-call N]
  health [--service NAME]       print the server's health; exit 1 unless SERVING
  info                          describe the served model (JSON)

options (before or after the command):
  --target HOST:PORT     server address [DIABETES_TARGET, default 127.0.0.1:50051]
  --timeout SECONDS      seconds per call (default 30)
  --token JWT            bearer token sent with every call [DIABETES_TOKEN; prefer the variable]
  --tls, --no-tls        connect over TLS (on when --tls-ca is given) [DIABETES_TLS=1]
  --tls-ca FILE          PEM file of the CAs to trust; implies --tls [DIABETES_TLS_CA]
  --tls-server-name NAME name the server's certificate must carry [DIABETES_TLS_SERVER_NAME]
  --model NAME           the model to ask (default: the server's default) [DIABETES_MODEL_NAME]
  --version VERSION      a version or label: stable, canary [DIABETES_MODEL_VERSION]
`

// usageError is a mistake in the command line or the input file (exit 2).
type usageError struct{ message string }

func (e usageError) Error() string { return e.message }

func usagef(format string, args ...interface{}) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(argv []string) int {
	args, err := parseArgs(argv)
	if err != nil {
		if errors.Is(err, errHelp) {
			fmt.Print(usage)
			return 0
		}
		fmt.Fprint(os.Stderr, usage)
		printError(err.Error())
		return exitUsage
	}
	code, err := runCommand(args)
	var failed *client.Error
	switch {
	case err == nil:
		return code
	case errors.As(err, &failed):
		printError(fmt.Sprintf("%s [server %s]", failed, args.target))
		return exitFailed
	default:
		printError(err.Error())
		return exitUsage
	}
}

func printError(message string) {
	fmt.Fprintf(os.Stderr, "diabetes-client: error: %s\n", message)
}

func runCommand(args *arguments) (int, error) {
	c, err := client.Dial(client.Options{
		Target: args.target, Token: args.token, TLS: args.tls, CAFile: args.tlsCA,
		ServerName: args.tlsServerName, Model: args.model, Version: args.version,
		Timeout: args.timeout, MaxRecordsPerCall: args.maxRecordsPerCall,
	})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ctx := context.Background()
	switch args.command {
	case "predict":
		if len(args.record) == 0 {
			return 0, usagef("give at least one feature, e.g. --bmi 0.05 (%s)",
				strings.Join(client.Features, ", "))
		}
		prediction, err := c.Predict(ctx, args.record)
		if err != nil {
			return 0, err
		}
		fmt.Println(pyJSON(predictionJSON(prediction)))
	case "info":
		info, err := c.GetModelInfo(ctx)
		if err != nil {
			return 0, err
		}
		fmt.Println(pyJSON(modelInfoJSON(info)))
	case "health":
		status, err := c.Health(ctx, args.service)
		if err != nil {
			return 0, err
		}
		fmt.Println(status)
		if status != "SERVING" {
			return exitFailed, nil
		}
	case "batch":
		return 0, runBatch(ctx, c, args)
	}
	return 0, nil
}

func predictionJSON(p *client.Prediction) object {
	return object{
		{"prediction", p.Prediction}, {"lower", p.Lower}, {"upper", p.Upper},
		{"confidence", p.Confidence}, {"baseline", p.Baseline},
		{"contributions", p.Contributions}, {"out_of_range_features", p.OutOfRangeFeatures},
		{"model_version", p.ModelVersion}, {"model_name", p.ModelName},
	}
}

func modelInfoJSON(info *client.ModelInfo) object {
	features := make([]interface{}, len(info.Features))
	for i, f := range info.Features {
		features[i] = object{
			{"name", f.Name}, {"coefficient", f.Coefficient}, {"mean", f.Mean},
			{"std", f.Std}, {"min", f.Min}, {"max", f.Max},
		}
	}
	models := make([]interface{}, len(info.Models))
	for i, m := range info.Models {
		models[i] = object{
			{"name", m.Name}, {"versions", m.Versions}, {"stable", m.Stable},
			{"canary", m.Canary}, {"canary_percent", m.CanaryPercent}, {"is_default", m.IsDefault},
		}
	}
	return object{
		{"name", info.Name}, {"version", info.Version}, {"features", features},
		{"intercept", info.Intercept}, {"baseline", info.Baseline}, {"metrics", info.Metrics},
		{"interval_confidence", info.IntervalConfidence}, {"created_at", info.CreatedAt},
		{"checksum", info.Checksum},
		{"limits", object{
			{"max_batch_records", info.Limits.MaxBatchRecords},
			{"batch_chunk_records", info.Limits.BatchChunkRecords},
			{"max_receive_message_bytes", info.Limits.MaxReceiveMessageBytes},
		}},
		{"n_train", info.NTrain}, {"models", models}, {"units", info.Units},
	}
}

// arguments is the parsed command line, environment defaults applied.
type arguments struct {
	command                             string
	target, token, tlsCA, tlsServerName string
	model, version                      string
	tls                                 bool
	timeout                             time.Duration
	record                              client.Record
	input, inputFormat, output, format  string
	intervals                           bool
	maxRecordsPerCall                   int
	service                             string
}

var errHelp = errors.New("help")

var commands = map[string]bool{"predict": true, "batch": true, "health": true, "info": true}

var trueWords = map[string]bool{"1": true, "true": true, "yes": true, "on": true}

// parseArgs reads flags before and after the command, in --name VALUE or --name=VALUE form.
func parseArgs(argv []string) (*arguments, error) {
	env := os.Getenv
	args := &arguments{
		target: env("DIABETES_TARGET"), token: env("DIABETES_TOKEN"),
		tls: trueWords[env("DIABETES_TLS")], tlsCA: env("DIABETES_TLS_CA"),
		tlsServerName: env("DIABETES_TLS_SERVER_NAME"), model: env("DIABETES_MODEL_NAME"),
		version: env("DIABETES_MODEL_VERSION"), timeout: 30 * time.Second,
		record: client.Record{}, maxRecordsPerCall: client.DefaultMaxRecordsPerCall,
		service: client.Service,
	}
	if args.target == "" {
		args.target = defaultTarget
	}
	var positionals []string
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		if arg == "-h" || arg == "--help" {
			return nil, errHelp
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" || isNumber(arg) {
			positionals = append(positionals, arg)
			continue
		}
		name, value, hasValue := arg, "", false
		if j := strings.IndexByte(arg, '='); j > 0 {
			name, value, hasValue = arg[:j], arg[j+1:], true
		}
		if name == "-o" {
			name = "--output"
		}
		name = strings.TrimPrefix(name, "--")
		command := ""
		if len(positionals) > 0 {
			command = positionals[0]
		}
		if switchFlag(args, name, command) {
			if hasValue {
				return nil, usagef("argument --%s: ignored explicit argument '%s'", name, quoteArg(value))
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(argv) {
				return nil, usagef("argument --%s: expected one argument", name)
			}
			i++
			value = argv[i]
		}
		if err := valueFlag(args, name, value, command); err != nil {
			return nil, err
		}
	}
	if len(positionals) == 0 {
		return nil, usagef("the following arguments are required: COMMAND")
	}
	args.command = positionals[0]
	if !commands[args.command] {
		return nil, usagef("argument COMMAND: invalid choice: '%s' (choose from 'predict', 'batch', 'health', 'info')",
			quoteArg(args.command))
	}
	rest := positionals[1:]
	if args.command == "batch" {
		if len(rest) == 0 {
			return nil, usagef("the following arguments are required: input")
		}
		args.input, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return nil, usagef("unrecognized arguments: %s", quoteArg(strings.Join(rest, " ")))
	}
	return args, nil
}

func isNumber(arg string) bool {
	_, err := strconv.ParseFloat(arg, 64)
	return err == nil
}

func quoteArg(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// switchFlag sets a flag that takes no value; false if name is not one.
func switchFlag(args *arguments, name, command string) bool {
	switch {
	case name == "tls":
		args.tls = true
	case name == "no-tls":
		args.tls = false
	case name == "intervals" && command == "batch":
		args.intervals = true
	case (name == "progress" || name == "no-progress") && command == "batch":
		// Accepted for the Python CLI's sake; this CLI draws no progress bar.
	default:
		return false
	}
	return true
}

func valueFlag(args *arguments, name, value, command string) error {
	switch name {
	case "target":
		args.target = value
	case "token":
		args.token = value
	case "tls-ca":
		args.tlsCA = value
	case "tls-server-name":
		args.tlsServerName = value
	case "model":
		args.model = value
	case "version":
		args.version = value
	case "timeout":
		seconds, err := strconv.ParseFloat(value, 64)
		if err != nil || seconds <= 0 {
			return usagef("argument --timeout: invalid float value: '%s'", quoteArg(value))
		}
		args.timeout = time.Duration(seconds * float64(time.Second))
	default:
		return commandFlag(args, name, value, command)
	}
	return nil
}

func commandFlag(args *arguments, name, value, command string) error {
	switch {
	case command == "predict" && isFeature(name):
		number, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return usagef("argument --%s: invalid float value: '%s'", name, quoteArg(value))
		}
		args.record[name] = number
	case command == "batch" && name == "input-format":
		if value != "csv" && value != "jsonl" {
			return usagef("argument --input-format: invalid choice: '%s' (choose from 'csv', 'jsonl')", quoteArg(value))
		}
		args.inputFormat = value
	case command == "batch" && name == "output":
		args.output = value
	case command == "batch" && name == "format":
		if value != "csv" && value != "jsonl" && value != "json" {
			return usagef("argument --format: invalid choice: '%s' (choose from 'csv', 'jsonl', 'json')", quoteArg(value))
		}
		args.format = value
	case command == "batch" && name == "max-records-per-call":
		n, err := strconv.Atoi(value)
		if err != nil {
			return usagef("argument --max-records-per-call: invalid int value: '%s'", quoteArg(value))
		}
		if n < 1 {
			return usagef("max_records_per_call must be at least 1, got %d", n)
		}
		args.maxRecordsPerCall = n
	case command == "health" && name == "service":
		args.service = value
	default:
		return usagef("unrecognized arguments: --%s", quoteArg(name))
	}
	return nil
}

func isFeature(name string) bool {
	for _, feature := range client.Features {
		if feature == name {
			return true
		}
	}
	return false
}
