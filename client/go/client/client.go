// Package client calls the diabetes prediction service (diabetes.v1.PredictionService)
// over gRPC: one record, many records (as records or as feature columns), the model's
// description and the server's health, with model and version selection, a bearer token,
// TLS and a deadline per call. Failed calls return an *Error (see errors.go).
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/ioutil"
	"sort"
	"strings"
	"time"

	pb "example.com/diabetes/gen/go/diabetes/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// Service is the prediction service's full name (the health check's default service).
const Service = "diabetes.v1.PredictionService"

// DefaultMaxRecordsPerCall is the server's default limit of records per PredictBatch call.
const DefaultMaxRecordsPerCall = 100000

// Replies are chunked by the server, but a server may be configured with bigger chunks
// than gRPC's default 4 MiB limit allows.
const maxReceiveMessageBytes = 64 << 20

// Options configure a Client. The zero value (with a Target) is a plaintext channel that
// asks the server's default model, with a 30 s deadline per call.
type Options struct {
	Target string
	// Token: a bearer token (JWT) sent with every call; "" sends none.
	Token string
	// TLS connects over TLS; CAFile (PEM) names the authorities to trust (the system's
	// when ""), ServerName the name the certificate must carry when not the target's host.
	TLS        bool
	CAFile     string
	ServerName string
	// Model and Version choose what answers: a model name (GetModelInfo lists them) and a
	// version or label (stable, canary); "" is the server's default.
	Model   string
	Version string
	// Timeout is each call's deadline (30 s when 0).
	Timeout time.Duration
	// MaxRecordsPerCall splits larger inputs into several calls (DefaultMaxRecordsPerCall
	// when 0).
	MaxRecordsPerCall int
}

// Client is a connection to the service; safe for concurrent use. Close it when done.
type Client struct {
	conn    *grpc.ClientConn
	stub    pb.PredictionServiceClient
	health  healthpb.HealthClient
	options Options
}

// Dial opens a channel to options.Target (it connects on the first call).
func Dial(options Options) (*Client, error) {
	if options.Timeout == 0 {
		options.Timeout = 30 * time.Second
	}
	if options.MaxRecordsPerCall == 0 {
		options.MaxRecordsPerCall = DefaultMaxRecordsPerCall
	}
	if options.MaxRecordsPerCall < 0 {
		return nil, fmt.Errorf("max records per call must be at least 1, got %d", options.MaxRecordsPerCall)
	}
	token := strings.TrimSpace(options.Token)
	if options.Token != "" && (token == "" || strings.ContainsAny(token, " \t\r\n")) {
		return nil, fmt.Errorf("the token must be one non-empty word (the JWT itself, no 'Bearer ')")
	}
	options.Token = token
	transport := grpc.WithInsecure()
	if options.TLS || options.CAFile != "" {
		config := &tls.Config{ServerName: options.ServerName, MinVersion: tls.VersionTLS12}
		if options.CAFile != "" {
			pem, err := ioutil.ReadFile(options.CAFile)
			if err != nil {
				return nil, err
			}
			config.RootCAs = x509.NewCertPool()
			if !config.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no PEM certificate in it", options.CAFile)
			}
		}
		transport = grpc.WithTransportCredentials(credentials.NewTLS(config))
	}
	conn, err := grpc.Dial(options.Target, transport,
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxReceiveMessageBytes)))
	if err != nil {
		return nil, err
	}
	return &Client{
		conn: conn, stub: pb.NewPredictionServiceClient(conn),
		health: healthpb.NewHealthClient(conn), options: options,
	}, nil
}

// Close closes the channel.
func (c *Client) Close() error { return c.conn.Close() }

// MaxRecordsPerCall is the size of the calls a large input is split into.
func (c *Client) MaxRecordsPerCall() int { return c.options.MaxRecordsPerCall }

func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.options.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.options.Token)
	}
	return context.WithTimeout(ctx, c.options.Timeout)
}

// Predict predicts one record, with its interval and explanation.
func (c *Client) Predict(ctx context.Context, record Record) (*Prediction, error) {
	message, err := recordMessage(record, "record")
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	reply, err := c.stub.Predict(ctx, &pb.PredictRequest{
		Record: message, Model: c.options.Model, Version: c.options.Version,
	})
	if err != nil {
		return nil, fromRPC(err, 0)
	}
	return predictionFromReply(reply), nil
}

// PredictBatch predicts many records, in input order; intervals adds their 95% intervals.
func (c *Client) PredictBatch(ctx context.Context, records []Record, intervals bool) (*BatchPrediction, error) {
	if len(records) == 0 {
		return nil, fmt.Errorf("records is empty: give at least one record")
	}
	batch := newAssembler(intervals)
	for start := 0; start < len(records); start += c.options.MaxRecordsPerCall {
		end := min(start+c.options.MaxRecordsPerCall, len(records))
		messages := make([]*pb.Record, 0, end-start)
		for i, record := range records[start:end] {
			message, err := recordMessage(record, fmt.Sprintf("records[%d]", start+i))
			if err != nil {
				return nil, err
			}
			messages = append(messages, message)
		}
		request := c.batchRequest(intervals)
		request.Records = messages
		if err := c.runCall(ctx, batch, request, start, end-start); err != nil {
			return nil, err
		}
	}
	return batch.result()
}

// PredictColumns predicts many records given as feature columns (compact on the wire).
func (c *Client) PredictColumns(ctx context.Context, columns Columns, intervals bool) (*BatchPrediction, error) {
	count, err := checkColumns(columns)
	if err != nil {
		return nil, err
	}
	batch := newAssembler(intervals)
	for start := 0; start < count; start += c.options.MaxRecordsPerCall {
		end := min(start+c.options.MaxRecordsPerCall, count)
		request := c.batchRequest(intervals)
		request.Columns = columnsMessage(columns, start, end)
		if err := c.runCall(ctx, batch, request, start, end-start); err != nil {
			return nil, err
		}
	}
	return batch.result()
}

func (c *Client) batchRequest(intervals bool) *pb.PredictBatchRequest {
	return &pb.PredictBatchRequest{
		IncludeIntervals: intervals, Model: c.options.Model, Version: c.options.Version,
	}
}

func (c *Client) runCall(ctx context.Context, batch *assembler, request *pb.PredictBatchRequest, start, count int) error {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	stream, err := c.stub.PredictBatch(ctx, request)
	if err != nil {
		return fromRPC(err, start)
	}
	batch.expect(count)
	for {
		reply, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fromRPC(err, start)
		}
		if err := batch.add(start, count, reply); err != nil {
			return err
		}
	}
}

// GetModelInfo describes the chosen model and the service's limits.
func (c *Client) GetModelInfo(ctx context.Context) (*ModelInfo, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	reply, err := c.stub.GetModelInfo(ctx, &pb.GetModelInfoRequest{
		Model: c.options.Model, Version: c.options.Version,
	})
	if err != nil {
		return nil, fromRPC(err, 0)
	}
	return modelInfoFromReply(reply), nil
}

// Health is the server's health for service ("" = the whole server), e.g. "SERVING".
func (c *Client) Health(ctx context.Context, service string) (string, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	reply, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return "", fromRPC(err, 0)
	}
	return reply.Status.String(), nil
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

type piece struct {
	start                     int
	predictions, lower, upper []float64
}

// assembler puts the replies of every call back together in input order by their offsets
// and checks each record got exactly one prediction from one model version.
type assembler struct {
	intervals  bool
	pieces     []piece
	outOfRange []int
	expected   int
	versions   []string // "name\x00version" of each answering model, in order
	firsts     []int    // the first record each answered
}

func newAssembler(intervals bool) *assembler { return &assembler{intervals: intervals} }

func (a *assembler) expect(count int) { a.expected += count }

func (a *assembler) add(start, count int, reply *pb.PredictBatchResponse) error {
	n := len(reply.Predictions)
	offset := int(reply.Offset)
	if offset < 0 || offset+n > count {
		return protocolError(fmt.Sprintf("a reply holds records %d..%d of a call of %d records", offset, offset+n-1, count))
	}
	if a.intervals && !(len(reply.Lower) == n && len(reply.Upper) == n) {
		return protocolError("a reply lacks the prediction intervals that were asked for")
	}
	a.pieces = append(a.pieces, piece{start + offset, reply.Predictions, reply.Lower, reply.Upper})
	for _, i := range reply.OutOfRangeIndices {
		a.outOfRange = append(a.outOfRange, start+int(i))
	}
	key := reply.ModelName + "\x00" + reply.ModelVersion
	for _, seen := range a.versions {
		if seen == key {
			return nil
		}
	}
	a.versions = append(a.versions, key)
	a.firsts = append(a.firsts, start+offset)
	return nil
}

func (a *assembler) result() (*BatchPrediction, error) {
	sort.Slice(a.pieces, func(i, j int) bool { return a.pieces[i].start < a.pieces[j].start })
	result := &BatchPrediction{Predictions: make([]float64, 0, a.expected)}
	if a.intervals {
		result.Lower = make([]float64, 0, a.expected)
		result.Upper = make([]float64, 0, a.expected)
	}
	for _, p := range a.pieces {
		if p.start != len(result.Predictions) {
			return nil, protocolError(fmt.Sprintf("the replies do not cover record %d exactly once", len(result.Predictions)))
		}
		result.Predictions = append(result.Predictions, p.predictions...)
		if a.intervals {
			result.Lower = append(result.Lower, p.lower...)
			result.Upper = append(result.Upper, p.upper...)
		}
	}
	if len(result.Predictions) != a.expected {
		return nil, protocolError(fmt.Sprintf("got %d predictions for %d records", len(result.Predictions), a.expected))
	}
	if len(a.versions) > 1 {
		changes := make([]string, len(a.versions))
		for i, key := range a.versions {
			changes[i] = fmt.Sprintf("'%s' from record %d", strings.SplitN(key, "\x00", 2)[1], a.firsts[i])
		}
		return nil, NewError(codes.Aborted, "the served model changed while the input was being predicted ("+
			strings.Join(changes, ", ")+"); predict the input again")
	}
	if len(a.versions) == 1 {
		parts := strings.SplitN(a.versions[0], "\x00", 2)
		result.ModelName, result.ModelVersion = parts[0], parts[1]
	}
	sort.Ints(a.outOfRange)
	result.OutOfRangeIndices = a.outOfRange
	if result.OutOfRangeIndices == nil {
		result.OutOfRangeIndices = []int{}
	}
	return result, nil
}

func protocolError(message string) error {
	return NewError(codes.Internal, "unexpected replies from the server: "+message)
}
