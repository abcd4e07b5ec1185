"""The service's faces, each decode -> core (`server.inference`) -> encode, and none
importing another: the typed gRPC `PredictionService` (`prediction_service`), the JSON lane
(`json_lane`), and the Open Inference Protocol over gRPC (`oip_grpc`) and REST (`oip_rest`),
which share their tensor decoding (`oip_tensors`)."""
