"""The benchmark (``make bench``, ``python -m benchmarks``; see docs/performance.rst).

One run measures, against moto's server on a loopback port, the real worker
process with its default settings in production mode and the plain batched boto3
loop a user would write instead (the ceiling, ``benchmarks.ceiling``), under a
steady stream and draining a backlog; and, with no I/O at all, the in-process
pipeline. ``benchmarks.redaction`` times redaction on hostile megabyte inputs.
It is not part of the package: it runs from a checkout.
"""
