"""IR-independent writers of other runtimes' model formats (the reverse of edgert.importers).

edgert.exporters.tflite writes .tflite flatbuffers (TFLiteBuilder) and converts ONNX models to
them (onnx_to_tflite), so edgert can be checked and benchmarked against LiteRT on the same network
without TensorFlow.
"""
