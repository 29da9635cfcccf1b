"""A Kubernetes API emulator for operator tests, built on kmock.

- ``crd``, ``schema``, ``cel``: a CRD file read as the API server reads it --
  pruning, the structural OpenAPI schema, CEL rules (transition rules too).
- ``server.ApiServer``: what tests use (start, declare, read, wait).
- ``engine``, ``writes``, ``patches``, ``watches``: how it serves requests --
  uid/resourceVersion/generation/creationTimestamp stamps, the status
  subresource, merge and JSON patches, finalizers, resumable watches with
  ``timeoutSeconds`` and 410 Gone after a compaction.
- ``errors``: field errors and ``Status`` refusals shaped like the API server's.
- ``kmock_fixes``: the one kmock 0.8 parsing bug worked around.
"""
