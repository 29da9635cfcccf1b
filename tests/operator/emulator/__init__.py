"""A Kubernetes API emulator for operator tests, built on kmock.

``schema``/``cel``/``crd`` validate objects against a CRD file exactly as the
API server would (structural OpenAPI schema, pruning, CEL rules including
transition rules); ``server`` extends kmock's in-memory API with what kopf
relies on (resourceVersion, uid, generation, creationTimestamp, the status
subresource, merge and JSON patches, watch resumption) and refuses invalid
objects with the API server's 422 ``Status``.
"""
