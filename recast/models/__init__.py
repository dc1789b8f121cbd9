"""Preserved ML models: model cards, TMVA conversion, batched ONNX inference."""
