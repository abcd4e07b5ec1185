'use strict';
// Calls Predict, PredictBatch and GetModelInfo on the server at DIABETES_TARGET and checks
// the numbers: each prediction is recomputed here from the served coefficients, in the
// model's feature order (the server's own order of IEEE operations), and must match
// exactly. When DIABETES_NODE_RESULTS names a file, the inputs and predictions are
// written there as JSON for the caller to check against the model artifact too.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { after, before, test } = require('node:test');
const { createClient, predict, predictBatch, getModelInfo, CallError } = require('../lib/client');

const target = process.env.DIABETES_TARGET;
const COUNT = 25000; // more than one reply chunk of the server (10,000 records by default)

let client;
let info;
let inputs; // one record per entry: {feature: value}
const results = {};

// A deterministic pseudo-random generator (mulberry32), so that runs are repeatable.
function generator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expected(record) {
  // Same operations, same order as the server: x0*c0 + x1*c1 + ... + intercept.
  let total = record[info.features[0].name] * info.features[0].coefficient;
  for (const feature of info.features.slice(1)) total += record[feature.name] * feature.coefficient;
  return total + info.intercept;
}

before(async () => {
  assert.ok(target, 'set DIABETES_TARGET to the server address, e.g. 127.0.0.1:50051');
  client = createClient(target);
  info = await getModelInfo(client);
  const random = generator(42);
  inputs = Array.from({ length: COUNT }, () =>
    Object.fromEntries(info.features.map((f) => [f.name, (random() - 0.5) * 0.2])),
  );
});

after(() => {
  client?.close();
  if (process.env.DIABETES_NODE_RESULTS) {
    const document = { features: info.features.map((f) => f.name), inputs, ...results };
    fs.writeFileSync(process.env.DIABETES_NODE_RESULTS, JSON.stringify(document));
  }
});

test('GetModelInfo describes the model', () => {
  assert.ok(info.version.length > 0);
  assert.ok(info.features.length > 0);
  assert.equal(info.limits.batch_chunk_records > 0, true);
});

test('Predict returns the model prediction with its interval', async () => {
  const predictions = [];
  for (const record of inputs.slice(0, 20)) {
    const reply = await predict(client, record);
    assert.equal(reply.prediction, expected(record));
    assert.equal(reply.model_version, info.version);
    assert.equal(reply.model_name, info.name);
    assert.ok(reply.interval.lower < reply.prediction && reply.prediction < reply.interval.upper);
    assert.deepEqual(Object.keys(reply.contributions).sort(), info.features.map((f) => f.name).sort());
    predictions.push(reply.prediction);
  }
  results.predict = predictions;
});

test('PredictBatch with records returns every prediction in order', async () => {
  const batch = await predictBatch(client, { records: inputs, includeIntervals: true });
  assert.equal(batch.predictions.length, COUNT);
  assert.equal(batch.modelVersion, info.version);
  assert.equal(batch.modelName, info.name);
  batch.predictions.forEach((value, i) => assert.equal(value, expected(inputs[i])));
  batch.predictions.forEach((value, i) => assert.ok(batch.lower[i] < value && value < batch.upper[i]));
  results.predictBatch = batch.predictions;
});

test('PredictBatch with columns gives the same answers', async () => {
  const columns = Object.fromEntries(
    info.features.map((f) => [f.name, inputs.map((record) => record[f.name])]),
  );
  const batch = await predictBatch(client, { columns });
  batch.predictions.forEach((value, i) => assert.equal(value, expected(inputs[i])));
  results.predictColumns = batch.predictions;
});

test('a zero is sent as a value, not dropped as a default', async () => {
  const zeros = Object.fromEntries(info.features.map((f) => [f.name, 0]));
  const reply = await predict(client, zeros);
  assert.equal(reply.prediction, expected(zeros));
  const batch = await predictBatch(client, { records: [zeros] });
  assert.deepEqual(batch.predictions, [expected(zeros)]);
});

test('a refused input is an INVALID_ARGUMENT error with the server message', async () => {
  await assert.rejects(predict(client, {}), (error) => {
    assert.ok(error instanceof CallError);
    assert.equal(error.codeName, 'INVALID_ARGUMENT');
    assert.match(error.details, /^record\.\w+ is missing/);
    return true;
  });
});
