#!/usr/bin/env node
'use strict';
// diabetes-client-node: call the prediction service from the command line.
//   diabetes-client-node predict --bmi 0.05 [--bp=-0.02 ...]   (negative values need the = form)
//   diabetes-client-node batch records.json   (a JSON array of records, or JSON lines; - = stdin)
//   diabetes-client-node info
// Options: --target HOST:PORT (env DIABETES_TARGET, default 127.0.0.1:50051), --timeout SECONDS,
//   --token JWT (env DIABETES_TOKEN; prefer the variable: a flag shows in the process list),
//   --tls (env DIABETES_TLS=1), --tls-ca FILE (env DIABETES_TLS_CA; implies --tls),
//   --tls-server-name NAME (env DIABETES_TLS_SERVER_NAME), --model NAME (env DIABETES_MODEL_NAME),
//   --version VERSION|stable|canary (env DIABETES_MODEL_VERSION): the same as the Python CLI's.

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { createClient, predict, predictBatch, getModelInfo } = require('../lib/client');

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FEATURES = ['age', 'sex', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5', 's6'];

function parseRecords(text) {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed);
  return trimmed
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

async function main(argv) {
  const options = {
    target: { type: 'string' },
    timeout: { type: 'string' },
    intervals: { type: 'boolean' },
    token: { type: 'string' },
    tls: { type: 'boolean' },
    'tls-ca': { type: 'string' },
    'tls-server-name': { type: 'string' },
    model: { type: 'string' },
    version: { type: 'string' },
    ...Object.fromEntries(FEATURES.map((name) => [name, { type: 'string' }])),
  };
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
  const [command, input] = positionals;
  const timeoutMs = values.timeout ? Number(values.timeout) * 1000 : undefined;
  const env = process.env;
  const client = createClient(values.target, {
    timeoutMs,
    token: values.token ?? (env.DIABETES_TOKEN || undefined),
    tls: values.tls ?? TRUE_WORDS.has((env.DIABETES_TLS ?? '').toLowerCase()),
    tlsCa: values['tls-ca'] ?? (env.DIABETES_TLS_CA || undefined),
    tlsServerName: values['tls-server-name'] ?? (env.DIABETES_TLS_SERVER_NAME || undefined),
  });
  const choice = {
    model: values.model ?? (env.DIABETES_MODEL_NAME || ''),
    version: values.version ?? (env.DIABETES_MODEL_VERSION || ''),
  };
  try {
    let result;
    if (command === 'predict') {
      const record = {};
      for (const name of FEATURES) if (values[name] !== undefined) record[name] = Number(values[name]);
      result = await predict(client, record, choice);
    } else if (command === 'batch') {
      const text = fs.readFileSync(input === undefined || input === '-' ? 0 : input, 'utf8');
      result = await predictBatch(client, {
        records: parseRecords(text),
        includeIntervals: Boolean(values.intervals),
        ...choice,
      });
    } else if (command === 'info') {
      result = await getModelInfo(client, choice);
    } else {
      throw new Error('usage: diabetes-client-node predict|batch|info [options]');
    }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`diabetes-client-node: error: ${error.message}\n`);
  process.exitCode = 1;
});
