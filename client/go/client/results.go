package client

import pb "example.com/diabetes/gen/go/diabetes/v1"

// Prediction is one record's prediction with its interval and explanation.
type Prediction struct {
	Prediction float64
	Lower      float64
	Upper      float64
	// Confidence is the coverage of [Lower, Upper], e.g. 0.95.
	Confidence float64
	// Baseline is the prediction at the training means; with Contributions it sums to
	// Prediction.
	Baseline           float64
	Contributions      map[string]float64
	OutOfRangeFeatures []string
	ModelVersion       string
	ModelName          string
}

// BatchPrediction holds many records' predictions in input order. Lower and Upper are set
// when the intervals were asked for; OutOfRangeIndices are the (ascending) indices of
// records with a feature outside the training range.
type BatchPrediction struct {
	Predictions       []float64
	Lower             []float64
	Upper             []float64
	OutOfRangeIndices []int
	ModelVersion      string
	ModelName         string
}

// FeatureInfo is one feature's weight (raw input units) and training statistics.
type FeatureInfo struct {
	Name                             string
	Coefficient, Mean, Std, Min, Max float64
}

// ServiceLimits are the server's limits on batches and messages.
type ServiceLimits struct {
	MaxBatchRecords        int
	BatchChunkRecords      int
	MaxReceiveMessageBytes int
}

// ServedModel is a model the server serves: its versions and labels.
type ServedModel struct {
	Name     string
	Versions []string
	Stable   string
	// Canary is "" when there is none; CanaryPercent of the calls naming no version go to it.
	Canary        string
	CanaryPercent float64
	IsDefault     bool
}

// ModelInfo describes the model being served and the service's limits.
type ModelInfo struct {
	Name               string
	Version            string
	Features           []FeatureInfo
	Intercept          float64
	Baseline           float64
	Metrics            map[string]float64
	IntervalConfidence float64
	CreatedAt          string
	Checksum           string
	Limits             ServiceLimits
	NTrain             int
	Models             []ServedModel
	// Units: each feature's unit, e.g. "kg/m2" or "scaled".
	Units map[string]string
}

func predictionFromReply(reply *pb.PredictResponse) *Prediction {
	interval := reply.GetInterval()
	outOfRange := reply.OutOfRangeFeatures
	if outOfRange == nil {
		outOfRange = []string{}
	}
	contributions := reply.Contributions
	if contributions == nil {
		contributions = map[string]float64{}
	}
	return &Prediction{
		Prediction: reply.Prediction, Lower: interval.GetLower(), Upper: interval.GetUpper(),
		Confidence: interval.GetConfidence(), Baseline: reply.Baseline,
		Contributions: contributions, OutOfRangeFeatures: outOfRange,
		ModelVersion: reply.ModelVersion, ModelName: reply.ModelName,
	}
}

func modelInfoFromReply(reply *pb.GetModelInfoResponse) *ModelInfo {
	info := &ModelInfo{
		Name: reply.Name, Version: reply.Version, Intercept: reply.Intercept,
		Baseline: reply.Baseline, Metrics: reply.Metrics, IntervalConfidence: reply.IntervalConfidence,
		CreatedAt: reply.CreatedAt, Checksum: reply.Checksum, NTrain: int(reply.NTrain),
		Units:    reply.Units,
		Features: []FeatureInfo{}, Models: []ServedModel{},
		Limits: ServiceLimits{
			MaxBatchRecords:        int(reply.GetLimits().GetMaxBatchRecords()),
			BatchChunkRecords:      int(reply.GetLimits().GetBatchChunkRecords()),
			MaxReceiveMessageBytes: int(reply.GetLimits().GetMaxReceiveMessageBytes()),
		},
	}
	if info.Metrics == nil {
		info.Metrics = map[string]float64{}
	}
	if info.Units == nil {
		info.Units = map[string]string{}
	}
	for _, f := range reply.Features {
		info.Features = append(info.Features, FeatureInfo{f.Name, f.Coefficient, f.Mean, f.Std, f.Min, f.Max})
	}
	for _, m := range reply.Models {
		versions := m.Versions
		if versions == nil {
			versions = []string{}
		}
		info.Models = append(info.Models, ServedModel{
			Name: m.Name, Versions: versions, Stable: m.Stable, Canary: m.Canary,
			CanaryPercent: m.CanaryPercent, IsDefault: m.IsDefault,
		})
	}
	return info
}
