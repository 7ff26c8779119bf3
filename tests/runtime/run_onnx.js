#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (CPU provider) for the C++ export tests.
//
//   node run_onnx.js SPEC.json
//
// SPEC.json: {
//   "model": "path/to/model.onnx",
//   "inputs": [{"name": "input", "file": "x.bin", "type": "float32", "dims": [1, 3, 64, 64]}],
//   "output_dir": "path/to/folder",        // receives <output name>.bin + outputs.json
//   "repeat": 0,                            // optional: extra timed runs for latency figures
//   "threads": 0,                           // optional: intra-op threads (0 = ORT default)
//   "node_times": false                     // optional: with "repeat", also ORT's profiler: mean
//                                           // kernel time per run of each node (ms)
// }
// Tensor files are raw little-endian data in C order. outputs.json lists the model's
// input and output names (in model order) and, per output, name/type/dims/file, plus
// the latency of the timed runs in milliseconds when "repeat" > 0, and "node_ms" (node name ->
// mean kernel ms over the timed runs) with "node_times". Profiling costs time: the latency of
// a run with "node_times" is not comparable with one without.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const ARRAYS = {
  float32: Float32Array, float16: Uint16Array, int64: BigInt64Array, int32: Int32Array,
  uint8: Uint8Array, int8: Int8Array, bool: Uint8Array,
};

function readTensor(spec) {
  const bytes = fs.readFileSync(spec.file);
  const Type = ARRAYS[spec.type];
  if (!Type) throw new Error(`unsupported input type ${spec.type}`);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const data = new Type(copy.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
  return new ort.Tensor(spec.type, data, spec.dims);
}

// Mean kernel time per run of each node over the last `runs` runs, from ORT's profile file.
function nodeTimes(session, dir, runs) {
  session.endProfiling();
  const file = fs.readdirSync(dir).filter((f) => f.startsWith('profile') && f.endsWith('.json')).sort().pop();
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const starts = events.filter((e) => e.name === 'model_run').map((e) => e.ts).sort((a, b) => a - b);
  const from = starts[starts.length - runs];  // the timed runs, not the first (checked) one
  const sums = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    sums[node] = (sums[node] || 0) + e.dur / 1000 / runs;
  }
  return sums;
}

async function main() {
  if (process.argv.length < 3) throw new Error('usage: node run_onnx.js SPEC.json');
  const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  // Graph optimisation level: spec, else $PATCHCORE_ORT_OPT, else 'all'.
  const level = spec.optimization || process.env.PATCHCORE_ORT_OPT || 'all';
  const options = { executionProviders: ['cpu'], graphOptimizationLevel: level };
  if (spec.threads) options.intraOpNumThreads = spec.threads;
  if (spec.node_times) {
    fs.mkdirSync(spec.output_dir, { recursive: true });
    options.enableProfiling = true;
    options.profileFilePrefix = path.join(spec.output_dir, 'profile');
  }
  const session = await ort.InferenceSession.create(spec.model, options);
  const feeds = {};
  for (const input of spec.inputs) feeds[input.name] = readTensor(input);

  const results = await session.run(feeds);
  fs.mkdirSync(spec.output_dir, { recursive: true });
  const report = { input_names: session.inputNames, output_names: session.outputNames, outputs: [] };
  for (const name of session.outputNames) {
    const tensor = results[name];
    const file = path.join(spec.output_dir, `${name}.bin`);
    const data = tensor.data;
    fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    report.outputs.push({ name, type: tensor.type, dims: tensor.dims, file });
  }
  const repeat = spec.repeat || 0;
  if (repeat > 0) {
    const times = [];
    for (let i = 0; i < repeat; ++i) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    report.latency_ms = { runs: repeat, median: times[Math.floor(times.length / 2)], min: times[0] };
    if (spec.node_times) report.node_ms = nodeTimes(session, spec.output_dir, repeat);
  }
  fs.writeFileSync(path.join(spec.output_dir, 'outputs.json'), JSON.stringify(report, null, 1));
}

main().catch((err) => {
  process.stderr.write(`run_onnx: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
