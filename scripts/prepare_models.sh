#!/usr/bin/env bash
# Install step, run once (and in CI before the tests): fetch, verify and ONNX-export the offline detector models.
exec wholebody models prepare "$@"
