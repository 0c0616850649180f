"""The throughput benchmark behind ``choreographer bench`` (see README "Performance").

One run measures, against moto's server on a loopback port: the real worker
process with the default settings, the seed's original polling pattern, and a
plain batched boto3 loop doing the same queue work (the transport ceiling); and,
with no I/O at all, the in-process pipeline and where its time goes.
"""
