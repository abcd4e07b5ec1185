'use strict';
// A small Node.js client of diabetes.v1.PredictionService. The contract is loaded at run
// time from protos/ (with the google/api imports from third_party/googleapis), so there
// is no generated code to keep in step with it.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const PROTO_FILE = 'diabetes/v1/prediction.proto';
const DEFAULT_TARGET = '127.0.0.1:50051';
const DEFAULT_TIMEOUT_MS = 30000;

// Retry calls that fail with UNAVAILABLE (server down or restarting), as the Python client does.
const SERVICE_CONFIG = {
  methodConfig: [
    {
      name: [{ service: 'diabetes.v1.PredictionService' }],
      retryPolicy: {
        maxAttempts: 5,
        initialBackoff: '0.1s',
        maxBackoff: '2s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE'],
      },
    },
  ],
};

function loadService({
  protoRoot = path.join(REPO_ROOT, 'protos'),
  googleapisRoot = path.join(REPO_ROOT, 'third_party', 'googleapis'),
} = {}) {
  const definition = protoLoader.loadSync(PROTO_FILE, {
    includeDirs: [protoRoot, googleapisRoot],
    keepCase: true, // field names as in the contract: model_version, out_of_range_features
    defaults: true, // a prediction of 0 is 0, not a missing field
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).diabetes.v1.PredictionService;
}

class CallError extends Error {
  // A failed call: `code` is the gRPC status (a number), `codeName` its name, `details`
  // the server's message.
  constructor(error) {
    const codeName = Object.keys(grpc.status).find((key) => grpc.status[key] === error.code);
    super(`${codeName}: ${error.details}`);
    this.name = 'CallError';
    this.code = error.code;
    this.codeName = codeName;
    this.details = error.details;
  }
}

function createClient(target = process.env.DIABETES_TARGET || DEFAULT_TARGET, options = {}) {
  const Service = loadService(options);
  const client = new Service(target, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify(SERVICE_CONFIG),
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
  client.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return client;
}

function deadline(client) {
  return { deadline: new Date(Date.now() + client.timeoutMs) };
}

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, deadline(client), (error, reply) =>
      error ? reject(new CallError(error)) : resolve(reply),
    );
  });
}

// Predict one record, e.g. {bmi: 0.06}. Resolves to the PredictResponse.
function predict(client, record) {
  return unary(client, 'Predict', { record });
}

// Predict many records: `{records: [{bmi: 0.06}, ...]}` or `{columns: {bmi: [0.06, ...]}}`.
// Resolves to {predictions, lower, upper, modelVersion, outOfRangeIndices}, in input order
// (the replies are placed by their offsets).
function predictBatch(client, { records, columns, includeIntervals = false }) {
  const request = { include_intervals: includeIntervals };
  if (columns !== undefined) request.columns = columns;
  else request.records = records;
  return new Promise((resolve, reject) => {
    const result = { predictions: [], lower: [], upper: [], modelVersion: '', outOfRangeIndices: [] };
    const call = client.PredictBatch(request, deadline(client));
    call.on('data', (reply) => {
      reply.predictions.forEach((value, i) => {
        result.predictions[reply.offset + i] = value;
      });
      reply.lower.forEach((value, i) => {
        result.lower[reply.offset + i] = value;
      });
      reply.upper.forEach((value, i) => {
        result.upper[reply.offset + i] = value;
      });
      result.outOfRangeIndices.push(...reply.out_of_range_indices);
      result.modelVersion = reply.model_version;
    });
    call.on('error', (error) => reject(new CallError(error)));
    call.on('end', () => {
      result.outOfRangeIndices.sort((a, b) => a - b);
      resolve(result);
    });
  });
}

// The served model: version, features, coefficients, metrics and the service's limits.
function getModelInfo(client) {
  return unary(client, 'GetModelInfo', {});
}

module.exports = { createClient, predict, predictBatch, getModelInfo, CallError, loadService };
