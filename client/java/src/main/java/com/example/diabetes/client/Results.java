package com.example.diabetes.client;

import java.util.List;
import java.util.Map;

/** What the client returns: plain records and arrays, no protobuf. */
public final class Results {
  private Results() {}

  /**
   * One record's prediction with its interval (confidence: its coverage, e.g. 0.95) and
   * explanation (baseline plus contributions sum to the prediction).
   */
  public record Prediction(
      double prediction,
      double lower,
      double upper,
      double confidence,
      double baseline,
      Map<String, Double> contributions,
      List<String> outOfRangeFeatures,
      String modelVersion,
      String modelName) {}

  /**
   * Many records' predictions in input order; lower and upper are null unless the intervals
   * were asked for. outOfRangeIndices: records with a feature outside the training range.
   */
  public record BatchPrediction(
      double[] predictions,
      double[] lower,
      double[] upper,
      int[] outOfRangeIndices,
      String modelVersion,
      String modelName) {}

  /** One feature's weight (raw input units) and training statistics. */
  public record FeatureInfo(
      String name, double coefficient, double mean, double std, double min, double max) {}

  /** The server's limits on batches and messages. */
  public record ServiceLimits(
      int maxBatchRecords, int batchChunkRecords, int maxReceiveMessageBytes) {}

  /** A model the server serves; canary is "" when there is none. */
  public record ServedModel(
      String name,
      List<String> versions,
      String stable,
      String canary,
      double canaryPercent,
      boolean isDefault) {}

  /** The model being served and the service's limits. */
  public record ModelInfo(
      String name,
      String version,
      List<FeatureInfo> features,
      double intercept,
      double baseline,
      Map<String, Double> metrics,
      double intervalConfidence,
      String createdAt,
      String checksum,
      ServiceLimits limits,
      int nTrain,
      List<ServedModel> models,
      Map<String, String> units) {}
}
