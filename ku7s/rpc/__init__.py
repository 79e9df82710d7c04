"""gRPC stubs generated from proto/ at build time (node.proto, cri.proto). Never edit by hand."""
