#!/usr/bin/python3
"""Does ONNX Runtime compute a float16 search in float16, and is that faster on this CPU?

The search part of an exported model (patches [1,784,C] x bank^T [C,M], then the minimum per patch)
in three forms, timed in ONNX Runtime (tests/runtime/run_onnx.js, onnxruntime-node, 2 threads by
default), all in this one run:
  f32       float32 bank, float32 MatMul                         (`patchcore export`)
  f16-store float16 bank + Cast to float32, float32 MatMul       (`patchcore export --fp16`)
  f16       patches Cast to float16, float16 MatMul and ReduceMin, result Cast back
The f16-store form's Cast has a constant input, which ONNX Runtime folds at session creation: it then
runs exactly the f32 graph (same latency); only the file is half the size.

  /usr/bin/python3 bench/f16_search.py [--channels 1536 384] [--rows 10000] [--repeat 20] [--threads 2]
Needs Debian's python3-onnx and python3-numpy, and scripts/install-onnxruntime.sh.
"""
import argparse
import json
import os
import pathlib
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tests" / "runtime" / "run_onnx.js"
PATCHES = 784


def search_model(form, channels, rows, bank):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, PATCHES, channels])
    y = helper.make_tensor_value_info("nearest", TensorProto.FLOAT, [1, PATCHES, 1])
    nodes, init = [], []
    if form == "f32":
        init.append(numpy_helper.from_array(bank, "bank"))
        nodes.append(helper.make_node("MatMul", ["input", "bank"], ["dots"]))
        nodes.append(helper.make_node("ReduceMin", ["dots"], ["nearest"], axes=[2], keepdims=1))
    elif form == "f16-store":
        init.append(numpy_helper.from_array(bank.astype(np.float16), "bank16"))
        nodes.append(helper.make_node("Cast", ["bank16"], ["bank"], to=TensorProto.FLOAT))
        nodes.append(helper.make_node("MatMul", ["input", "bank"], ["dots"]))
        nodes.append(helper.make_node("ReduceMin", ["dots"], ["nearest"], axes=[2], keepdims=1))
    else:
        init.append(numpy_helper.from_array(bank.astype(np.float16), "bank16"))
        nodes.append(helper.make_node("Cast", ["input"], ["input16"], to=TensorProto.FLOAT16))
        nodes.append(helper.make_node("MatMul", ["input16", "bank16"], ["dots"]))
        nodes.append(helper.make_node("ReduceMin", ["dots"], ["nearest16"], axes=[2], keepdims=1))
        nodes.append(helper.make_node("Cast", ["nearest16"], ["nearest"], to=TensorProto.FLOAT))
    graph = helper.make_graph(nodes, f"search_{form}", [x], [y], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def median_ms(model_path, input_path, channels, repeat, threads, work):
    spec = {"model": str(model_path),
            "inputs": [{"name": "input", "file": str(input_path), "type": "float32", "dims": [1, PATCHES, channels]}],
            "output_dir": str(work / "out"), "repeat": repeat, "threads": threads}
    (work / "spec.json").write_text(json.dumps(spec))
    subprocess.run(["node", str(RUNNER), str(work / "spec.json")], check=True)
    report = json.loads((work / "out" / "outputs.json").read_text())
    out = np.fromfile(work / "out" / "nearest.bin", dtype=np.float32)
    return report["latency_ms"]["median"], out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, nargs="+", default=[1536, 384])
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    flags = open("/proc/cpuinfo").read()
    print(f"CPU flags: avx512_fp16={'avx512_fp16' in flags}, f16c={' f16c' in flags}; "
          f"{args.rows} bank rows, {PATCHES} patches, {args.threads} threads")
    print("| channels | f32 ms | f16-store ms (ratio) | f16 compute ms (ratio) | f16 max rel. error of the minimum |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for channels in args.channels:
            bank = np.abs(rng.standard_normal((channels, args.rows))).astype(np.float32)
            patches = np.abs(rng.standard_normal((1, PATCHES, channels))).astype(np.float32)
            patches.tofile(work / "input.bin")
            times, outputs = {}, {}
            for form in ("f32", "f16-store", "f16"):
                path = work / f"{form}.onnx"
                onnx.save(search_model(form, channels, args.rows, bank), str(path))
                times[form], outputs[form] = median_ms(path, work / "input.bin", channels, args.repeat,
                                                      args.threads, work)
            err = float(np.max(np.abs(outputs["f16"] - outputs["f32"]) / np.abs(outputs["f32"])))
            print(f"| {channels} | {times['f32']:.1f} | {times['f16-store']:.1f} "
                  f"({times['f16-store'] / times['f32']:.2f}) | {times['f16']:.1f} ({times['f16'] / times['f32']:.2f}) "
                  f"| {err:.1e} |")
    version = json.loads((ROOT / "tests/runtime/node_modules/onnxruntime-node/package.json").read_text())["version"]
    print(f"(ONNX Runtime {version} from onnxruntime-node)")


if __name__ == "__main__":
    main()
