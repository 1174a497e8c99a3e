"""Generated gRPC code for ``proto/streamprocess/v1/ocr.proto`` and ``stt.proto`` (``python -m grpc_tools.protoc``;
a test checks it is current). Do not edit by hand."""
