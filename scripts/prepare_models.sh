#!/usr/bin/env bash
# Install step, run once (and in CI before the tests): fetch, verify and ONNX-export the offline model files (person detectors, BlazePose heavy).
exec wholebody models prepare "$@"
