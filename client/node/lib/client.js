'use strict';
// A small Node.js client of diabetes.v1.PredictionService. The contract is loaded at run
// time from protos/ (with the google/api imports from third_party/googleapis), so there
// is no generated code to keep in step with it.

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const PROTO_FILE = 'diabetes/v1/prediction.proto';
const DEFAULT_TARGET = '127.0.0.1:50051';
const DEFAULT_TIMEOUT_MS = 30000;

// Retry calls that fail with UNAVAILABLE (server down or restarting) or RESOURCE_EXHAUSTED (a
// server at capacity, which says when with grpc-retry-pushback-ms), as the Python client does.
const SERVICE_CONFIG = {
  methodConfig: [
    {
      name: [{ service: 'diabetes.v1.PredictionService' }],
      retryPolicy: {
        maxAttempts: 5,
        initialBackoff: '0.1s',
        maxBackoff: '2s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'],
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

// RESOURCE_EXHAUSTED means "too large" only when the message says so (gRPC's "Received
// message larger than max (N vs. M)", Envoy's "Payload Too Large"); otherwise it is a limit
// on load, like Envoy's local rate limiter ("local_rate_limited", also seen as UNAVAILABLE
// where HTTP 429 is mapped to it). The same rules as the Python client's errors.py.
const SIZE_MESSAGE = /larger than max|too large/i;
const RATE_LIMIT_MESSAGE = /rate[ _-]?limit/i;

function reasonOf(code, details) {
  if (code === grpc.status.RESOURCE_EXHAUSTED) {
    return SIZE_MESSAGE.test(details) ? 'MESSAGE_TOO_LARGE' : 'RATE_LIMITED';
  }
  if (code === grpc.status.UNAVAILABLE && RATE_LIMIT_MESSAGE.test(details)) return 'RATE_LIMITED';
  return undefined;
}

// Envoy's own replies (a missing token, a rate limit) can reach gRPC callers with its JSON
// error body as the message, {"code":16,"details":[],"message":"Jwt is missing"}: the
// words are its `message`.
function statusMessage(details) {
  if (!details.startsWith('{')) return details;
  try {
    const body = JSON.parse(details);
    return typeof body?.message === 'string' ? body.message : details;
  } catch {
    return details;
  }
}

class CallError extends Error {
  // A failed call: `code` is the gRPC status (a number), `codeName` its name, `details`
  // the server's message; `reason` is 'RATE_LIMITED' (wait and retry) or
  // 'MESSAGE_TOO_LARGE' (send fewer records per call) when the status says so.
  constructor(error) {
    const codeName = Object.keys(grpc.status).find((key) => grpc.status[key] === error.code);
    const details = statusMessage(error.details ?? '');
    super(`${codeName}: ${details}`);
    this.name = 'CallError';
    this.code = error.code;
    this.codeName = codeName;
    this.details = details;
    this.reason = reasonOf(error.code, details);
  }
}

// The channel's credentials: TLS when `tls` is set or `tlsCa` names a PEM file of the CAs
// to trust (else the system's); plaintext otherwise.
function channelCredentials({ tls = false, tlsCa } = {}) {
  if (!tls && !tlsCa) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tlsCa ? fs.readFileSync(tlsCa) : null);
}

// `token`: sent as `authorization: Bearer <token>` metadata on every call (send it over
// TLS). `tls`, `tlsCa`, `tlsServerName` (the name the server's certificate must carry when
// it is not the target's host): see channelCredentials.
function createClient(target = process.env.DIABETES_TARGET || DEFAULT_TARGET, options = {}) {
  const Service = loadService(options);
  const channelOptions = {
    'grpc.service_config': JSON.stringify(SERVICE_CONFIG),
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  };
  if (options.tlsServerName) channelOptions['grpc.ssl_target_name_override'] = options.tlsServerName;
  const client = new Service(target, channelCredentials(options), channelOptions);
  client.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  client.metadata = bearerMetadata(options.token);
  return client;
}

function bearerMetadata(token) {
  const metadata = new grpc.Metadata();
  if (token === undefined || token === null) return metadata;
  const word = String(token).trim();
  if (!word || /\s/.test(word)) {
    throw new Error("the token must be one non-empty word (the JWT itself, no 'Bearer ')");
  }
  metadata.set('authorization', `Bearer ${word}`);
  return metadata;
}

function deadline(client) {
  return { deadline: new Date(Date.now() + client.timeoutMs) };
}

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, client.metadata.clone(), deadline(client), (error, reply) =>
      error ? reject(new CallError(error)) : resolve(reply),
    );
  });
}

// `model`: a model the server lists (getModelInfo's `models`; '' = its default model);
// `version`: a version of it or a label, 'stable' or 'canary' ('' = the stable version, or
// the canary for its share of calls). One the server does not serve fails with a CallError
// whose codeName is 'NOT_FOUND' and whose details name what is served.

// Predict one record, e.g. {bmi: 0.06}. Resolves to the PredictResponse (with model_name
// and model_version: what answered).
function predict(client, record, { model = '', version = '' } = {}) {
  return unary(client, 'Predict', { record, model, version });
}

// Predict many records: `{records: [{bmi: 0.06}, ...]}` or `{columns: {bmi: [0.06, ...]}}`.
// Resolves to {predictions, lower, upper, modelName, modelVersion, outOfRangeIndices}, in
// input order (the replies are placed by their offsets).
function predictBatch(client, { records, columns, includeIntervals = false, model = '', version = '' }) {
  const request = { include_intervals: includeIntervals, model, version };
  if (columns !== undefined) request.columns = columns;
  else request.records = records;
  return new Promise((resolve, reject) => {
    const result = {
      predictions: [],
      lower: [],
      upper: [],
      modelName: '',
      modelVersion: '',
      outOfRangeIndices: [],
    };
    const call = client.PredictBatch(request, client.metadata.clone(), deadline(client));
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
      result.modelName = reply.model_name;
      result.modelVersion = reply.model_version;
    });
    call.on('error', (error) => reject(new CallError(error)));
    call.on('end', () => {
      result.outOfRangeIndices.sort((a, b) => a - b);
      resolve(result);
    });
  });
}

// A served model (the default, or `model` and `version` as for predict): version,
// features, units, coefficients, metrics, the service's limits, and `models`: every model,
// version and label served.
function getModelInfo(client, { model = '', version = '' } = {}) {
  return unary(client, 'GetModelInfo', { model, version });
}

module.exports = {
  createClient,
  predict,
  predictBatch,
  getModelInfo,
  CallError,
  loadService,
};
