"""Model runtimes: TFLite (ai-edge-litert), the TF.js graph executor in torch, its ONNX export and
the prepared model files.  Knows nothing of people or parts; nothing is loaded at import.
"""
