"""The python-backend model of the development repository: copied as ``<model>/1/model.py`` beside ``model.onnx``,
it runs that ONNX file on onnxruntime (CPU) and serves exactly the names, dtypes and dims of the onnxruntime-backend
repository (the rec ONNX file is already rewritten to output ``indices`` and ``scores``).

It runs inside Triton's python-backend stub, never in the streamprocess package: it imports only numpy, onnxruntime
and the stub's ``triton_python_backend_utils``. Requests the dynamic batcher hands over together are concatenated
along the batch axis (those whose inputs have the same shape) and run as one batch, then split back.

Tensors cross between the stub and numpy through DLPack, not ``as_numpy()``/``Tensor(name, array)``: the stub in
nvidia-pytriton 0.7 is built with a pybind11 that reads numpy 1's array layout, and with numpy 2 it returns outputs of
the right shape but no data (pytriton itself pins numpy < 2 for that reason).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        options = ort.SessionOptions()
        threads = config.get("parameters", {}).get("intra_op_threads", {}).get("string_value", "")
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = [i["name"] for i in config["input"]]
        self.outputs = [o["name"] for o in config["output"]]

    def execute(self, requests: list[Any]) -> list[Any]:
        arrays = [[_to_numpy(pb_utils.get_input_tensor_by_name(r, n)) for n in self.inputs] for r in requests]
        groups: dict[tuple[tuple[int, ...], ...], list[int]] = {}
        for index, inputs in enumerate(arrays):
            groups.setdefault(tuple(a.shape[1:] for a in inputs), []).append(index)
        responses: list[Any] = [None] * len(requests)
        for members in groups.values():
            feed = {
                name: np.concatenate([arrays[m][k] for m in members]) if len(members) > 1 else arrays[members[0]][k]
                for k, name in enumerate(self.inputs)
            }
            try:
                results = self.session.run(self.outputs, feed)
            except Exception as e:  # the model refused these inputs: each request gets the error
                for m in members:
                    responses[m] = pb_utils.InferenceResponse(error=pb_utils.TritonError(f"onnxruntime: {e}"))
                continue
            start = 0
            for m in members:
                size = arrays[m][0].shape[0]
                tensors = [
                    pb_utils.Tensor.from_dlpack(name, np.ascontiguousarray(result[start : start + size]))
                    for name, result in zip(self.outputs, results, strict=True)
                ]
                responses[m] = pb_utils.InferenceResponse(output_tensors=tensors)
                start += size
        return responses


def _to_numpy(tensor: Any) -> np.ndarray:
    """A stub tensor as a numpy array, through DLPack (zero-copy, any numpy >= 1.22)."""
    return np.from_dlpack(tensor)
