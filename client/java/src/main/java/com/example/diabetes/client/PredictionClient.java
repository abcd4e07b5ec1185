package com.example.diabetes.client;

import com.example.diabetes.client.Results.BatchPrediction;
import com.example.diabetes.client.Results.FeatureInfo;
import com.example.diabetes.client.Results.ModelInfo;
import com.example.diabetes.client.Results.Prediction;
import com.example.diabetes.client.Results.ServedModel;
import com.example.diabetes.client.Results.ServiceLimits;
import com.example.diabetes.v1.FeatureColumns;
import com.example.diabetes.v1.GetModelInfoRequest;
import com.example.diabetes.v1.GetModelInfoResponse;
import com.example.diabetes.v1.PredictBatchRequest;
import com.example.diabetes.v1.PredictBatchResponse;
import com.example.diabetes.v1.PredictRequest;
import com.example.diabetes.v1.PredictResponse;
import com.example.diabetes.v1.PredictionServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContext;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import java.io.File;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * A client of the diabetes prediction service (diabetes.v1.PredictionService): one record,
 * many records (as records or as feature columns), the model's description and the server's
 * health; with model and version selection, a bearer token, TLS and a deadline per call.
 * Failed calls throw a {@link PredictionException}. Thread-safe; close it when done.
 */
public final class PredictionClient implements AutoCloseable {
  /** The prediction service's full name (the health check's default service). */
  public static final String SERVICE = "diabetes.v1.PredictionService";

  /** The features the contract can carry, in its order (a model reads some of them). */
  public static final List<String> FEATURES =
      List.of("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6");

  /** The server's default limit of records per PredictBatch call. */
  public static final int DEFAULT_MAX_RECORDS_PER_CALL = 100_000;

  // Replies are chunked by the server, but a server may be configured with bigger chunks
  // than gRPC's default 4 MiB limit allows.
  private static final int MAX_RECEIVE_MESSAGE_BYTES = 64 << 20;

  private final ManagedChannel channel;
  private final PredictionServiceGrpc.PredictionServiceBlockingStub stub;
  private final HealthGrpc.HealthBlockingStub health;
  private final Builder options;

  /** Options for a client of the service at target (host:port). */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /** Everything a client can be configured with; build() opens the channel. */
  public static final class Builder {
    private final String target;
    private String token;
    private boolean tls;
    private File caFile;
    private String serverName;
    private String model = "";
    private String version = "";
    private Duration timeout = Duration.ofSeconds(30);
    private int maxRecordsPerCall = DEFAULT_MAX_RECORDS_PER_CALL;

    private Builder(String target) {
      this.target = target;
    }

    /** A bearer token (JWT) sent with every call; null or "" sends none. */
    public Builder token(String token) {
      this.token = token == null || token.isEmpty() ? null : token.strip();
      if (this.token != null && (this.token.isEmpty() || this.token.matches(".*\\s.*"))) {
        throw new IllegalArgumentException(
            "the token must be one non-empty word (the JWT itself, no 'Bearer ')");
      }
      return this;
    }

    /** TLS: caFile (PEM) the authorities to trust (null: the system's); serverName the name
     * the certificate must carry when not the target's host (null: the host). */
    public Builder tls(boolean tls, File caFile, String serverName) {
      this.tls = tls || caFile != null;
      this.caFile = caFile;
      this.serverName = serverName;
      return this;
    }

    /** The model (info() lists them) and version or label (stable, canary); "" = default. */
    public Builder model(String model, String version) {
      this.model = model == null ? "" : model;
      this.version = version == null ? "" : version;
      return this;
    }

    /** Each call's deadline (default 30 s). */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /** Larger inputs are split into calls of this many records. */
    public Builder maxRecordsPerCall(int records) {
      if (records < 1) {
        throw new IllegalArgumentException(
            "max_records_per_call must be at least 1, got " + records);
      }
      this.maxRecordsPerCall = records;
      return this;
    }

    public PredictionClient build() throws IOException {
      return new PredictionClient(this);
    }
  }

  private PredictionClient(Builder options) throws IOException {
    this.options = options;
    NettyChannelBuilder builder =
        NettyChannelBuilder.forTarget(options.target)
            .maxInboundMessageSize(MAX_RECEIVE_MESSAGE_BYTES);
    if (options.tls) {
      builder.sslContext(sslContext(options.caFile));
      if (options.serverName != null && !options.serverName.isEmpty()) {
        builder.overrideAuthority(options.serverName);
      }
    } else {
      builder.usePlaintext();
    }
    if (options.token != null) {
      Metadata headers = new Metadata();
      headers.put(
          Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
          "Bearer " + options.token);
      builder.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    this.channel = builder.build();
    this.stub = PredictionServiceGrpc.newBlockingStub(channel);
    this.health = HealthGrpc.newBlockingStub(channel);
  }

  private static SslContext sslContext(File caFile) throws SSLException {
    try {
      return GrpcSslContexts.forClient().trustManager(caFile).build();
    } catch (UnsupportedOperationException noAlpn) {
      return DebianNettyAlpn.clientContext(caFile);
    }
  }

  public int maxRecordsPerCall() {
    return options.maxRecordsPerCall;
  }

  private <S extends AbstractStub<S>> S withDeadline(S stub) {
    return stub.withDeadlineAfter(options.timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Predicts one record (feature name to value, e.g. {"bmi": 0.0617}). */
  public Prediction predict(Map<String, Double> record) {
    PredictRequest request =
        PredictRequest.newBuilder()
            .setRecord(recordMessage(record, "record"))
            .setModel(options.model)
            .setVersion(options.version)
            .build();
    PredictResponse reply;
    try {
      reply = withDeadline(stub).predict(request);
    } catch (StatusRuntimeException error) {
      throw PredictionException.fromRpc(error, 0);
    }
    return new Prediction(
        reply.getPrediction(),
        reply.getInterval().getLower(),
        reply.getInterval().getUpper(),
        reply.getInterval().getConfidence(),
        reply.getBaseline(),
        reply.getContributionsMap(),
        List.copyOf(reply.getOutOfRangeFeaturesList()),
        reply.getModelVersion(),
        reply.getModelName());
  }

  /** Predicts many records, in input order; intervals adds their prediction intervals. */
  public BatchPrediction predictBatch(List<Map<String, Double>> records, boolean intervals) {
    if (records.isEmpty()) {
      throw new IllegalArgumentException("records is empty: give at least one record");
    }
    var batch = new BatchAssembler(intervals);
    for (int start = 0; start < records.size(); start += options.maxRecordsPerCall) {
      int end = Math.min(start + options.maxRecordsPerCall, records.size());
      PredictBatchRequest.Builder request = batchRequest(intervals);
      for (int i = start; i < end; i++) {
        request.addRecords(recordMessage(records.get(i), "records[" + i + "]"));
      }
      run(batch, request.build(), start, end - start);
    }
    return batch.result();
  }

  /** Predicts many records given as feature columns (compact on the wire). */
  public BatchPrediction predictColumns(Map<String, double[]> columns, boolean intervals) {
    int count = checkColumns(columns);
    var batch = new BatchAssembler(intervals);
    for (int start = 0; start < count; start += options.maxRecordsPerCall) {
      int end = Math.min(start + options.maxRecordsPerCall, count);
      FeatureColumns.Builder part = FeatureColumns.newBuilder();
      for (var column : columns.entrySet()) {
        addColumn(part, column.getKey(), Arrays.copyOfRange(column.getValue(), start, end));
      }
      run(batch, batchRequest(intervals).setColumns(part).build(), start, end - start);
    }
    return batch.result();
  }

  /** Describes the chosen model and the service's limits. */
  public ModelInfo info() {
    GetModelInfoResponse reply;
    try {
      reply =
          withDeadline(stub)
              .getModelInfo(
                  GetModelInfoRequest.newBuilder()
                      .setModel(options.model)
                      .setVersion(options.version)
                      .build());
    } catch (StatusRuntimeException error) {
      throw PredictionException.fromRpc(error, 0);
    }
    List<FeatureInfo> features = new ArrayList<>();
    for (var f : reply.getFeaturesList()) {
      features.add(
          new FeatureInfo(
              f.getName(), f.getCoefficient(), f.getMean(), f.getStd(), f.getMin(), f.getMax()));
    }
    List<ServedModel> models = new ArrayList<>();
    for (var m : reply.getModelsList()) {
      models.add(
          new ServedModel(
              m.getName(),
              List.copyOf(m.getVersionsList()),
              m.getStable(),
              m.getCanary(),
              m.getCanaryPercent(),
              m.getIsDefault()));
    }
    var limits = reply.getLimits();
    return new ModelInfo(
        reply.getName(),
        reply.getVersion(),
        features,
        reply.getIntercept(),
        reply.getBaseline(),
        reply.getMetricsMap(),
        reply.getIntervalConfidence(),
        reply.getCreatedAt(),
        reply.getChecksum(),
        new ServiceLimits(
            limits.getMaxBatchRecords(),
            limits.getBatchChunkRecords(),
            limits.getMaxReceiveMessageBytes()),
        reply.getNTrain(),
        models,
        reply.getUnitsMap());
  }

  /** The server's health for service ("" = the whole server), e.g. "SERVING". */
  public String health(String service) {
    try {
      return withDeadline(health)
          .check(HealthCheckRequest.newBuilder().setService(service).build())
          .getStatus()
          .name();
    } catch (StatusRuntimeException error) {
      throw PredictionException.fromRpc(error, 0);
    }
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private PredictBatchRequest.Builder batchRequest(boolean intervals) {
    return PredictBatchRequest.newBuilder()
        .setIncludeIntervals(intervals)
        .setModel(options.model)
        .setVersion(options.version);
  }

  private void run(BatchAssembler batch, PredictBatchRequest request, int start, int count) {
    batch.expect(count);
    try {
      Iterator<PredictBatchResponse> replies = withDeadline(stub).predictBatch(request);
      while (replies.hasNext()) {
        batch.add(start, count, replies.next());
      }
    } catch (StatusRuntimeException error) {
      throw PredictionException.fromRpc(error, start);
    }
  }

  private static IllegalArgumentException unknownFeature(String where, String name) {
    String shown = name.length() > 64 ? name.substring(0, 64) + "..." : name;
    return new IllegalArgumentException(
        where + ": unknown feature '" + shown + "'; the features are " + String.join(", ", FEATURES));
  }

  // Fully qualified: the contract's Record would collide with java.lang.Record.
  private static com.example.diabetes.v1.Record recordMessage(
      Map<String, Double> record, String where) {
    var message = com.example.diabetes.v1.Record.newBuilder();
    for (var entry : record.entrySet()) {
      if (entry.getValue() == null) {
        throw new IllegalArgumentException(where + "." + entry.getKey() + " must be a number");
      }
      double value = entry.getValue();
      switch (entry.getKey()) {
        case "age" -> message.setAge(value);
        case "sex" -> message.setSex(value);
        case "bmi" -> message.setBmi(value);
        case "bp" -> message.setBp(value);
        case "s1" -> message.setS1(value);
        case "s2" -> message.setS2(value);
        case "s3" -> message.setS3(value);
        case "s4" -> message.setS4(value);
        case "s5" -> message.setS5(value);
        case "s6" -> message.setS6(value);
        default -> throw unknownFeature(where, entry.getKey());
      }
    }
    return message.build();
  }

  private static int checkColumns(Map<String, double[]> columns) {
    int count = 0;
    String longest = "";
    for (var column : columns.entrySet()) {
      if (!FEATURES.contains(column.getKey())) {
        throw unknownFeature("columns", column.getKey());
      }
      if (column.getValue().length > count) {
        count = column.getValue().length;
        longest = column.getKey();
      }
    }
    for (var column : columns.entrySet()) {
      if (column.getValue().length != count) {
        throw new IllegalArgumentException(
            "columns." + column.getKey() + " has " + column.getValue().length
                + " values but columns." + longest + " has " + count
                + "; every column needs one value per record");
      }
    }
    if (count == 0) {
      throw new IllegalArgumentException("columns is empty: give at least one record");
    }
    return count;
  }

  private static void addColumn(FeatureColumns.Builder part, String name, double[] values) {
    List<Double> boxed = Arrays.stream(values).boxed().toList();
    switch (name) {
      case "age" -> part.addAllAge(boxed);
      case "sex" -> part.addAllSex(boxed);
      case "bmi" -> part.addAllBmi(boxed);
      case "bp" -> part.addAllBp(boxed);
      case "s1" -> part.addAllS1(boxed);
      case "s2" -> part.addAllS2(boxed);
      case "s3" -> part.addAllS3(boxed);
      case "s4" -> part.addAllS4(boxed);
      case "s5" -> part.addAllS5(boxed);
      case "s6" -> part.addAllS6(boxed);
      default -> throw unknownFeature("columns", name);
    }
  }

  /** Puts the replies back together in input order and checks each record got exactly one
   * prediction from one model version. */
  private static final class BatchAssembler {
    private final boolean intervals;
    private final List<int[]> starts = new ArrayList<>();
    private final List<PredictBatchResponse> replies = new ArrayList<>();
    private final List<Integer> outOfRange = new ArrayList<>();
    private final Map<String, Integer> versions = new LinkedHashMap<>();
    private String modelName = "";
    private String modelVersion = "";
    private int expected;

    BatchAssembler(boolean intervals) {
      this.intervals = intervals;
    }

    void expect(int count) {
      expected += count;
    }

    void add(int start, int count, PredictBatchResponse reply) {
      int n = reply.getPredictionsCount();
      if (reply.getOffset() < 0 || reply.getOffset() + n > count) {
        throw protocolError(
            "a reply holds records " + reply.getOffset() + ".." + (reply.getOffset() + n - 1)
                + " of a call of " + count + " records");
      }
      if (intervals && !(reply.getLowerCount() == n && reply.getUpperCount() == n)) {
        throw protocolError("a reply lacks the prediction intervals that were asked for");
      }
      starts.add(new int[] {start + reply.getOffset(), replies.size()});
      replies.add(reply);
      for (int i : reply.getOutOfRangeIndicesList()) {
        outOfRange.add(start + i);
      }
      if (versions.isEmpty()) {
        modelName = reply.getModelName();
        modelVersion = reply.getModelVersion();
      }
      versions.putIfAbsent(reply.getModelVersion(), start + reply.getOffset());
    }

    BatchPrediction result() {
      starts.sort((a, b) -> Integer.compare(a[0], b[0]));
      double[] predictions = new double[expected];
      double[] lower = intervals ? new double[expected] : null;
      double[] upper = intervals ? new double[expected] : null;
      int position = 0;
      for (int[] start : starts) {
        var reply = replies.get(start[1]);
        int n = reply.getPredictionsCount();
        if (start[0] != position || position + n > expected) {
          throw protocolError("the replies do not cover record " + position + " exactly once");
        }
        for (int i = 0; i < n; i++) {
          predictions[position + i] = reply.getPredictions(i);
          if (intervals) {
            lower[position + i] = reply.getLower(i);
            upper[position + i] = reply.getUpper(i);
          }
        }
        position += n;
      }
      if (position != expected) {
        throw protocolError("got " + position + " predictions for " + expected + " records");
      }
      if (versions.size() > 1) {
        List<String> changes = new ArrayList<>();
        versions.forEach((version, first) -> changes.add("'" + version + "' from record " + first));
        throw PredictionException.of(
            io.grpc.Status.Code.ABORTED,
            "the served model changed while the input was being predicted ("
                + String.join(", ", changes) + "); predict the input again",
            0);
      }
      int[] indices = outOfRange.stream().mapToInt(Integer::intValue).sorted().toArray();
      return new BatchPrediction(predictions, lower, upper, indices, modelVersion, modelName);
    }

    private static PredictionException protocolError(String message) {
      return PredictionException.of(
          io.grpc.Status.Code.INTERNAL, "unexpected replies from the server: " + message, 0);
    }
  }
}
